// The MLPerf Tiny DUT protocol on edgecnn's runtime interface: what an MLCommons runner
// (benchmark/runner/, performance and accuracy modes, direct DUT connection) expects.
//   name%            m-name-dut-[edgecnn]
//   profile%         m-profile-[ULPMark for tinyML Firmware V0.0.1] m-model-[MODEL]
//   timestamp%       m-lap-us-MICROSECONDS
//   db load N%       m-[Expecting N bytes]        N = the model's input tensor size in bytes
//   db HEX...%       m-load-done once N bytes arrived (the runner sends 31 bytes a command)
//   db print%        m-buffer-xx-xx-... (8 bytes a line)
//   infer N [W]%     m-warmup-start-W m-warmup-done m-infer-start-N m-lap-us-T0 m-lap-us-T1
//                    m-infer-done m-results-[...]
//   results%         m-results-[y0,y1,...]: the output dequantized, 3 decimals
//   help%            the commands
// Every answer ends with m-ready; errors are e-[...]. Timestamps come from the platform's
// microsecond clock (performance mode: no energy monitor GPIO).
#include "edgecnn_mlperf.h"

#include <string.h>

#include "edgecnn_app.h"
#include "edgecnn_config.h"
#include "edgecnn_platform.h"
#include "edgecnn_runtime.h"
#include "test_vectors.h"

#if EDGECNN_PROTOCOL_MLPERF_TINY

namespace {

EdgecnnMlperfBuffer command_buffer;
const char* runtime_error = "not initialized";
// The bytes of "db" commands. Copied into the input tensor before every inference: the
// runtime may reuse the input tensor's memory for later layers.
uint8_t db_buffer[EDGECNN_INPUT_BYTES];
uint32_t db_expected = 0;  // from "db load N"
uint32_t db_loaded = 0;

void timestamp() { edgecnn_printf("m-lap-us-%lu\r\n", (unsigned long)edgecnn_platform_micros()); }

void results() {
  const EdgecnnTensor output = edgecnn_runtime_output();
  const uint32_t count = output.type == EDGECNN_TYPE_FLOAT32 ? output.bytes / 4 : output.bytes;
  edgecnn_platform_write("m-results-[");
  for (uint32_t i = 0; i < count; ++i) {
    float value;
    if (output.type == EDGECNN_TYPE_FLOAT32) {
      memcpy(&value, output.data + 4 * i, sizeof(value));
    } else {
      value = (float)(edgecnn_tensor_element(&output, i) - output.zero_point) * output.scale;
    }
    edgecnn_printf(i + 1 < count ? "%0.3f," : "%0.3f", (double)value);
  }
  edgecnn_platform_write("]\r\n");
}

// One inference on the loaded bytes; returns 0 on success.
int infer_once() {
  const EdgecnnTensor input = edgecnn_runtime_input();
  memcpy(input.data, db_buffer, input.bytes);
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
  if (db_expected != EDGECNN_INPUT_BYTES || db_loaded != db_expected) {
    edgecnn_printf("e-[Load the %u input bytes first: db load %u, then db HEX...]\r\n",
                   (unsigned)EDGECNN_INPUT_BYTES, (unsigned)EDGECNN_INPUT_BYTES);
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
  } else if (n > (long)EDGECNN_INPUT_BYTES) {
    db_expected = db_loaded = 0;
    edgecnn_printf("e-[Supplied buffer size %ld exceeds maximum of %u]\r\n", n,
                   (unsigned)EDGECNN_INPUT_BYTES);
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
                 (unsigned)EDGECNN_INPUT_BYTES);
  edgecnn_printf("db HH[HH]*    : input bytes in hex, until N arrived\r\n");
  edgecnn_printf("db print      : the bytes loaded so far\r\n");
  edgecnn_printf("infer N [W=%d]: N timed inferences after W warm-up ones\r\n",
                 EDGECNN_MLPERF_DEFAULT_WARMUP);
  edgecnn_printf("results       : the last output, dequantized\r\n");
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
