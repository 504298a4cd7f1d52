// edgecnn's firmware application (see edgecnn_app.h): start-up, the protocol chosen by
// edgecnn_config.h, and what both protocols share (printing, timed invocations, the per-operator
// events the runtime reports).
#include "edgecnn_app.h"

#include <stdarg.h>
#include <stdio.h>

#include "edgecnn_config.h"
#include "edgecnn_platform.h"
#include "edgecnn_runtime.h"
#include "edgecnn_timer.h"
#include "test_vectors.h"

namespace {

// Per-operator events of one profiled inference: one slot per operator of this model.
EdgecnnOpEvent op_events[EDGECNN_OPERATOR_COUNT];
uint32_t op_event_count = 0;
bool profiling = false;

const char* check_tensors() {
  if (edgecnn_runtime_input().bytes != EDGECNN_INPUT_BYTES ||
      edgecnn_runtime_output().bytes != EDGECNN_OUTPUT_BYTES) {
    return "tensor sizes differ from the generated test vectors";
  }
  return nullptr;
}

}  // namespace

void edgecnn_printf(const char* format, ...) {
  char text[EDGECNN_PRINT_MAX + 1];
  va_list args;
  va_start(args, format);
  vsnprintf(text, sizeof(text), format, args);
  va_end(args);
  edgecnn_platform_write(text);
}

int edgecnn_invoke_timed(uint32_t* micros_out, uint32_t* cycles_out) {
  const uint32_t t0 = edgecnn_platform_micros();
  const uint32_t c0 = edgecnn_cycles();
  const int status = edgecnn_runtime_invoke();
  const uint32_t c1 = edgecnn_cycles();
  const uint32_t t1 = edgecnn_platform_micros();
  *micros_out = t1 - t0;
  *cycles_out = c1 - c0;
  return status;
}

int edgecnn_tensor_element(const EdgecnnTensor* tensor, uint32_t i) {
  return tensor->type == EDGECNN_TYPE_UINT8 ? (int)tensor->data[i] : (int)(int8_t)tensor->data[i];
}

uint32_t edgecnn_op_begin(const char* tag) {
  if (!profiling || op_event_count >= EDGECNN_OPERATOR_COUNT) return EDGECNN_OPERATOR_COUNT;
  EdgecnnOpEvent& e = op_events[op_event_count];
  e.tag = tag;
  e.us = edgecnn_platform_micros();
  e.cycles = edgecnn_cycles();
  return op_event_count++;
}

void edgecnn_op_end(uint32_t handle) {
  if (handle >= EDGECNN_OPERATOR_COUNT) return;
  EdgecnnOpEvent& e = op_events[handle];
  e.cycles = edgecnn_cycles() - e.cycles;
  e.us = edgecnn_platform_micros() - e.us;
}

int edgecnn_invoke_profiled(uint32_t* micros_out, uint32_t* cycles_out, uint32_t* count) {
  op_event_count = 0;
  profiling = true;
  const int status = edgecnn_invoke_timed(micros_out, cycles_out);
  profiling = false;
  *count = op_event_count;
  return status;
}

EdgecnnOpEvent edgecnn_op_event(uint32_t i) {
  return i < op_event_count ? op_events[i] : EdgecnnOpEvent{nullptr, 0, 0};
}

void edgecnn_app_setup(void) {
  edgecnn_platform_begin();
  edgecnn_cycles_init();
  const char* error = edgecnn_runtime_init();
  if (error == nullptr) error = check_tensors();
#if EDGECNN_PROTOCOL_MLPERF_TINY
  edgecnn_mlperf_setup(error);
#else
  edgecnn_commands_setup(error);
#endif
}

void edgecnn_app_poll(void) {
#if EDGECNN_PROTOCOL_MLPERF_TINY
  edgecnn_mlperf_poll();
#else
  edgecnn_commands_poll();
#endif
}
