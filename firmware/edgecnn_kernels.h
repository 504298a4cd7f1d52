/* edgecnn's int8 kernels: plain C99, no allocation, bit-exact with TensorFlow Lite Micro's
 * reference kernels (the arithmetic of tensorflow/lite/kernels/internal/reference/ and
 * gemmlowp's fixed point, which TFLM's host interpreter runs). Layouts are NHWC; weights as
 * the .tflite stores them (CONV_2D [out][kh][kw][in] reordered for the DSP loop on the host,
 * see edgecnn_kernels.c; DEPTHWISE_CONV_2D [1][kh][kw][out],
 * FULLY_CONNECTED [out][in]). Every quantization constant is computed on the host by edgecnn
 * (edgecnn/runtimes/native.py) exactly as TFLM computes it at Prepare time. */
#ifndef EDGECNN_KERNELS_H_
#define EDGECNN_KERNELS_H_

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
  int32_t in_h, in_w, in_c;
  int32_t out_h, out_w, out_c;
  int32_t k_h, k_w;
  int32_t stride_h, stride_w;
  int32_t dilation_h, dilation_w;
  int32_t pad_h, pad_w;     /* top/left padding (TFLM's ComputePaddingHeightWidth) */
  int32_t depth_multiplier; /* DEPTHWISE_CONV_2D only */
  int32_t input_offset;     /* -input zero point */
  int32_t output_offset;    /* output zero point */
  int32_t act_min, act_max;
  const int8_t* weights;
  const int32_t* bias;       /* DEPTHWISE_CONV_2D: NULL when the model has none; CONV_2D: NULL */
  const int32_t* multiplier; /* per output channel */
  const int32_t* shift;
  /* CONV_2D only: bias + input_offset * (sum of the channel's weights), made on the host; the
   * kernel adds it to the sum of raw int8 products (DEPTHWISE_CONV_2D: NULL) */
  const int32_t* folded_bias;
  /* DEPTHWISE_CONV_2D only: 1 when the kernel is 3x3 with one output channel per input channel
   * and the channels come in fours, or with a channel multiplier that is a multiple of four:
   * the weights are then stored per four output channels, the nine
   * taps as int16 pairs, channels (0, 2) then (1, 3) (72 bytes), and the bias is folded as
   * CONV_2D's (bias + input_offset * the sum of the channel's nine weights) for every output
   * pixel: a tap outside the input reads a row of the input's zero point in the scratch */
  int32_t quad_taps;
  /* the requantization table (edgecnn_fixedpoint.h, EDGECNN_RQ_*): four words per output
   * channel, made on the host for a layer whose every channel shifts right by 1 to 23 bits;
   * bias, multiplier, shift and folded_bias are then NULL. NULL for any other layer. */
  const int32_t* requant;
  /* CONV_2D only: 1 when the window keeps the two pixels' inputs as int8 (half the scratch,
   * widened in the loop: the host planner's choice where the window sets the arena's peak),
   * 0 for int16 */
  int32_t narrow_window;
} EdgecnnConvParams;

typedef struct {
  int32_t batches, in_depth, out_depth;
  int32_t input_offset, filter_offset, output_offset;
  int32_t act_min, act_max;
  const int8_t* weights;
  const int32_t* bias;
  const int32_t* multiplier; /* per output channel, or one for all (per_channel 0) */
  const int32_t* shift;
  /* bias + input_offset * (sum of the row's weights), made on the host, used when
   * filter_offset is 0 (NULL otherwise; then `bias` is used) */
  const int32_t* folded_bias;
  int32_t per_channel; /* 1: multiplier and shift per output channel; 0: one of each */
} EdgecnnFullyConnectedParams;

typedef struct {
  int32_t in_h, in_w, channels;
  int32_t out_h, out_w;
  int32_t k_h, k_w, stride_h, stride_w, pad_h, pad_w;
  int32_t act_min, act_max;
} EdgecnnPoolParams;

typedef struct {
  int32_t count;
  int32_t input2_count; /* count, or 1: the second input is one value for every element */
  int32_t input1_offset, input2_offset, output_offset;
  int32_t left_shift;
  int32_t input1_multiplier, input1_shift;
  int32_t input2_multiplier, input2_shift;
  int32_t output_multiplier, output_shift;
  int32_t act_min, act_max;
  int32_t subtract; /* 1: SUB (input1 - input2, the same rescaling) */
} EdgecnnAddParams;

