#include "edgecnn_mlperf.h"

void edgecnn_mlperf_reset(EdgecnnMlperfBuffer* buffer) {
  buffer->length = 0;
  buffer->overflowed = 0;
  buffer->data[0] = '\0';
}

int edgecnn_mlperf_push(EdgecnnMlperfBuffer* buffer, uint8_t byte) {
  if (byte == (uint8_t)EDGECNN_MLPERF_TERMINATOR) {
    const int result = buffer->overflowed ? -1 : 1;
    buffer->data[buffer->overflowed ? 0 : buffer->length] = '\0';
    buffer->length = 0;
    buffer->overflowed = 0;
    return result;
  }
  // A terminal (or the runner's port flush) may send line endings: they are not command text.
  if (byte == '\r' || byte == '\n' || byte == '\0') return 0;
  if (buffer->length >= EDGECNN_MLPERF_CMD_SIZE) {
    buffer->overflowed = 1;
    return 0;
  }
  buffer->data[buffer->length++] = (char)byte;
  return 0;
}

EdgecnnMlperfTokens edgecnn_mlperf_split(const char* command) {
  EdgecnnMlperfTokens tokens;
  tokens.count = 0;
  size_t i = 0;
  while (command[i] != '\0' && tokens.count < EDGECNN_MLPERF_MAX_TOKENS) {
    while (command[i] == ' ') ++i;
    if (command[i] == '\0') break;
    const size_t start = i;
    while (command[i] != '\0' && command[i] != ' ') ++i;
    tokens.token[tokens.count] = command + start;
    tokens.length[tokens.count] = i - start;
    ++tokens.count;
  }
  return tokens;
}

int edgecnn_mlperf_token_is(const EdgecnnMlperfTokens* tokens, int i, const char* word) {
  if (i >= tokens->count) return 0;
  size_t k = 0;
  for (; word[k] != '\0'; ++k) {
    if (k >= tokens->length[i] || tokens->token[i][k] != word[k]) return 0;
  }
  return k == tokens->length[i];
}

int edgecnn_mlperf_token_int(const EdgecnnMlperfTokens* tokens, int i, long* value) {
  if (i >= tokens->count) return -1;
  const char* s = tokens->token[i];
  const size_t n = tokens->length[i];
  size_t k = 0;
  int negative = 0;
  if (k < n && (s[k] == '-' || s[k] == '+')) negative = s[k++] == '-';
  long v = 0;
  size_t digits = 0;
  for (; k < n && s[k] >= '0' && s[k] <= '9'; ++k, ++digits) {
    if (v < 214748364L || (v == 214748364L && s[k] <= '7')) {
      v = v * 10 + (s[k] - '0');
    } else {
      v = 2147483647L;
    }
  }
  if (digits == 0 || k != n) return -1;
  *value = negative ? -v : v;
  return 0;
}

static int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

int edgecnn_mlperf_hex_byte(char high, char low) {
  const int h = hex_digit(high), l = hex_digit(low);
  return h < 0 || l < 0 ? -1 : h * 16 + l;
}
