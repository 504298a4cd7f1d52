#include "edgecnn_protocol.h"

void edgecnn_line_reset(EdgecnnLineBuffer* buffer) {
  buffer->length = 0;
  buffer->overflowed = 0;
  buffer->data[0] = '\0';
}

int edgecnn_line_push(EdgecnnLineBuffer* buffer, uint8_t byte) {
  if (byte == '\r' || byte == '\n') {
    int result = buffer->overflowed ? -1 : 1;
    buffer->data[buffer->length] = '\0';
    if (buffer->overflowed || buffer->length > 0) {
      buffer->length = 0;
      buffer->overflowed = 0;
      return result;
    }
    return 0;  // blank line, or the second byte of "\r\n"
  }
  if (buffer->overflowed) return 0;
  if (buffer->length >= EDGECNN_LINE_MAX) {
    buffer->overflowed = 1;
    buffer->length = 0;
    return 0;
  }
  buffer->data[buffer->length++] = (char)byte;
  return 0;
}

static int is_space(char c) { return c == ' ' || c == '\t'; }

static size_t skip_spaces(const char* s, size_t n, size_t pos) {
  while (pos < n && is_space(s[pos])) ++pos;
  return pos;
}

// Reads an unsigned decimal at *pos; returns 0 on success. Rejects overflow and junk.
static int read_uint(const char* s, size_t n, size_t* pos, uint32_t* value) {
  size_t i = *pos;
  uint64_t v = 0;
  size_t digits = 0;
  while (i < n && s[i] >= '0' && s[i] <= '9') {
    v = v * 10u + (uint64_t)(s[i] - '0');
    if (v > 0xFFFFFFFFu) return -1;
    ++i;
    ++digits;
  }
  if (digits == 0 || (i < n && !is_space(s[i]))) return -1;
  *pos = i;
  *value = (uint32_t)v;
  return 0;
}

// Reads exactly 8 hexadecimal digits at *pos; returns 0 on success.
static int read_hex32(const char* s, size_t n, size_t* pos, uint32_t* value) {
  size_t i = *pos;
  uint32_t v = 0;
  for (int k = 0; k < 8; ++k, ++i) {
    if (i >= n) return -1;
    const char c = s[i];
    uint32_t d;
    if (c >= '0' && c <= '9')
      d = (uint32_t)(c - '0');
    else if (c >= 'a' && c <= 'f')
      d = (uint32_t)(c - 'a' + 10);
    else if (c >= 'A' && c <= 'F')
      d = (uint32_t)(c - 'A' + 10);
    else
      return -1;
    v = (v << 4) | d;
  }
  if (i < n && !is_space(s[i])) return -1;
  *pos = i;
  *value = v;
  return 0;
}

static int word_is(const char* s, size_t n, const char* word) {
  size_t i = 0;
  for (; word[i] != '\0'; ++i) {
    if (i >= n || s[i] != word[i]) return 0;
  }
  return i == n;
}