typedef struct {
  int32_t count, input2_count; /* input2_count: count, or 1 (one value for every element) */
  int32_t input1_offset, input2_offset, output_offset;
  int32_t output_multiplier, output_shift;
  int32_t act_min, act_max;
} EdgecnnMulParams;

typedef struct {
  int32_t in_h, in_w, channels, out_h, out_w;
  int32_t height_scale_10, width_scale_10; /* Q10 input pixels per output pixel */
  int32_t half_pixel_centers;
} EdgecnnResizeBilinearParams;

typedef struct {
  int32_t outer; /* product of the dimensions before the axis */
  int32_t inputs;
  const int32_t* offsets;    /* each input's arena offset */
  const int32_t* copy_bytes; /* each input's bytes per outer step */
} EdgecnnConcatenationParams;

typedef struct {
  int32_t outer, depth;
  int32_t input_multiplier, input_left_shift, diff_min;
} EdgecnnSoftmaxParams;

typedef struct {
  int32_t count;
  int32_t input_offset, output_offset; /* RELU: the zero points (input subtracted) */
  int32_t multiplier, shift;           /* RELU: input scale / output scale */
  int32_t act_min, act_max;            /* RELU: the output's range; RELU6: the input's 0 and 6 */
  int32_t rescale;                     /* 1: RELU (rescaled), 0: RELU6 (a clamp of the input) */
} EdgecnnReluParams; /* also int8 -> int8 QUANTIZE: a rescale clamped to -128..127 */

typedef struct {
  int32_t in_dims[4], out_dims[4]; /* the shapes, padded on the left to four dimensions */
  int32_t before[4];               /* elements of padding before the input, per dimension */
  int32_t value;                   /* the padding's int8 value */
} EdgecnnPadParams;

typedef struct {
  int32_t count;
  int32_t input_zero_point;
  int32_t input_range_radius; /* |input - zero point| from here on saturates the output */
  int32_t input_multiplier;   /* the input in Q4.27: input_scale * 2^27 as frexp splits it */
  int32_t input_left_shift;
} EdgecnnActivationParams; /* LOGISTIC, TANH */

typedef struct {
  int32_t count;
  int32_t input_zero_point, output_zero_point;
  int32_t output_multiplier;  /* int16 fixed point: (input scale / 128) / output scale */
  int32_t output_exponent;    /* <= 0 */
  int32_t reluish_multiplier; /* int16 fixed point: (input scale / 128) / (3 / 32768) */
  int32_t reluish_exponent;
} EdgecnnHardSwishParams;

typedef struct {
  int32_t in_dims[4];    /* the input's shape, padded on the left to four dimensions */
  int32_t out_steps[4];  /* the output index step of each input dimension; 0 where reduced */
  int32_t out_count;     /* output elements */
  int32_t sum_offset;    /* input zero point x elements reduced into each output (wrapped) */
  int32_t output_offset; /* output zero point */
  int32_t multiplier;    /* input/output scale with 1/(elements reduced) folded in, as */
  int32_t shift;         /* QuantizedMeanOrSum folds it */
} EdgecnnMeanParams;     /* REDUCE_MAX reads the shape fields only */

typedef struct {
  int32_t count;
  int32_t input_zero_point, output_zero_point;
  int32_t identity_multiplier, identity_shift; /* input scale / output scale */
  int32_t alpha_multiplier, alpha_shift;       /* input scale * alpha / output scale */
} EdgecnnLeakyReluParams;

typedef struct {
  int32_t in_dims[5]; /* the input's shape, padded on the left to five dimensions */
  /* per dimension, as TFLM's reference computes them: the first index, the index the walk
   * stops before (in the stride's direction) and the step (negative: backwards) */
  int32_t start[5], stop[5], stride[5];
} EdgecnnStridedSliceParams;

/* QUANTIZE from float32 and DEQUANTIZE to float32: the int8 side's scale and zero point. */
typedef struct {
  int32_t count;
  float scale;
  int32_t zero_point;
} EdgecnnAffineQuantizeParams;

/* `scratch`: 4-byte aligned, as many bytes as the kernel's *_scratch_bytes() says (the host
 * plans the same figures: CONV_2D 4 (narrow window: 2) * (k_h * k_w * in_c rounded up to a
 * multiple of 4); DEPTHWISE_CONV_2D 4 * out_c (the 3x3 kernel uses in_c of them), or in place
 * (output == input: the 3x3 kernel, stride 1, no dilation, one output per input channel) in_c
 * rounded up to a multiple of 4 plus two input rows; FULLY_CONNECTED none). */
