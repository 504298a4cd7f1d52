/* The native runtime's kernel entries: each takes one layer of the generated table and calls
 * its kernel (firmware/kernels/) with the layer's parameters and its tensors in the arena,
 * as TFLM's kernel registrations call CMSIS-NN. */
#include <stddef.h>

#include "edgecnn_kernels.h"
#include "edgecnn_native.h"

static const int8_t* input1(const EdgecnnNativeLayer* l, const int8_t* arena) {
  return arena + l->input1;
}

/* the second input: a constant of the model, or a tensor in the arena */
static const int8_t* input2(const EdgecnnNativeLayer* l, const int8_t* arena) {
  return l->constant2 ? l->constant2 : arena + l->input2;
}

static int8_t* output(const EdgecnnNativeLayer* l, int8_t* arena) { return arena + l->output; }

static void* scratch(const EdgecnnNativeLayer* l, int8_t* arena) {
  return l->scratch >= 0 ? (void*)(arena + l->scratch) : NULL;
}

void edgecnn_native_conv(const EdgecnnNativeLayer* l, int8_t* arena) {
  edgecnn_conv_s8((const EdgecnnConvParams*)l->params, input1(l, arena), output(l, arena),
                  scratch(l, arena));
}

void edgecnn_native_depthwise_conv(const EdgecnnNativeLayer* l, int8_t* arena) {
  edgecnn_depthwise_conv_s8((const EdgecnnConvParams*)l->params, input1(l, arena), output(l, arena),
                            scratch(l, arena));
}

void edgecnn_native_fully_connected(const EdgecnnNativeLayer* l, int8_t* arena) {
  edgecnn_fully_connected_s8((const EdgecnnFullyConnectedParams*)l->params, input1(l, arena),
                             output(l, arena), scratch(l, arena));
}

void edgecnn_native_average_pool(const EdgecnnNativeLayer* l, int8_t* arena) {
  edgecnn_average_pool_s8((const EdgecnnPoolParams*)l->params, input1(l, arena), output(l, arena));
}

void edgecnn_native_max_pool(const EdgecnnNativeLayer* l, int8_t* arena) {
  edgecnn_max_pool_s8((const EdgecnnPoolParams*)l->params, input1(l, arena), output(l, arena));
}

void edgecnn_native_add(const EdgecnnNativeLayer* l, int8_t* arena) {
  edgecnn_add_s8((const EdgecnnAddParams*)l->params, input1(l, arena), input2(l, arena),
                 output(l, arena));
}

void edgecnn_native_mul(const EdgecnnNativeLayer* l, int8_t* arena) {
  edgecnn_mul_s8((const EdgecnnMulParams*)l->params, input1(l, arena), input2(l, arena),
                 output(l, arena));
}

void edgecnn_native_softmax(const EdgecnnNativeLayer* l, int8_t* arena) {
  edgecnn_softmax_s8((const EdgecnnSoftmaxParams*)l->params, input1(l, arena), output(l, arena));
}

void edgecnn_native_resize_bilinear(const EdgecnnNativeLayer* l, int8_t* arena) {
  edgecnn_resize_bilinear_s8((const EdgecnnResizeBilinearParams*)l->params, input1(l, arena),
                             output(l, arena));
}

/* the inputs' offsets are in the parameters: the whole arena is passed */
void edgecnn_native_concatenation(const EdgecnnNativeLayer* l, int8_t* arena) {
  edgecnn_concatenation_s8((const EdgecnnConcatenationParams*)l->params, arena, output(l, arena));
}

void edgecnn_native_relu(const EdgecnnNativeLayer* l, int8_t* arena) {
  edgecnn_relu_s8((const EdgecnnReluParams*)l->params, input1(l, arena), output(l, arena));
}

void edgecnn_native_pad(const EdgecnnNativeLayer* l, int8_t* arena) {
  edgecnn_pad_s8((const EdgecnnPadParams*)l->params, input1(l, arena), output(l, arena));
}

void edgecnn_native_logistic(const EdgecnnNativeLayer* l, int8_t* arena) {
  edgecnn_logistic_s8((const EdgecnnActivationParams*)l->params, input1(l, arena),
                      output(l, arena));
}

void edgecnn_native_tanh(const EdgecnnNativeLayer* l, int8_t* arena) {
  edgecnn_tanh_s8((const EdgecnnActivationParams*)l->params, input1(l, arena), output(l, arena));
}

void edgecnn_native_mean(const EdgecnnNativeLayer* l, int8_t* arena) {
  edgecnn_mean_s8((const EdgecnnMeanParams*)l->params, input1(l, arena), output(l, arena),
                  scratch(l, arena));
}

void edgecnn_native_reduce_max(const EdgecnnNativeLayer* l, int8_t* arena) {
  edgecnn_reduce_max_s8((const EdgecnnMeanParams*)l->params, input1(l, arena), output(l, arena));
}

void edgecnn_native_hard_swish(const EdgecnnNativeLayer* l, int8_t* arena) {
  edgecnn_hard_swish_s8((const EdgecnnHardSwishParams*)l->params, input1(l, arena),
                        output(l, arena));
}

void edgecnn_native_strided_slice(const EdgecnnNativeLayer* l, int8_t* arena) {
  edgecnn_strided_slice_s8((const EdgecnnStridedSliceParams*)l->params, input1(l, arena),
                           output(l, arena));
}

void edgecnn_native_leaky_relu(const EdgecnnNativeLayer* l, int8_t* arena) {
  edgecnn_leaky_relu_s8((const EdgecnnLeakyReluParams*)l->params, input1(l, arena),
                        output(l, arena));
}

/* the float edges: a float32 graph input or output in the arena (offsets are 16-byte aligned) */
void edgecnn_native_quantize_float(const EdgecnnNativeLayer* l, int8_t* arena) {
  edgecnn_quantize_f32_s8((const EdgecnnAffineQuantizeParams*)l->params,
                          (const float*)(const void*)input1(l, arena), output(l, arena));
}

void edgecnn_native_dequantize(const EdgecnnNativeLayer* l, int8_t* arena) {
  edgecnn_dequantize_s8_f32((const EdgecnnAffineQuantizeParams*)l->params, input1(l, arena),
                            (float*)(void*)output(l, arena));
}