EdgecnnCommand edgecnn_parse_command(const char* line, size_t length) {
  EdgecnnCommand cmd = {EDGECNN_CMD_ERROR, 0, 0, 0, "unknown command; send 'help'"};
  size_t n = 0;
  while (n < length && line[n] != '\0') ++n;  // stop at an embedded NUL
  const size_t start = skip_spaces(line, n, 0);
  while (n > start && is_space(line[n - 1])) --n;
  if (start == n) {
    cmd.kind = EDGECNN_CMD_NONE;
    cmd.error = 0;
    return cmd;
  }
  const char* s = line + start;
  n -= start;
  size_t word_end = 0;
  while (word_end < n && !is_space(s[word_end])) ++word_end;
  size_t pos = skip_spaces(s, n, word_end);
  int has_args = pos < n;

  if (word_is(s, word_end, "id") || word_is(s, word_end, "selfcheck") ||
      word_is(s, word_end, "help") || word_is(s, word_end, "profile")) {
    if (has_args) {
      cmd.error = "this command takes no arguments";
      return cmd;
    }
    cmd.kind = word_is(s, word_end, "id")          ? EDGECNN_CMD_ID
               : word_is(s, word_end, "selfcheck") ? EDGECNN_CMD_SELFCHECK
               : word_is(s, word_end, "profile")   ? EDGECNN_CMD_PROFILE
                                                   : EDGECNN_CMD_HELP;
    cmd.error = 0;
    return cmd;
  }
  if (word_is(s, word_end, "infer")) {
    uint32_t length = 0, checksum = 0;
    if (read_uint(s, n, &pos, &length) != 0 || length == 0) {
      cmd.error = "usage: infer LENGTH CRC32HEX, then LENGTH raw bytes";
      return cmd;
    }
    pos = skip_spaces(s, n, pos);
    if (read_hex32(s, n, &pos, &checksum) != 0) {
      cmd.error = "usage: infer LENGTH CRC32HEX (8 hex digits)";
      return cmd;
    }
    pos = skip_spaces(s, n, pos);
    if (pos < n) {
      cmd.error = "usage: infer LENGTH CRC32HEX";
      return cmd;
    }
    cmd.kind = EDGECNN_CMD_INFER;
    cmd.runs = length;
    cmd.checksum = checksum;
    cmd.error = 0;
    return cmd;
  }
  if (word_is(s, word_end, "bench")) {
    uint32_t runs = 0, warmup = 1;
    if (read_uint(s, n, &pos, &runs) != 0 || runs == 0 || runs > EDGECNN_MAX_RUNS) {
      cmd.error = "usage: bench RUNS [WARMUP], 1 <= RUNS <= 100000";
      return cmd;
    }
    pos = skip_spaces(s, n, pos);
    if (pos < n) {
      if (read_uint(s, n, &pos, &warmup) != 0 || warmup > EDGECNN_MAX_RUNS) {
        cmd.error = "usage: bench RUNS [WARMUP], 0 <= WARMUP <= 100000";
        return cmd;
      }
      pos = skip_spaces(s, n, pos);
      if (pos < n) {
        cmd.error = "usage: bench RUNS [WARMUP]";
        return cmd;
      }
    }
    cmd.kind = EDGECNN_CMD_BENCH;
    cmd.runs = runs;
    cmd.warmup = warmup;
    cmd.error = 0;
    return cmd;
  }
  return cmd;
}

uint32_t edgecnn_crc32(uint32_t crc, const uint8_t* data, size_t length) {
  // Bitwise CRC-32 (reflected polynomial 0xEDB88320): no 1 KB table in a RAM-tight sketch.
  crc = ~crc;
  for (size_t i = 0; i < length; ++i) {
    crc ^= data[i];
    for (int bit = 0; bit < 8; ++bit) crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
  }
  return ~crc;
}

int edgecnn_payload_begin(EdgecnnPayload* payload, uint8_t* destination, uint32_t capacity,
                          uint32_t expected, uint32_t checksum) {
  payload->active = 0;
  payload->destination = destination;
  payload->capacity = capacity;
  payload->expected = expected;
  payload->received = 0;
  payload->checksum_expected = checksum;
  payload->crc = 0;
  if (destination == 0 || expected == 0 || expected > capacity) return -1;
  payload->active = 1;
  return 0;
}

int edgecnn_payload_push(EdgecnnPayload* payload, uint8_t byte) {
  if (!payload->active || payload->received >= payload->expected) return -2;
  payload->destination[payload->received++] = byte;
  payload->crc = edgecnn_crc32(payload->crc, &byte, 1);
  if (payload->received < payload->expected) return 0;
  payload->active = 0;
  return payload->crc == payload->checksum_expected ? 1 : -1;
}

void edgecnn_payload_cancel(EdgecnnPayload* payload) { payload->active = 0; }
