// edgecnn_runtime.h for the virtual board of a TensorFlow Lite Micro project: the project's
// firmware compiled for this computer, whose Invoke() is TFLM's host interpreter (PyPI
// tflite-micro, the reference edgecnn verifies against) in a helper process
// (python -m edgecnn.runtimes.tflm_bridge). The pinned board libraries cannot be compiled here,
// so this is the one piece of the virtual board that is not the board's code: the protocol,
// the self-check, the timing and the MLPerf Tiny DUT around it are.
//
// The helper's end of two pipes is named by the environment (EDGECNN_BRIDGE_FDS="READ,WRITE",
// file descriptors). It first sends a BridgeHeader (little-endian, packed as below), then
// answers every input tensor's bytes with the output tensor's bytes.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "edgecnn_config.h"
#include "edgecnn_runtime.h"

namespace {

struct BridgeTensor {
  uint32_t bytes;
  int32_t type;
  int32_t rank;
  int32_t dims[EDGECNN_MAX_RANK];
  float scale;
  int32_t zero_point;
};

struct BridgeHeader {
  char magic[8];  // "EDGECNN1"
  BridgeTensor input;
  BridgeTensor output;
  uint32_t arena_used;  // what the host recording allocator measured (32-bit corrected)
};

int from_helper = -1;
int to_helper = -1;
BridgeHeader header;
uint8_t* input_data = nullptr;
uint8_t* output_data = nullptr;
char init_error[160];

bool read_full(int fd, void* buffer, size_t bytes) {
  uint8_t* p = static_cast<uint8_t*>(buffer);
  while (bytes > 0) {
    const ssize_t n = read(fd, p, bytes);
    if (n <= 0) return false;
    p += n;
    bytes -= (size_t)n;
  }
  return true;
}

bool write_full(int fd, const void* buffer, size_t bytes) {
  const uint8_t* p = static_cast<const uint8_t*>(buffer);
  while (bytes > 0) {
    const ssize_t n = write(fd, p, bytes);
    if (n <= 0) return false;
    p += n;
    bytes -= (size_t)n;
  }
  return true;
}

EdgecnnTensor describe(const BridgeTensor& t, uint8_t* data) {
  EdgecnnTensor d = {};
  d.data = data;
  d.bytes = t.bytes;
  d.type = t.type;
  d.rank = t.rank < EDGECNN_MAX_RANK ? t.rank : EDGECNN_MAX_RANK;
  for (int i = 0; i < d.rank; ++i) d.dims[i] = t.dims[i];
  d.scale = t.scale;
  d.zero_point = t.zero_point;
  return d;
}

}  // namespace

const char* edgecnn_runtime_init(void) {
  const char* fds = getenv("EDGECNN_BRIDGE_FDS");
  if (fds == nullptr || sscanf(fds, "%d,%d", &from_helper, &to_helper) != 2) {
    return "no TFLM bridge: this program is the virtual board of a TFLM project; start it "
           "with `edgecnn virtual-board --project DIR`";
  }
  if (!read_full(from_helper, &header, sizeof(header)) ||
      memcmp(header.magic, "EDGECNN1", 8) != 0) {
    return "the TFLM bridge sent no valid header: rebuild the project with this edgecnn";
  }
  if (header.input.bytes == 0 || header.output.bytes == 0 || header.input.bytes > (64u << 20) ||
      header.output.bytes > (64u << 20)) {
    snprintf(init_error, sizeof(init_error),
             "the TFLM bridge described tensors of %lu and %lu bytes",
             (unsigned long)header.input.bytes, (unsigned long)header.output.bytes);
    return init_error;
  }
  input_data = static_cast<uint8_t*>(calloc(header.input.bytes, 1));
  output_data = static_cast<uint8_t*>(calloc(header.output.bytes, 1));
  if (input_data == nullptr || output_data == nullptr) return "out of memory";
  return nullptr;
}

int edgecnn_runtime_invoke(void) {
  if (input_data == nullptr) return -1;
  if (!write_full(to_helper, input_data, header.input.bytes)) return -1;
  return read_full(from_helper, output_data, header.output.bytes) ? 0 : -1;
}

EdgecnnTensor edgecnn_runtime_input(void) { return describe(header.input, input_data); }

EdgecnnTensor edgecnn_runtime_output(void) { return describe(header.output, output_data); }

uint32_t edgecnn_runtime_arena_allocated(void) { return (uint32_t)EDGECNN_ARENA_BYTES; }

uint32_t edgecnn_runtime_arena_used(void) { return input_data ? header.arena_used : 0; }

// The host interpreter runs in another process: no per-operator timer reaches this one.
int edgecnn_runtime_has_op_events(void) { return 0; }
