// edgecnn's line protocol (see edgecnn_protocol.h). Everything the firmware prints starts with
// "edgecnn "; the harness (edgecnn/harness/) reads exactly these lines.
#include <stdio.h>
#include <string.h>

#include "edgecnn_app.h"
#include "edgecnn_config.h"
#include "edgecnn_platform.h"
#include "edgecnn_protocol.h"
#include "edgecnn_runtime.h"
#include "edgecnn_timer.h"
#include "model_data.h"
#include "test_vectors.h"

#if !EDGECNN_PROTOCOL_MLPERF_TINY

namespace {

// A payload byte must arrive within this time, or the "infer" transfer is abandoned.
constexpr uint32_t kPayloadTimeoutMs = 2000;

const char* runtime_error = "not initialized";  // NULL once the runtime is ready
EdgecnnLineBuffer line_buffer;
EdgecnnPayload payload;
uint32_t payload_last_byte_ms = 0;

void fail(const char* what) { edgecnn_printf("edgecnn error %s\r\n", what); }

void print_tensor(const char* label, const EdgecnnTensor& t) {
  char shape[48] = "";
  size_t n = 0;
  for (int i = 0; i < t.rank && n < sizeof(shape) - 12; ++i) {
    n += (size_t)snprintf(shape + n, sizeof(shape) - n, i ? "x%ld" : "%ld", (long)t.dims[i]);
  }
  edgecnn_printf("edgecnn %s shape=%s type=%ld scale=%.9g zero_point=%ld\r\n", label, shape,
                 (long)t.type, (double)t.scale, (long)t.zero_point);
}

void print_identification() {
  edgecnn_printf(
      "edgecnn id version=%s protocol=%d target=%s board=%s kernels=%s clock_hz=%lu cycles=%d "
      "profiler=%d\r\n",
      EDGECNN_FIRMWARE_VERSION, EDGECNN_PROTOCOL_VERSION, EDGECNN_TARGET, EDGECNN_BOARD,
      EDGECNN_KERNELS, (unsigned long)EDGECNN_CLOCK_HZ, EDGECNN_HAS_CYCLES,
      edgecnn_runtime_has_op_events());
  edgecnn_printf("edgecnn model sha256=%s bytes=%u\r\n", EDGECNN_MODEL_SHA256,
                 (unsigned)EDGECNN_MODEL_LEN);
  edgecnn_printf("edgecnn arena allocated=%lu used=%lu\r\n",
                 (unsigned long)edgecnn_runtime_arena_allocated(),
                 (unsigned long)(runtime_error ? 0 : edgecnn_runtime_arena_used()));
  if (runtime_error == nullptr) {
    print_tensor("input", edgecnn_runtime_input());
    print_tensor("output", edgecnn_runtime_output());
  }
}

void run_selfcheck() {
  int passed = 0;
#if EDGECNN_TEST_VECTOR_COUNT > 0
  const EdgecnnTensor input = edgecnn_runtime_input();
  const EdgecnnTensor output = edgecnn_runtime_output();
  for (int v = 0; v < EDGECNN_TEST_VECTOR_COUNT; ++v) {
    memcpy(input.data, edgecnn_test_inputs[v], EDGECNN_INPUT_BYTES);
    uint32_t us = 0, cycles = 0;
    if (edgecnn_invoke_timed(&us, &cycles) != 0) {
      fail("Invoke() failed during selfcheck");
      return;
    }
    int mismatches = 0, max_diff = 0;
    uint32_t best = 0;
    for (uint32_t i = 0; i < EDGECNN_OUTPUT_BYTES; ++i) {
      const int got = edgecnn_tensor_element(&output, i);
      const int want = edgecnn_test_outputs[v][i];
      const int diff = got > want ? got - want : want - got;
      if (diff) ++mismatches;
      if (diff > max_diff) max_diff = diff;
      if (got > edgecnn_tensor_element(&output, best)) best = i;
    }
    if (mismatches == 0) ++passed;
    edgecnn_printf(
        "edgecnn selfcheck vector=%d label=%d predicted=%lu bitexact=%d mismatches=%d "
        "max_diff=%d us=%lu cycles=%lu\r\n",
        v, edgecnn_test_labels[v], (unsigned long)best, mismatches == 0, mismatches, max_diff,
        (unsigned long)us, (unsigned long)cycles);
    edgecnn_platform_idle();
  }
#endif
  edgecnn_printf("edgecnn selfcheck done passed=%d total=%d\r\n", passed,
                 EDGECNN_TEST_VECTOR_COUNT);
}

void run_bench(uint32_t runs, uint32_t warmup) {
  uint32_t us = 0, cycles = 0;
  for (uint32_t i = 0; i < warmup; ++i) {
    if (edgecnn_invoke_timed(&us, &cycles) != 0) {
      fail("Invoke() failed during warm-up");
      return;
    }
    edgecnn_platform_idle();  // lets the ESP32 idle task feed its watchdog
  }
  edgecnn_printf("edgecnn bench start runs=%lu warmup=%lu cycles=%d\r\n", (unsigned long)runs,
                 (unsigned long)warmup, EDGECNN_HAS_CYCLES);
  for (uint32_t i = 0; i < runs; ++i) {
    if (edgecnn_invoke_timed(&us, &cycles) != 0) {
      fail("Invoke() failed during bench");
      return;
    }
    edgecnn_printf("edgecnn bench run=%lu us=%lu cycles=%lu\r\n", (unsigned long)i,
                   (unsigned long)us, (unsigned long)cycles);
    edgecnn_platform_idle();
  }
  edgecnn_printf("edgecnn bench done\r\n");
}

void begin_infer(uint32_t length, uint32_t checksum) {
  const EdgecnnTensor input = edgecnn_runtime_input();
  if (length != input.bytes ||
      edgecnn_payload_begin(&payload, input.data, input.bytes, length, checksum) != 0) {
    edgecnn_payload_cancel(&payload);
    edgecnn_printf("edgecnn error infer LENGTH must be %lu bytes\r\n", (unsigned long)input.bytes);
    return;
  }
  payload_last_byte_ms = edgecnn_platform_millis();
  edgecnn_printf("edgecnn infer ready bytes=%lu\r\n", (unsigned long)length);
}

void finish_infer(int result) {
  if (result != 1) {
    fail("infer checksum mismatch; input discarded");
    return;
  }
  uint32_t us = 0, cycles = 0;
  if (edgecnn_invoke_timed(&us, &cycles) != 0) {
    fail("Invoke() failed during infer");
    return;
  }
  const EdgecnnTensor output = edgecnn_runtime_output();
  edgecnn_printf("edgecnn infer us=%lu cycles=%lu crc32=%08lx output=", (unsigned long)us,
                 (unsigned long)cycles, (unsigned long)edgecnn_crc32(0, output.data, output.bytes));
  static const char kHex[] = "0123456789abcdef";
  char chunk[65];
  uint32_t n = 0;
  for (uint32_t i = 0; i < output.bytes; ++i) {
    chunk[n++] = kHex[output.data[i] >> 4];
    chunk[n++] = kHex[output.data[i] & 15];
    if (n == sizeof(chunk) - 1 || i + 1 == output.bytes) {
      chunk[n] = '\0';
      edgecnn_platform_write(chunk);
      n = 0;
    }
  }
  edgecnn_platform_write("\r\n");
}

void run_profile() {
  if (!edgecnn_runtime_has_op_events()) {
    fail("profile is not available with this runtime (no per-operator events)");
    return;
  }
  uint32_t us = 0, cycles = 0;
  uint32_t count = 0;
  if (edgecnn_invoke_profiled(&us, &cycles, &count) != 0) {
    fail("Invoke() failed during profile");
    return;
  }
  for (uint32_t i = 0; i < count; ++i) {
    const EdgecnnOpEvent e = edgecnn_op_event(i);
    edgecnn_printf("edgecnn profile op=%lu tag=%s us=%lu cycles=%lu\r\n", (unsigned long)i,
                   e.tag ? e.tag : "?", (unsigned long)e.us, (unsigned long)e.cycles);
  }
  edgecnn_printf("edgecnn profile done ops=%lu us=%lu cycles=%lu\r\n", (unsigned long)count,
                 (unsigned long)us, (unsigned long)cycles);
}

void handle_line(const char* text, size_t length) {
  const EdgecnnCommand cmd = edgecnn_parse_command(text, length);
  switch (cmd.kind) {
    case EDGECNN_CMD_NONE:
      return;
    case EDGECNN_CMD_ID:
      print_identification();
      return;
    case EDGECNN_CMD_HELP:
      edgecnn_printf("edgecnn help %s\r\n", EDGECNN_HELP);
      return;
    case EDGECNN_CMD_ERROR:
      fail(cmd.error);
      return;
    default:
      break;
  }
  if (runtime_error != nullptr) {
    fail("model not ready; see the error printed at boot");
    return;
  }
  if (cmd.kind == EDGECNN_CMD_SELFCHECK) run_selfcheck();
  if (cmd.kind == EDGECNN_CMD_BENCH) run_bench(cmd.runs, cmd.warmup);
  if (cmd.kind == EDGECNN_CMD_INFER) begin_infer(cmd.runs, cmd.checksum);
  if (cmd.kind == EDGECNN_CMD_PROFILE) run_profile();
}

}  // namespace

