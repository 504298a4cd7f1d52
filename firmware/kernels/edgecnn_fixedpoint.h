/* The fixed-point steps every edgecnn kernel shares (internal to the kernels: each kernel file
 * includes it). gemmlowp's and TFLM's arithmetic, bit for bit; the DSP forms where a Cortex-M
 * with the DSP extension (__ARM_FEATURE_SIMD32) has an instruction for them. */
#ifndef EDGECNN_FIXEDPOINT_H_
#define EDGECNN_FIXEDPOINT_H_

#include <stdint.h>
#include <string.h>

#include "edgecnn_kernels.h"

#if defined(__ARM_FEATURE_SIMD32) && __ARM_FEATURE_SIMD32
#include <arm_acle.h>
#endif

#define EDGECNN_INT32_MAX 2147483647
#define EDGECNN_INT32_MIN (-EDGECNN_INT32_MAX - 1)

static inline int32_t clamp32(int32_t v, int32_t lo, int32_t hi) {
  return v < lo ? lo : v > hi ? hi : v;
}

/* Wrapping int32 arithmetic, as the reference's int32 code computes on every target. */
static inline int32_t wrap_add(int32_t a, int32_t b) {
  return (int32_t)((uint32_t)a + (uint32_t)b);
}
static inline int32_t wrap_shl(int32_t a, int s) { return (int32_t)((uint32_t)a << s); }

/* floor((ab + 2^30) / 2^31): gemmlowp SaturatingRoundingDoublingHighMul without its one
 * saturating case (a = b = INT32_MIN). gemmlowp divides (ab + nudge) by 2^31 toward zero, with
 * nudge = 2^30 for ab >= 0 and 1 - 2^30 otherwise; both cases equal this arithmetic shift (GCC
 * shifts signed values arithmetically). */
static inline int32_t doubling_high_mul(int32_t a, int32_t b) {
  return (int32_t)(((int64_t)a * (int64_t)b + ((int64_t)1 << 30)) >> 31);
}

/* gemmlowp RoundingDivideByPOT: round to nearest, ties away from zero. */
static inline int32_t rounding_divide_by_pot(int32_t x, int exponent) {
  const int32_t mask = (int32_t)(((int64_t)1 << exponent) - 1);
  const int32_t remainder = x & mask;
  const int32_t threshold = (mask >> 1) + (x < 0 ? 1 : 0);
  return (x >> exponent) + (remainder > threshold ? 1 : 0);
}

#define SRDHM edgecnn_saturating_rounding_doubling_high_mul
#define RDBPOT edgecnn_rounding_divide_by_pot

/* MultiplyByQuantizedMultiplier for the kernels' per-channel multipliers, which the host makes
 * in [2^30, 2^31) (never INT32_MIN, so SRDHM's one saturating case cannot occur): the same
 * arithmetic as edgecnn_multiply_by_quantized_multiplier() without it, inlined. */
static inline int32_t scale_by_multiplier(int32_t x, int32_t multiplier, int32_t shift) {
  const int32_t left = shift > 0 ? shift : 0, right = shift > 0 ? 0 : -shift;
  return rounding_divide_by_pot(doubling_high_mul(wrap_shl(x, left), multiplier), right);
}

/* acc (its bias added) to the output's int8 */
static inline int8_t requantize_value(int32_t acc, int32_t multiplier, int32_t shift,
                                      int32_t output_offset, int32_t lo, int32_t hi) {
  return (int8_t)clamp32(scale_by_multiplier(acc, multiplier, shift) + output_offset, lo, hi);
}

static inline int8_t requantize(int32_t acc, const int32_t* bias, int32_t c, int32_t multiplier,
                                int32_t shift, int32_t output_offset, int32_t lo, int32_t hi) {
  if (bias) acc += bias[c];
  acc = scale_by_multiplier(acc, multiplier, shift) + output_offset;
  return (int8_t)clamp32(acc, lo, hi);
}

/* SXTB16 of a word rotated by 8: bytes 1 and 3 as two int16 (one instruction on a DSP core;
 * GCC does not fuse the rotation into SXTB16 by itself). */
#if defined(__ARM_FEATURE_SIMD32) && __ARM_FEATURE_SIMD32
static inline int16x2_t sxtb16_ror8(uint32_t x) {
#if defined(__GNUC__)
  int16x2_t r;
  __asm__("sxtb16 %0, %1, ror #8" : "=r"(r) : "r"(x));
  return r;
#else
  return __sxtb16(__ror(x, 8));
#endif
}
#endif

/* gemmlowp's exp_on_negative_values: exp(a) for a <= 0, `a` a fixed-point value with
 * `integer_bits` integer bits (at most 5), the result in Q0.31. */
int32_t edgecnn_exp_on_negative_values(int32_t a, int integer_bits);
/* gemmlowp's one_over_one_plus_x_for_x_in_0_1 and one_minus_x_over_one_plus_x_for_x_in_0_1
 * (Q0.31 in and out). */
int32_t edgecnn_one_over_one_plus_x_for_x_in_0_1(int32_t a);
int32_t edgecnn_one_minus_x_over_one_plus_x_for_x_in_0_1(int32_t a);

#endif /* EDGECNN_FIXEDPOINT_H_ */
