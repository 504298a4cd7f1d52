/* The float edges of a full-integer model: QUANTIZE from float32 (reference_ops::AffineQuantize)
 * and DEQUANTIZE to float32 (reference_ops::Dequantize), as TFLM's micro kernels call them. */
#include <stddef.h>

#include "edgecnn_fixedpoint.h"
#include "edgecnn_kernels.h"

/* round(value / scale) + zero point, clamped to int8: the division in float32 (AffineQuantize
 * divides by static_cast<float>(scale)) and TfLiteRound's halves away from zero, made exact
 * without libm: the quotient's integer part by truncation, its fraction exactly (both floats,
 * |q| < 2^24). Quotients beyond +-1024 clamp alike whatever their rounding (TFLM's int32 cast
 * of one beyond 2^31, or of NaN, is undefined; here NaN gives the zero point). */
void edgecnn_quantize_f32_s8(const EdgecnnAffineQuantizeParams* p, const float* input,
                             int8_t* output) {
  const EdgecnnAffineQuantizeParams q = *p;
  for (int32_t i = 0; i < q.count; ++i) {
    const float quotient = input[i] / q.scale;
    int32_t rounded = 0;
    if (quotient >= 1024.0f) {
      rounded = 1024;
    } else if (quotient <= -1024.0f) {
      rounded = -1024;
    } else if (quotient == quotient) {
      rounded = (int32_t)quotient;
      const float fraction = quotient - (float)rounded;
      if (fraction >= 0.5f) ++rounded;
      if (fraction <= -0.5f) --rounded;
    }
    output[i] = (int8_t)clamp32(rounded + q.zero_point, -128, 127);
  }
}

/* scale * (value - zero point), which Dequantize multiplies in double (its scale a double
 * holding the tensor's float32 scale) and rounds to float32. The product of a float32 and an
 * integer of at most 9 bits is exact in 33 bits, in double as in float32's own multiplication
 * before its one rounding: a float32 product gives the same bits without soft-float double. */
void edgecnn_dequantize_s8_f32(const EdgecnnAffineQuantizeParams* p, const int8_t* input,
                               float* output) {
  const EdgecnnAffineQuantizeParams q = *p;
  for (int32_t i = 0; i < q.count; ++i) {
    output[i] = q.scale * (float)((int32_t)input[i] - q.zero_point);
  }
}
