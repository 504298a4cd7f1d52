// The layer table of a native build: generated data (edgecnn_native_model.c) that
// edgecnn_runtime_native.cpp runs in order, each layer through its kernel's entry
// (edgecnn_native_ops.c), which calls the kernel (firmware/kernels/).
#ifndef EDGECNN_NATIVE_H_
#define EDGECNN_NATIVE_H_

#include <stdint.h>

#include "edgecnn_kernels.h"

#ifdef __cplusplus
extern "C" {
#endif

// The model's constant arrays start on a word: the DSP kernels read weight blocks with LDRD,
// which faults on an unaligned address on Cortex-M.
#if defined(__GNUC__)
#define EDGECNN_WORD_ALIGNED __attribute__((aligned(4)))
#else
#define EDGECNN_WORD_ALIGNED
#endif

typedef struct EdgecnnNativeLayer EdgecnnNativeLayer;

// Runs one layer on the arena (the layer says where its tensors and scratch are).
typedef void (*EdgecnnNativeInvoke)(const EdgecnnNativeLayer* layer, int8_t* arena);

struct EdgecnnNativeLayer {
  EdgecnnNativeInvoke invoke;  // its kernel's entry; NULL: nothing to run (RESHAPE in place)
  const char* name;            // the builtin operator, reported in per-operator events
  const void* params;          // the kernel's parameter struct (NULL for RESHAPE)
  int32_t input1;              // arena offsets; -1 when absent
  int32_t input2;
  const int8_t* constant2;  // a constant second input (ADD, SUB, MUL), or NULL
  int32_t output;
  int32_t scratch;  // arena offset of the layer's kernel scratch (planned with the tensors);
                    // -1 when the kernel needs none
};

// The entries, one per kernel family (edgecnn/runtimes/native_kernels.py names them).
void edgecnn_native_conv(const EdgecnnNativeLayer* layer, int8_t* arena);
void edgecnn_native_depthwise_conv(const EdgecnnNativeLayer* layer, int8_t* arena);
void edgecnn_native_fully_connected(const EdgecnnNativeLayer* layer, int8_t* arena);
void edgecnn_native_average_pool(const EdgecnnNativeLayer* layer, int8_t* arena);
void edgecnn_native_max_pool(const EdgecnnNativeLayer* layer, int8_t* arena);
void edgecnn_native_add(const EdgecnnNativeLayer* layer, int8_t* arena);
void edgecnn_native_mul(const EdgecnnNativeLayer* layer, int8_t* arena);
void edgecnn_native_softmax(const EdgecnnNativeLayer* layer, int8_t* arena);
void edgecnn_native_resize_bilinear(const EdgecnnNativeLayer* layer, int8_t* arena);
void edgecnn_native_concatenation(const EdgecnnNativeLayer* layer, int8_t* arena);
void edgecnn_native_relu(const EdgecnnNativeLayer* layer, int8_t* arena);
void edgecnn_native_pad(const EdgecnnNativeLayer* layer, int8_t* arena);
void edgecnn_native_mean(const EdgecnnNativeLayer* layer, int8_t* arena);
void edgecnn_native_reduce_max(const EdgecnnNativeLayer* layer, int8_t* arena);
void edgecnn_native_logistic(const EdgecnnNativeLayer* layer, int8_t* arena);
void edgecnn_native_hard_swish(const EdgecnnNativeLayer* layer, int8_t* arena);
void edgecnn_native_tanh(const EdgecnnNativeLayer* layer, int8_t* arena);
void edgecnn_native_quantize_float(const EdgecnnNativeLayer* layer, int8_t* arena);
void edgecnn_native_dequantize(const EdgecnnNativeLayer* layer, int8_t* arena);

#ifdef __cplusplus
}
#endif

#endif  // EDGECNN_NATIVE_H_