void edgecnn_commands_setup(const char* error) {
  runtime_error = error;
  edgecnn_line_reset(&line_buffer);
  if (runtime_error != nullptr) fail(runtime_error);
  print_identification();
  if (runtime_error == nullptr) run_selfcheck();
  edgecnn_printf("edgecnn ready\r\n");
}

void edgecnn_commands_poll(void) {
  if (payload.active && edgecnn_platform_millis() - payload_last_byte_ms > kPayloadTimeoutMs) {
    edgecnn_payload_cancel(&payload);
    edgecnn_printf("edgecnn error infer payload timed out after %lu of %lu bytes\r\n",
                   (unsigned long)payload.received, (unsigned long)payload.expected);
  }
  for (int c = edgecnn_platform_read(); c >= 0; c = edgecnn_platform_read()) {
    const uint8_t byte = (uint8_t)c;
    if (payload.active) {
      payload_last_byte_ms = edgecnn_platform_millis();
      const int status = edgecnn_payload_push(&payload, byte);
      if (status != 0) finish_infer(status);
      continue;
    }
    const int result = edgecnn_line_push(&line_buffer, byte);
    if (result == 1) handle_line(line_buffer.data, strlen(line_buffer.data));
    if (result == -1) fail("line too long");
  }
}

#endif  // !EDGECNN_PROTOCOL_MLPERF_TINY
