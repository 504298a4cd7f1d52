// The interface between edgecnn's application (edgecnn_app.cpp) and an inference runtime.
// A runtime owns the model, its tensors and its memory; the application owns the wire protocol.
// Implementations: edgecnn_runtime_tflm.cpp (TensorFlow Lite Micro).
#ifndef EDGECNN_RUNTIME_H_
#define EDGECNN_RUNTIME_H_

#include <stddef.h>
#include <stdint.h>

#define EDGECNN_MAX_RANK 6

// Element types, numbered as TfLiteType so that the firmware prints what TFLM would.
#define EDGECNN_TYPE_FLOAT32 1
#define EDGECNN_TYPE_UINT8 3
#define EDGECNN_TYPE_INT8 9

typedef struct {
  uint8_t* data;  // valid after edgecnn_runtime_init() succeeded
  uint32_t bytes;
  int32_t type;  // EDGECNN_TYPE_*
  int32_t rank;
  int32_t dims[EDGECNN_MAX_RANK];
  float scale;  // per-tensor quantization (0 when not quantized)
  int32_t zero_point;
} EdgecnnTensor;

#ifdef __cplusplus
extern "C" {
#endif

// Loads the model and plans its memory. Returns NULL when ready, otherwise one line saying
// what failed and what to do (a static string, valid until the next call).
const char* edgecnn_runtime_init(void);

// Runs one inference on the current input. Returns 0 on success.
int edgecnn_runtime_invoke(void);

EdgecnnTensor edgecnn_runtime_input(void);
EdgecnnTensor edgecnn_runtime_output(void);

// Bytes reserved for tensors and bytes the runtime actually used (0 before init).
uint32_t edgecnn_runtime_arena_allocated(void);
uint32_t edgecnn_runtime_arena_used(void);

// 1 when the runtime reports per-operator events (below), 0 when it cannot.
int edgecnn_runtime_has_op_events(void);

// Per-operator events. The runtime calls these around every operator it runs; the application
// implements them (and records only while it profiles). `tag` is the operator's name and
// must stay valid (a string literal or the runtime's own registration name).
uint32_t edgecnn_op_begin(const char* tag);
void edgecnn_op_end(uint32_t handle);

#ifdef __cplusplus
}
#endif

#endif  // EDGECNN_RUNTIME_H_
