// The MLPerf Tiny DUT protocol on edgecnn's runtime interface: what an MLCommons runner
// (benchmark/runner/, performance and accuracy modes, direct DUT connection) expects.
//   name%            m-name-dut-[edgecnn]
//   profile%         m-profile-[ULPMark for tinyML Firmware V0.0.1] m-model-[MODEL]
//   timestamp%       m-lap-us-MICROSECONDS
//   db load N%       m-[Expecting N bytes]        N = EDGECNN_MLPERF_DB_BYTES (one input as the
//                                                 runner sends it: see the profile below)
//   db HEX...%       m-load-done once N bytes arrived (the runner sends 31 bytes a command)
//   db print%        m-buffer-xx-xx-... (8 bytes a line, as they were sent)
//   infer N [W]%     m-warmup-start-W m-warmup-done m-infer-start-N m-lap-us-T0 m-lap-us-T1
//                    m-infer-done m-results-[...]
//   results%         m-results-[...] of the last inference
//   help%            the commands
// Every answer ends with m-ready; errors are e-[...]. Timestamps come from the platform's
// microsecond clock (performance mode: no energy monitor GPIO).
//
// The benchmark's profile (edgecnn_config.h, as the reference submissions' th_load_tensor and
// th_results do it): the bytes are copied as they are (kws01), or are uint8 pixels turned into
// int8 by subtracting 128 (ic01, vww01), or are float32 features quantized with the input's
// scale and zero point (ad01). m-results holds every output dequantized with 3 decimals, or
// (ad01) one value: the mean squared error of the dequantized output against the float input.
#include "edgecnn_mlperf.h"

#include <math.h>
#include <string.h>

#include "edgecnn_app.h"
#include "edgecnn_config.h"
#include "edgecnn_platform.h"
#include "edgecnn_runtime.h"
#include "test_vectors.h"

#if EDGECNN_PROTOCOL_MLPERF_TINY

#if EDGECNN_MLPERF_INPUT_FORMAT == EDGECNN_MLPERF_INPUT_FLOAT32
static_assert(EDGECNN_MLPERF_DB_BYTES == 4 * EDGECNN_INPUT_BYTES, "float32 features per element");
#else
static_assert(EDGECNN_MLPERF_DB_BYTES == EDGECNN_INPUT_BYTES, "one byte per input element");
#endif

