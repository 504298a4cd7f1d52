// The MLPerf Tiny device-under-test protocol (MLCommons tiny, benchmark/api/): the parts that
// need neither a runtime nor a board, so that the host test suite compiles and drives them.
//
// The runner writes "COMMAND%" with no line ending; the device answers with "\r\n"-terminated
// lines and ends every answer with "m-ready". Commands are split at spaces like strtok().
#ifndef EDGECNN_MLPERF_H_
#define EDGECNN_MLPERF_H_

#include <stddef.h>
#include <stdint.h>

#define EDGECNN_MLPERF_CMD_SIZE 80  // EE_CMD_SIZE: longest command the DUT API accepts
#define EDGECNN_MLPERF_TERMINATOR '%'
#define EDGECNN_MLPERF_FW_VERSION "ULPMark for tinyML Firmware V0.0.1"
#define EDGECNN_MLPERF_DEVICE_NAME "dut"
#define EDGECNN_MLPERF_DEFAULT_WARMUP 10  // "infer N" with no W warms up 10 times
#define EDGECNN_MLPERF_MAX_TOKENS 4

// What "db" bytes are, per benchmark (edgecnn/mlperf_profiles.py; the reference submissions'
// th_load_tensor): EDGECNN_MLPERF_INPUT_FORMAT in edgecnn_config.h is one of these.
#define EDGECNN_MLPERF_INPUT_AS_SENT 0          // the input tensor's bytes (kws01)
#define EDGECNN_MLPERF_INPUT_UINT8_MINUS_128 1  // uint8 pixels, int8 = pixel - 128 (ic01, vww01)
#define EDGECNN_MLPERF_INPUT_FLOAT32 2          // float32 features, quantized here (ad01)
// What m-results holds (th_results): EDGECNN_MLPERF_RESULT is one of these.
#define EDGECNN_MLPERF_RESULT_SCORES 0  // every output, dequantized
#define EDGECNN_MLPERF_RESULT_MSE 1     // mean of (dequantized output - float input)^2 (ad01)

typedef struct {
  char data[EDGECNN_MLPERF_CMD_SIZE + 1];
  size_t length;
  int overflowed;
} EdgecnnMlperfBuffer;

typedef struct {
  int count;  // tokens found (at most EDGECNN_MLPERF_MAX_TOKENS; the rest is ignored)
  const char* token[EDGECNN_MLPERF_MAX_TOKENS];
  size_t length[EDGECNN_MLPERF_MAX_TOKENS];
} EdgecnnMlperfTokens;

#ifdef __cplusplus
extern "C" {
#endif

void edgecnn_mlperf_reset(EdgecnnMlperfBuffer* buffer);

// Feeds one byte. Returns 1 when '%' ended a command (buffer->data, NUL-terminated), -1 when
// the command that ended was longer than EDGECNN_MLPERF_CMD_SIZE (and was dropped), else 0.
int edgecnn_mlperf_push(EdgecnnMlperfBuffer* buffer, uint8_t byte);

// Splits a command at spaces (tokens point into `command`; they are not NUL-terminated).
EdgecnnMlperfTokens edgecnn_mlperf_split(const char* command);

// 1 when token `i` exists and equals `word`.
int edgecnn_mlperf_token_is(const EdgecnnMlperfTokens* tokens, int i, const char* word);

// Reads token `i` as a signed decimal like atoi() would accept it, saturated to +-2^31-1.
// Returns 0 on success, -1 when the token is missing or is not a number.
int edgecnn_mlperf_token_int(const EdgecnnMlperfTokens* tokens, int i, long* value);

// Decodes two hex digits; returns 0..255, or -1 when either is not a hex digit.
int edgecnn_mlperf_hex_byte(char high, char low);

#ifdef __cplusplus
}
#endif

#endif  // EDGECNN_MLPERF_H_
