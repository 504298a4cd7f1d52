// The layer table of a native build: generated data (edgecnn_native_model.c) that
// edgecnn_runtime_native.cpp runs through the kernels of edgecnn_kernels.c.
#ifndef EDGECNN_NATIVE_H_
#define EDGECNN_NATIVE_H_

#include <stdint.h>

#include "edgecnn_kernels.h"

typedef enum {
  EDGECNN_NATIVE_CONV = 0,
  EDGECNN_NATIVE_DEPTHWISE_CONV,
  EDGECNN_NATIVE_FULLY_CONNECTED,
  EDGECNN_NATIVE_AVERAGE_POOL,
  EDGECNN_NATIVE_MAX_POOL,
  EDGECNN_NATIVE_ADD,
  EDGECNN_NATIVE_SOFTMAX,
  EDGECNN_NATIVE_RESHAPE,
  EDGECNN_NATIVE_MUL,
  EDGECNN_NATIVE_RESIZE_BILINEAR,
  EDGECNN_NATIVE_CONCATENATION,
  EDGECNN_NATIVE_RELU,
  EDGECNN_NATIVE_PAD
} EdgecnnNativeKernel;

typedef struct {
  EdgecnnNativeKernel kernel;
  const char* name;    // the builtin operator, reported in per-operator events
  const void* params;  // the kernel's parameter struct (NULL for RESHAPE)
  int32_t input1;      // arena offsets; -1 when absent
  int32_t input2;
  const int8_t* constant2;  // a constant second input (ADD), or NULL
  int32_t output;
  int32_t scratch;  // arena offset of the layer's kernel scratch (planned with the tensors);
                    // -1 when the kernel needs none
} EdgecnnNativeLayer;

#endif  // EDGECNN_NATIVE_H_
