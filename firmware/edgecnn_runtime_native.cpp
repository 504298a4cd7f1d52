// edgecnn_runtime.h on edgecnn's own C kernels: the generated layer table
// (edgecnn_native_model.c) run in order over one static arena whose offsets the host planned.
// No flatbuffer, no allocation; the arena is exactly the plan's peak.
#include <string.h>

#include "edgecnn_config.h"
#include "edgecnn_native.h"
#include "edgecnn_native_model.h"
#include "edgecnn_runtime.h"

namespace {

// The planned tensors and, where that layer's tensors are not, each layer's kernel scratch.
alignas(16) int8_t arena[EDGECNN_ARENA_BYTES];
static_assert(EDGECNN_ARENA_BYTES >= EDGECNN_NATIVE_PLAN_BYTES, "the arena holds the plan");

EdgecnnTensor describe(int32_t offset, uint32_t bytes, int32_t type, const int32_t* dims,
                       int32_t rank, float scale, int32_t zero_point) {
  EdgecnnTensor t;
  memset(&t, 0, sizeof(t));
  t.data = reinterpret_cast<uint8_t*>(arena + offset);
  t.bytes = bytes;
  t.type = type;
  t.rank = rank < EDGECNN_MAX_RANK ? rank : EDGECNN_MAX_RANK;
  for (int32_t i = 0; i < t.rank; ++i) t.dims[i] = dims[i];
  t.scale = scale;
  t.zero_point = zero_point;
  return t;
}

}  // namespace

const char* edgecnn_runtime_init(void) { return nullptr; }

int edgecnn_runtime_invoke(void) {
  for (int32_t i = 0; i < EDGECNN_NATIVE_LAYER_COUNT; ++i) {
    const EdgecnnNativeLayer& layer = edgecnn_native_layers[i];
    const uint32_t handle = edgecnn_op_begin(layer.name);
    if (layer.invoke) layer.invoke(&layer, arena);
    edgecnn_op_end(handle);
  }
  return 0;
}

EdgecnnTensor edgecnn_runtime_input(void) {
  static const int32_t dims[] = {EDGECNN_NATIVE_INPUT_DIMS};
  return describe(EDGECNN_NATIVE_INPUT_OFFSET, EDGECNN_NATIVE_INPUT_BYTES,
                  EDGECNN_NATIVE_INPUT_TYPE, dims, sizeof(dims) / sizeof(dims[0]),
                  EDGECNN_NATIVE_INPUT_SCALE, EDGECNN_NATIVE_INPUT_ZERO_POINT);
}

EdgecnnTensor edgecnn_runtime_output(void) {
  static const int32_t dims[] = {EDGECNN_NATIVE_OUTPUT_DIMS};
  return describe(EDGECNN_NATIVE_OUTPUT_OFFSET, EDGECNN_NATIVE_OUTPUT_BYTES,
                  EDGECNN_NATIVE_OUTPUT_TYPE, dims, sizeof(dims) / sizeof(dims[0]),
                  EDGECNN_NATIVE_OUTPUT_SCALE, EDGECNN_NATIVE_OUTPUT_ZERO_POINT);
}

uint32_t edgecnn_runtime_arena_allocated(void) { return (uint32_t)sizeof(arena); }

uint32_t edgecnn_runtime_arena_used(void) { return EDGECNN_NATIVE_PLAN_BYTES; }

int edgecnn_runtime_has_op_events(void) { return 1; }
