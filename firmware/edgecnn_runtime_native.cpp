// edgecnn_runtime.h on edgecnn's own C kernels: the generated layer table
// (edgecnn_native_model.c) run in order over one static arena whose offsets the host planned.
// No flatbuffer, no allocation; the arena is exactly the plan's peak.
#include <string.h>

#include "edgecnn_config.h"
#include "edgecnn_kernels.h"
#include "edgecnn_native.h"
#include "edgecnn_native_model.h"
#include "edgecnn_runtime.h"

namespace {

// The planned tensors and, where that layer's tensors are not, each layer's kernel scratch.
alignas(16) int8_t arena[EDGECNN_ARENA_BYTES];
static_assert(EDGECNN_ARENA_BYTES >= EDGECNN_NATIVE_PLAN_BYTES, "the arena holds the plan");

const int8_t* at(int32_t offset) { return arena + offset; }
void* scratch_of(const EdgecnnNativeLayer& l) {
  return l.scratch >= 0 ? static_cast<void*>(arena + l.scratch) : nullptr;
}

EdgecnnTensor describe(int32_t offset, uint32_t bytes, const int32_t* dims, int32_t rank,
                       float scale, int32_t zero_point) {
  EdgecnnTensor t;
  memset(&t, 0, sizeof(t));
  t.data = reinterpret_cast<uint8_t*>(arena + offset);
  t.bytes = bytes;
  t.type = EDGECNN_TYPE_INT8;
  t.rank = rank < EDGECNN_MAX_RANK ? rank : EDGECNN_MAX_RANK;
  for (int32_t i = 0; i < t.rank; ++i) t.dims[i] = dims[i];
  t.scale = scale;
  t.zero_point = zero_point;
  return t;
}

void run(const EdgecnnNativeLayer& l) {
  int8_t* out = arena + l.output;
  switch (l.kernel) {
    case EDGECNN_NATIVE_CONV:
      edgecnn_conv_s8(static_cast<const EdgecnnConvParams*>(l.params), at(l.input1), out,
                      scratch_of(l));
      break;
    case EDGECNN_NATIVE_DEPTHWISE_CONV:
      edgecnn_depthwise_conv_s8(static_cast<const EdgecnnConvParams*>(l.params), at(l.input1), out,
                                scratch_of(l));
      break;
    case EDGECNN_NATIVE_FULLY_CONNECTED:
      edgecnn_fully_connected_s8(static_cast<const EdgecnnFullyConnectedParams*>(l.params),
                                 at(l.input1), out, scratch_of(l));
      break;
    case EDGECNN_NATIVE_AVERAGE_POOL:
      edgecnn_average_pool_s8(static_cast<const EdgecnnPoolParams*>(l.params), at(l.input1), out);
      break;
    case EDGECNN_NATIVE_MAX_POOL:
      edgecnn_max_pool_s8(static_cast<const EdgecnnPoolParams*>(l.params), at(l.input1), out);
      break;
    case EDGECNN_NATIVE_ADD:
      edgecnn_add_s8(static_cast<const EdgecnnAddParams*>(l.params), at(l.input1),
                     l.constant2 ? l.constant2 : at(l.input2), out);
      break;
    case EDGECNN_NATIVE_SOFTMAX:
      edgecnn_softmax_s8(static_cast<const EdgecnnSoftmaxParams*>(l.params), at(l.input1), out);
      break;
    case EDGECNN_NATIVE_MUL:
      edgecnn_mul_s8(static_cast<const EdgecnnMulParams*>(l.params), at(l.input1),
                     l.constant2 ? l.constant2 : at(l.input2), out);
      break;
    case EDGECNN_NATIVE_RESIZE_BILINEAR:
      edgecnn_resize_bilinear_s8(static_cast<const EdgecnnResizeBilinearParams*>(l.params),
                                 at(l.input1), out);
      break;
    case EDGECNN_NATIVE_CONCATENATION:
      edgecnn_concatenation_s8(static_cast<const EdgecnnConcatenationParams*>(l.params), arena,
                               out);
      break;
    case EDGECNN_NATIVE_RELU:
      edgecnn_relu_s8(static_cast<const EdgecnnReluParams*>(l.params), at(l.input1), out);
      break;
    case EDGECNN_NATIVE_PAD:
      edgecnn_pad_s8(static_cast<const EdgecnnPadParams*>(l.params), at(l.input1), out);
      break;
    case EDGECNN_NATIVE_RESHAPE:
      break;  // the planner gave the output its input's bytes
  }
}

}  // namespace

const char* edgecnn_runtime_init(void) { return nullptr; }

int edgecnn_runtime_invoke(void) {
  for (int32_t i = 0; i < EDGECNN_NATIVE_LAYER_COUNT; ++i) {
    const EdgecnnNativeLayer& layer = edgecnn_native_layers[i];
    const uint32_t handle = edgecnn_op_begin(layer.name);
    run(layer);
    edgecnn_op_end(handle);
  }
  return 0;
}

EdgecnnTensor edgecnn_runtime_input(void) {
  static const int32_t dims[] = {EDGECNN_NATIVE_INPUT_DIMS};
  return describe(EDGECNN_NATIVE_INPUT_OFFSET, EDGECNN_NATIVE_INPUT_BYTES, dims,
                  sizeof(dims) / sizeof(dims[0]), EDGECNN_NATIVE_INPUT_SCALE,
                  EDGECNN_NATIVE_INPUT_ZERO_POINT);
}

EdgecnnTensor edgecnn_runtime_output(void) {
  static const int32_t dims[] = {EDGECNN_NATIVE_OUTPUT_DIMS};
  return describe(EDGECNN_NATIVE_OUTPUT_OFFSET, EDGECNN_NATIVE_OUTPUT_BYTES, dims,
                  sizeof(dims) / sizeof(dims[0]), EDGECNN_NATIVE_OUTPUT_SCALE,
                  EDGECNN_NATIVE_OUTPUT_ZERO_POINT);
}

uint32_t edgecnn_runtime_arena_allocated(void) { return (uint32_t)sizeof(arena); }

uint32_t edgecnn_runtime_arena_used(void) { return EDGECNN_NATIVE_PLAN_BYTES; }

int edgecnn_runtime_has_op_events(void) { return 1; }