namespace {

EdgecnnMlperfBuffer command_buffer;
const char* runtime_error = "not initialized";
// The bytes of "db" commands, as the runner sent them.
uint8_t db_buffer[EDGECNN_MLPERF_DB_BYTES];
uint32_t db_expected = 0;  // from "db load N"
uint32_t db_loaded = 0;
#if EDGECNN_MLPERF_INPUT_FORMAT == EDGECNN_MLPERF_INPUT_AS_SENT
const uint8_t* const model_input = db_buffer;
#else
// The input tensor's bytes, converted once when the load completed. Copied into the tensor
// before every inference: the runtime may reuse the input tensor's memory for later layers.
uint8_t model_input[EDGECNN_INPUT_BYTES];
#endif

void timestamp() { edgecnn_printf("m-lap-us-%lu\r\n", (unsigned long)edgecnn_platform_micros()); }

float dequantized(const EdgecnnTensor& tensor, uint32_t i) {
  if (tensor.type == EDGECNN_TYPE_FLOAT32) {
    float value;
    memcpy(&value, tensor.data + 4 * i, sizeof(value));
    return value;
  }
  return (float)(edgecnn_tensor_element(&tensor, i) - tensor.zero_point) * tensor.scale;
}

#if EDGECNN_MLPERF_INPUT_FORMAT == EDGECNN_MLPERF_INPUT_FLOAT32
float feature(uint32_t i) {
  float value;
  memcpy(&value, db_buffer + 4 * i, sizeof(value));  // little-endian, as Cortex-M and x86 are
  return value;
}

// QuantizeFloatToInt8 of the reference submissions: round(value / scale) half away from zero,
// plus the zero point, saturated to int8; NaN reads as the lowest value.
int8_t quantize(float value, float scale, int32_t zero_point) {
  float ratio = value / scale;
  if (ratio != ratio) return -128;
  if (ratio > 1000.0f) ratio = 1000.0f;
  if (ratio < -1000.0f) ratio = -1000.0f;
  long q = (long)roundf(ratio) + zero_point;
  return (int8_t)(q < -128 ? -128 : (q > 127 ? 127 : q));
}
#endif

// Called when the last byte of an input arrived.
void stage_input() {
#if EDGECNN_MLPERF_INPUT_FORMAT == EDGECNN_MLPERF_INPUT_UINT8_MINUS_128
  for (uint32_t i = 0; i < EDGECNN_INPUT_BYTES; ++i) {
    model_input[i] = (uint8_t)(int8_t)((int)db_buffer[i] - 128);
  }
#elif EDGECNN_MLPERF_INPUT_FORMAT == EDGECNN_MLPERF_INPUT_FLOAT32
  const EdgecnnTensor input = edgecnn_runtime_input();
  for (uint32_t i = 0; i < EDGECNN_INPUT_BYTES; ++i) {
    model_input[i] = (uint8_t)quantize(feature(i), input.scale, input.zero_point);
  }
#endif
}

void results() {
  const EdgecnnTensor output = edgecnn_runtime_output();
  const uint32_t count = output.type == EDGECNN_TYPE_FLOAT32 ? output.bytes / 4 : output.bytes;
#if EDGECNN_MLPERF_RESULT == EDGECNN_MLPERF_RESULT_MSE
  // The mean squared error of the reconstruction, summed in order in float32 as the
  // reference's calculate_result() does. Products go through memory so that no compiler
  // fuses them into the next addition (a fused multiply-add rounds once, not twice): every
  // target prints the same digits as the host reference.
  float sum = 0.0f;
  for (uint32_t i = 0; i < count; ++i) {
    const volatile float value = dequantized(output, i);
    const float diff = value - feature(i);
    const volatile float square = diff * diff;
    sum += square;
  }
  edgecnn_printf("m-results-[%0.3f]\r\n", (double)(sum / (float)count));
#else
  edgecnn_platform_write("m-results-[");
  for (uint32_t i = 0; i < count; ++i) {
    edgecnn_printf(i + 1 < count ? "%0.3f," : "%0.3f", (double)dequantized(output, i));
  }
  edgecnn_platform_write("]\r\n");
#endif
}

// One inference on the loaded input; returns 0 on success.
int infer_once() {
  const EdgecnnTensor input = edgecnn_runtime_input();
  memcpy(input.data, model_input, input.bytes);
  return edgecnn_runtime_invoke();
}

void infer(const EdgecnnMlperfTokens& t) {
  long runs = 1, warmup = EDGECNN_MLPERF_DEFAULT_WARMUP;
  if (t.count > 1 && (edgecnn_mlperf_token_int(&t, 1, &runs) != 0 || runs <= 0)) {
    edgecnn_printf("e-[Inference iterations must be >0]\r\n");
    return;
  }
  if (t.count > 2 && (edgecnn_mlperf_token_int(&t, 2, &warmup) != 0 || warmup < 0)) {
    edgecnn_printf("e-[Inference warmup must be >=0]\r\n");
    return;
  }
  if (runtime_error != nullptr) {
    edgecnn_printf("e-[Model not ready: %s]\r\n", runtime_error);
    return;
  }
  if (db_expected != EDGECNN_MLPERF_DB_BYTES || db_loaded != db_expected) {
    edgecnn_printf("e-[Load the %u input bytes first: db load %u, then db HEX...]\r\n",
                   (unsigned)EDGECNN_MLPERF_DB_BYTES, (unsigned)EDGECNN_MLPERF_DB_BYTES);
    return;
  }
  edgecnn_printf("m-warmup-start-%ld\r\n", warmup);
  for (long i = 0; i < warmup; ++i) {
    if (infer_once() != 0) {
      edgecnn_printf("e-[Invoke() failed]\r\n");
      return;
    }
    edgecnn_platform_idle();
  }
  edgecnn_printf("m-warmup-done\r\n");
  edgecnn_printf("m-infer-start-%ld\r\n", runs);
  timestamp();
  int status = 0;
  for (long i = 0; i < runs && status == 0; ++i) status = infer_once();
  timestamp();
  if (status != 0) {
    edgecnn_printf("e-[Invoke() failed]\r\n");
    return;
  }
  edgecnn_printf("m-infer-done\r\n");
  results();
}

void db_load(const EdgecnnMlperfTokens& t) {
  long n = 0;
  if (t.count < 3) {
    edgecnn_printf("e-[Command 'db load' requires the # of bytes]\r\n");
  } else if (edgecnn_mlperf_token_int(&t, 2, &n) != 0 || n <= 0) {
    edgecnn_printf("e-[Command 'db load' must be >0 bytes]\r\n");
  } else if (n > (long)EDGECNN_MLPERF_DB_BYTES) {
    db_expected = db_loaded = 0;
    edgecnn_printf("e-[Supplied buffer size %ld exceeds maximum of %u]\r\n", n,
                   (unsigned)EDGECNN_MLPERF_DB_BYTES);
  } else {
    db_expected = (uint32_t)n;
    db_loaded = 0;
    edgecnn_printf("m-[Expecting %ld bytes]\r\n", n);
  }
}

void db_print() {
  for (uint32_t i = 0; i < db_loaded; ++i) {
    edgecnn_printf(i % 8 == 0 ? "m-buffer-%02x" : "-%02x", db_buffer[i]);
    if ((i + 1) % 8 == 0 || i + 1 == db_loaded) edgecnn_platform_write("\r\n");
  }
}

void db_bytes(const EdgecnnMlperfTokens& t) {
  const char* hex = t.token[1];
  const size_t digits = t.length[1];
  if (digits % 2 != 0) {
    edgecnn_printf("e-[Insufficient number of hex digits]\r\n");
    return;
  }
  if (db_expected == 0 || db_loaded >= db_expected) {
    edgecnn_printf("e-[No bytes expected: send db load N first]\r\n");
    return;
  }
  for (size_t i = 0; i < digits; i += 2) {
    const int value = edgecnn_mlperf_hex_byte(hex[i], hex[i + 1]);
    if (value < 0) {
      edgecnn_printf("e-[Invalid hex digit '%c%c']\r\n", hex[i], hex[i + 1]);
      return;
    }
    db_buffer[db_loaded++] = (uint8_t)value;
    if (db_loaded == db_expected) {
      if (db_loaded == EDGECNN_MLPERF_DB_BYTES) stage_input();
      edgecnn_printf("m-load-done\r\n");
      return;  // digits past the expected count are ignored
    }
  }
}

void help() {
  edgecnn_printf("%s\r\n\r\n", EDGECNN_MLPERF_FW_VERSION);
  edgecnn_printf("help          : this list\r\n");
  edgecnn_printf("name          : the device name\r\n");
  edgecnn_printf("profile       : firmware and model identification\r\n");
  edgecnn_printf("timestamp     : one m-lap-us timestamp\r\n");
  edgecnn_printf("db load N     : expect N input bytes (N = %u)\r\n",
                 (unsigned)EDGECNN_MLPERF_DB_BYTES);
  edgecnn_printf("db HH[HH]*    : input bytes in hex, until N arrived\r\n");
  edgecnn_printf("db print      : the bytes loaded so far\r\n");
  edgecnn_printf("infer N [W=%d]: N timed inferences after W warm-up ones\r\n",
                 EDGECNN_MLPERF_DEFAULT_WARMUP);
#if EDGECNN_MLPERF_RESULT == EDGECNN_MLPERF_RESULT_MSE
  edgecnn_printf("results       : the mean squared error of the last output\r\n");
#else
  edgecnn_printf("results       : the last output, dequantized\r\n");
#endif
}

void handle(const char* command) {
  const EdgecnnMlperfTokens t = edgecnn_mlperf_split(command);
  if (t.count == 0) {
    // an empty command (the runner flushes the port with a bare '%'): just the ready mark
  } else if (edgecnn_mlperf_token_is(&t, 0, "name")) {
    edgecnn_printf("m-name-%s-[%s]\r\n", EDGECNN_MLPERF_DEVICE_NAME, EDGECNN_MLPERF_VENDOR);
  } else if (edgecnn_mlperf_token_is(&t, 0, "timestamp")) {
    timestamp();
  } else if (edgecnn_mlperf_token_is(&t, 0, "profile")) {
    edgecnn_printf("m-profile-[%s]\r\n", EDGECNN_MLPERF_FW_VERSION);
    edgecnn_printf("m-model-[%s]\r\n", EDGECNN_MLPERF_MODEL);
  } else if (edgecnn_mlperf_token_is(&t, 0, "help")) {
    help();
  } else if (edgecnn_mlperf_token_is(&t, 0, "db")) {
    if (t.count < 2) {
      edgecnn_printf("e-[Command 'db' requires a subcommand]\r\n");
    } else if (edgecnn_mlperf_token_is(&t, 1, "load")) {
      db_load(t);
    } else if (edgecnn_mlperf_token_is(&t, 1, "print")) {
      db_print();
    } else {
      db_bytes(t);
    }
  } else if (edgecnn_mlperf_token_is(&t, 0, "infer")) {
    infer(t);
  } else if (edgecnn_mlperf_token_is(&t, 0, "results")) {
    if (runtime_error != nullptr) {
      edgecnn_printf("e-[Model not ready: %s]\r\n", runtime_error);
    } else {
      results();
    }
  } else {
    char word[EDGECNN_MLPERF_CMD_SIZE + 1];
    memcpy(word, t.token[0], t.length[0]);
    word[t.length[0]] = '\0';
    edgecnn_printf("e-[Unknown command: %s]\r\n", word);
  }
  edgecnn_printf("m-ready\r\n");
}

}  // namespace

void edgecnn_mlperf_setup(const char* error) {
  runtime_error = error;
  edgecnn_mlperf_reset(&command_buffer);
  edgecnn_printf("m-timestamp-mode-performance\r\n");
  timestamp();
  if (error != nullptr) edgecnn_printf("e-[Model not ready: %s]\r\n", error);
  edgecnn_printf("m-init-done\r\n");
  edgecnn_printf("m-ready\r\n");
}

void edgecnn_mlperf_poll(void) {
  for (int c = edgecnn_platform_read(); c >= 0; c = edgecnn_platform_read()) {
    const int result = edgecnn_mlperf_push(&command_buffer, (uint8_t)c);
    if (result == 1) handle(command_buffer.data);
    if (result == -1) {
      edgecnn_printf("e-[Command longer than %d characters]\r\n", EDGECNN_MLPERF_CMD_SIZE);
      edgecnn_printf("m-ready\r\n");
    }
  }
}

#endif  // EDGECNN_PROTOCOL_MLPERF_TINY
