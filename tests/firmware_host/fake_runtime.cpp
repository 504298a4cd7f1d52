// A test double of edgecnn_runtime.h for running edgecnn's firmware application on the host:
// not a model. output[i] = int8(input[i % input_bytes] * 3 + i); shapes, scale and zero point
// come from -D flags the test sets from the project's manifest. tests/test_firmware_host.py
// computes the same function in Python.
#include <string.h>

#include "edgecnn_runtime.h"

namespace {
uint8_t input[FAKE_INPUT_BYTES];
uint8_t output[FAKE_OUTPUT_BYTES];
// A [1, bytes] int8 tensor.
EdgecnnTensor describe(uint8_t* data, uint32_t bytes, float scale, int32_t zero_point) {
  EdgecnnTensor t;
  memset(&t, 0, sizeof(t));
  t.data = data;
  t.bytes = bytes;
  t.type = EDGECNN_TYPE_INT8;
  t.rank = 2;
  t.dims[0] = 1;
  t.dims[1] = (int32_t)bytes;
  t.scale = scale;
  t.zero_point = zero_point;
  return t;
}

}  // namespace

const char* edgecnn_runtime_init(void) { return nullptr; }

int edgecnn_runtime_invoke(void) {
  const uint32_t handle = edgecnn_op_begin("FAKE_OP");
  for (uint32_t i = 0; i < FAKE_OUTPUT_BYTES; ++i) {
    output[i] = (uint8_t)(int8_t)(input[i % FAKE_INPUT_BYTES] * 3 + i);
  }
  edgecnn_op_end(handle);
  return 0;
}

EdgecnnTensor edgecnn_runtime_input(void) {
  return describe(input, FAKE_INPUT_BYTES, FAKE_INPUT_SCALE, FAKE_INPUT_ZERO_POINT);
}

EdgecnnTensor edgecnn_runtime_output(void) {
  return describe(output, FAKE_OUTPUT_BYTES, FAKE_OUTPUT_SCALE, FAKE_OUTPUT_ZERO_POINT);
}

uint32_t edgecnn_runtime_arena_allocated(void) { return 4096; }

uint32_t edgecnn_runtime_arena_used(void) { return 1000; }

int edgecnn_runtime_has_op_events(void) { return 1; }
