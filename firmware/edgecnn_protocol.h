// edgecnn device protocol: bounded line assembly and command parsing.
// Plain C++ with no Arduino or TFLM dependency, so the host test suite compiles and fuzzes it.
#ifndef EDGECNN_PROTOCOL_H_
#define EDGECNN_PROTOCOL_H_

#include <stddef.h>
#include <stdint.h>

#define EDGECNN_PROTOCOL_VERSION 3
#define EDGECNN_LINE_MAX 96
#define EDGECNN_MAX_RUNS 100000u
#define EDGECNN_HELP "commands: id | selfcheck | bench RUNS [WARMUP] | infer LENGTH CRC32 | profile"

typedef enum {
  EDGECNN_CMD_NONE = 0,   // empty line
  EDGECNN_CMD_ID,         // "id": identification line
  EDGECNN_CMD_SELFCHECK,  // "selfcheck": run the embedded test vectors
  EDGECNN_CMD_BENCH,      // "bench RUNS [WARMUP]": timed invocations
  EDGECNN_CMD_HELP,       // "help"
  EDGECNN_CMD_INFER,      // "infer LENGTH CRC32": LENGTH raw input bytes follow, CRC-32 in hex
  EDGECNN_CMD_PROFILE,    // "profile": time every operator of one inference
  EDGECNN_CMD_ERROR       // malformed: see EdgecnnCommand.error
} EdgecnnCommandKind;

typedef struct {
  EdgecnnCommandKind kind;
  uint32_t runs;      // bench: timed runs; infer: payload length in bytes
  uint32_t warmup;    // bench: warm-up runs
  uint32_t checksum;  // infer: CRC-32 (IEEE 802.3, as zlib.crc32) of the payload
  const char* error;  // static string, set when kind == EDGECNN_CMD_ERROR
} EdgecnnCommand;

// Receives a length-prefixed binary payload into a caller-owned buffer, never past `capacity`.
typedef struct {
  uint8_t* destination;
  uint32_t capacity;
  uint32_t expected;
  uint32_t received;
  uint32_t checksum_expected;
  uint32_t crc;  // running CRC-32 state (pre-inverted)
  int active;
} EdgecnnPayload;

// Accumulates bytes into lines. A line longer than EDGECNN_LINE_MAX is dropped whole and
// reported once as an overflow, never written past the buffer.
typedef struct {
  char data[EDGECNN_LINE_MAX + 1];
  size_t length;
  int overflowed;
} EdgecnnLineBuffer;

#ifdef __cplusplus
extern "C" {
#endif

void edgecnn_line_reset(EdgecnnLineBuffer* buffer);

// Feeds one byte. Returns 1 when a complete line is ready in buffer->data (NUL-terminated,
// without the line ending), -1 when a line ended after overflowing, 0 otherwise.
int edgecnn_line_push(EdgecnnLineBuffer* buffer, uint8_t byte);

// Parses one line (need not be NUL-terminated; at most `length` bytes are read).
EdgecnnCommand edgecnn_parse_command(const char* line, size_t length);

// CRC-32 of `length` bytes, continuing from `crc` (start with 0); equals Python's zlib.crc32.
uint32_t edgecnn_crc32(uint32_t crc, const uint8_t* data, size_t length);

// Starts receiving `expected` bytes. Returns 0, or -1 (and stays inactive) when `expected`
// is 0 or larger than `capacity`.
int edgecnn_payload_begin(EdgecnnPayload* payload, uint8_t* destination, uint32_t capacity,
                          uint32_t expected, uint32_t checksum);

// Feeds one byte. Returns 0 while more bytes are needed, 1 when the payload is complete and
// its CRC-32 matches, -1 when it is complete and does not, -2 when no payload is active.
int edgecnn_payload_push(EdgecnnPayload* payload, uint8_t byte);

void edgecnn_payload_cancel(EdgecnnPayload* payload);

#ifdef __cplusplus
}
#endif

#endif  // EDGECNN_PROTOCOL_H_
