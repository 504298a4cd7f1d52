/* Elementwise kernels: ADD and SUB, MUL, RELU, RELU6 and int8 QUANTIZE (a rescale). */
#include <stddef.h>
#include <string.h>

#include "edgecnn_fixedpoint.h"
#include "edgecnn_kernels.h"

/* reference_integer_ops::Add (same shapes), and SubElementwise: both inputs rescaled to a
 * common scale with 20 bits of headroom, added (subtracted), rescaled to the output. The
 * multipliers come from QuantizeMultiplier, in [2^30, 2^31) or 0, never INT32_MIN: the inlined
 * doubling_high_mul equals SaturatingRoundingDoublingHighMul for them. */
void edgecnn_add_s8(const EdgecnnAddParams* p, const int8_t* input1, const int8_t* input2,
                    int8_t* output) {
  /* a local copy: stores through int8_t pointers may alias *p, not q */
  const EdgecnnAddParams q = *p;
  const int e1 = -q.input1_shift, e2 = -q.input2_shift, eo = -q.output_shift;
  const int32_t step2 = q.input2_count == 1 ? 0 : 1;
  const int8_t* in2 = input2;
  for (int32_t i = 0; i < q.count; ++i, in2 += step2) {
    const int32_t a = wrap_shl(q.input1_offset + input1[i], q.left_shift);
    const int32_t b = wrap_shl(q.input2_offset + *in2, q.left_shift);
    const int32_t sa = rounding_divide_by_pot(doubling_high_mul(a, q.input1_multiplier), e1);
    int32_t sb = rounding_divide_by_pot(doubling_high_mul(b, q.input2_multiplier), e2);
    if (q.subtract) sb = (int32_t)(0u - (uint32_t)sb);
    const int32_t out =
        rounding_divide_by_pot(doubling_high_mul(wrap_add(sa, sb), q.output_multiplier), eo) +
        q.output_offset;
    output[i] = (int8_t)clamp32(out, q.act_min, q.act_max);
  }
}

/* reference_integer_ops::MulElementwise (and its broadcast of one value); the multiplier as
 * QuantizeMultiplier makes it (never INT32_MIN), so the inlined rescaling. */
void edgecnn_mul_s8(const EdgecnnMulParams* p, const int8_t* input1, const int8_t* input2,
                    int8_t* output) {
  const EdgecnnMulParams q = *p;
  const int32_t step2 = q.input2_count == 1 ? 0 : 1;
  const int8_t* in2 = input2;
  for (int32_t i = 0; i < q.count; ++i, in2 += step2) {
    const int32_t a = q.input1_offset + input1[i];
    const int32_t b = q.input2_offset + *in2;
    const int32_t out =
        q.output_offset + scale_by_multiplier(a * b, q.output_multiplier, q.output_shift);
    output[i] = (int8_t)clamp32(out, q.act_min, q.act_max);
  }
}

/* RELU: ReluQuantized (input rescaled to the output's scale, then clamped to the output's
 * range from 0); RELU6: Relu6Quantized (the input clamped to its own 0 and 6, as TFLM does,
 * whatever the output's quantization). */
void edgecnn_relu_s8(const EdgecnnReluParams* p, const int8_t* input, int8_t* output) {
  const EdgecnnReluParams q = *p;
  if (!q.rescale) {
    for (int32_t i = 0; i < q.count; ++i)
      output[i] = (int8_t)clamp32(input[i], q.act_min, q.act_max);
    return;
  }
  for (int32_t i = 0; i < q.count; ++i) {
    const int32_t v = q.output_offset + edgecnn_multiply_by_quantized_multiplier(
                                            input[i] - q.input_offset, q.multiplier, q.shift);
    output[i] = (int8_t)clamp32(v, q.act_min, q.act_max);
  }
}