int32_t edgecnn_conv_s8_scratch_bytes(const EdgecnnConvParams* p);
int32_t edgecnn_depthwise_conv_s8_scratch_bytes(const EdgecnnConvParams* p, int in_place);
/* the variants the two wrappers pick (a 1x1 stride-1 unpadded CONV_2D; a DEPTHWISE_CONV_2D with
 * quad_taps), callable on their own */
int32_t edgecnn_conv_1x1_s8_scratch_bytes(const EdgecnnConvParams* p);
void edgecnn_conv_1x1_s8(const EdgecnnConvParams* p, const int8_t* input, int8_t* output,
                         void* scratch);
int32_t edgecnn_depthwise_conv_3x3_s8_scratch_bytes(const EdgecnnConvParams* p, int in_place);
void edgecnn_depthwise_conv_3x3_s8(const EdgecnnConvParams* p, const int8_t* input, int8_t* output,
                                   void* scratch);
int32_t edgecnn_mean_s8_scratch_bytes(const EdgecnnMeanParams* p);
void edgecnn_conv_s8(const EdgecnnConvParams* p, const int8_t* input, int8_t* output,
                     void* scratch);
void edgecnn_depthwise_conv_s8(const EdgecnnConvParams* p, const int8_t* input, int8_t* output,
                               void* scratch);
void edgecnn_fully_connected_s8(const EdgecnnFullyConnectedParams* p, const int8_t* input,
                                int8_t* output, void* scratch);
void edgecnn_average_pool_s8(const EdgecnnPoolParams* p, const int8_t* input, int8_t* output);
void edgecnn_max_pool_s8(const EdgecnnPoolParams* p, const int8_t* input, int8_t* output);
void edgecnn_add_s8(const EdgecnnAddParams* p, const int8_t* input1, const int8_t* input2,
                    int8_t* output);
void edgecnn_softmax_s8(const EdgecnnSoftmaxParams* p, const int8_t* input, int8_t* output);
void edgecnn_mul_s8(const EdgecnnMulParams* p, const int8_t* input1, const int8_t* input2,
                    int8_t* output);
void edgecnn_resize_bilinear_s8(const EdgecnnResizeBilinearParams* p, const int8_t* input,
                                int8_t* output);
void edgecnn_concatenation_s8(const EdgecnnConcatenationParams* p, const int8_t* arena,
                              int8_t* output);
void edgecnn_relu_s8(const EdgecnnReluParams* p, const int8_t* input, int8_t* output);
void edgecnn_pad_s8(const EdgecnnPadParams* p, const int8_t* input, int8_t* output);
void edgecnn_mean_s8(const EdgecnnMeanParams* p, const int8_t* input, int8_t* output,
                     void* scratch);
void edgecnn_reduce_max_s8(const EdgecnnMeanParams* p, const int8_t* input, int8_t* output);
void edgecnn_logistic_s8(const EdgecnnActivationParams* p, const int8_t* input, int8_t* output);
void edgecnn_tanh_s8(const EdgecnnActivationParams* p, const int8_t* input, int8_t* output);
void edgecnn_leaky_relu_s8(const EdgecnnLeakyReluParams* p, const int8_t* input, int8_t* output);
void edgecnn_strided_slice_s8(const EdgecnnStridedSliceParams* p, const int8_t* input,
                              int8_t* output);
void edgecnn_hard_swish_s8(const EdgecnnHardSwishParams* p, const int8_t* input, int8_t* output);
void edgecnn_quantize_f32_s8(const EdgecnnAffineQuantizeParams* p, const float* input,
                             int8_t* output);
void edgecnn_dequantize_s8_f32(const EdgecnnAffineQuantizeParams* p, const int8_t* input,
                               float* output);

/* The fixed-point primitives, exposed for the tests. */
int32_t edgecnn_saturating_rounding_doubling_high_mul(int32_t a, int32_t b);
int32_t edgecnn_rounding_divide_by_pot(int32_t x, int exponent);
int32_t edgecnn_multiply_by_quantized_multiplier(int32_t x, int32_t multiplier, int shift);

#ifdef __cplusplus
}
#endif

#endif /* EDGECNN_KERNELS_H_ */
