/* The fixed-point steps exported for tests and other C code (edgecnn_kernels.h). */
#include "edgecnn_fixedpoint.h"

#include <stddef.h>
#include <string.h>

#include "edgecnn_kernels.h"

int32_t edgecnn_saturating_rounding_doubling_high_mul(int32_t a, int32_t b) {
  if (a == b && a == EDGECNN_INT32_MIN) return EDGECNN_INT32_MAX;
  return doubling_high_mul(a, b);
}

int32_t edgecnn_rounding_divide_by_pot(int32_t x, int exponent) {
  return rounding_divide_by_pot(x, exponent);
}

/* tflite::MultiplyByQuantizedMultiplier (double rounding, TFLM's default). */
int32_t edgecnn_multiply_by_quantized_multiplier(int32_t x, int32_t multiplier, int shift) {
  const int left_shift = shift > 0 ? shift : 0;
  const int right_shift = shift > 0 ? 0 : -shift;
  return rounding_divide_by_pot(
      edgecnn_saturating_rounding_doubling_high_mul(wrap_shl(x, left_shift), multiplier),
      right_shift);
}

/* --- gemmlowp's transcendental functions (fixedpoint.h), for SOFTMAX, LOGISTIC and TANH ---- */

/* SaturatingRoundingMultiplyByPOT with a positive exponent: a saturating left shift. */
static int32_t saturating_shl(int32_t x, int exponent) {
  const int32_t threshold = (int32_t)(((int64_t)1 << (31 - exponent)) - 1);
  if (x > threshold) return EDGECNN_INT32_MAX;
  if (x < -threshold) return EDGECNN_INT32_MIN;
  return wrap_shl(x, exponent);
}

/* exp(a) for a in [-1/4, 0), Q0.31 in and out. */
static int32_t exp_on_interval_between_negative_one_quarter_and_0_excl(int32_t a) {
  const int32_t constant_term = 1895147668; /* exp(-1/8) */
  const int32_t constant_1_over_3 = 715827883;
  const int32_t x = wrap_add(a, 1 << 28); /* x = a + 1/8 */
  const int32_t x2 = SRDHM(x, x);
  const int32_t x3 = SRDHM(x2, x);
  const int32_t x4 = SRDHM(x2, x2);
  const int32_t x4_over_4 = RDBPOT(x4, 2);
  const int32_t poly = RDBPOT(wrap_add(SRDHM(wrap_add(x4_over_4, x3), constant_1_over_3), x2), 1);
  return wrap_add(constant_term, SRDHM(constant_term, wrap_add(x, poly)));
}

int32_t edgecnn_exp_on_negative_values(int32_t a, int integer_bits) {
  /* exp(-2^k) in Q0.31 for k = -2 .. 4: the barrel shifter's factors */
  static const int32_t kMultipliers[7] = {1672461947, 1302514674, 790015084, 290630308,
                                          39332535,   720401,     242};
  const int fractional_bits = 31 - integer_bits;
  const int32_t one_quarter = (int32_t)1 << (fractional_bits - 2);
  const int32_t a_mod_quarter_minus_one_quarter = wrap_add(a & (one_quarter - 1), -one_quarter);
  int32_t result = exp_on_interval_between_negative_one_quarter_and_0_excl(
      saturating_shl(a_mod_quarter_minus_one_quarter, integer_bits));
  const int32_t remainder = wrap_add(a_mod_quarter_minus_one_quarter, -a);
  /* exponent k - 2 takes part while the input has more integer bits than it */
  for (int k = 0; k < 7 && integer_bits > k - 2; ++k) {
    if (remainder & ((int32_t)1 << (fractional_bits + k - 2))) {
      result = SRDHM(result, kMultipliers[k]);
    }
  }
  return a == 0 ? EDGECNN_INT32_MAX : result;
}

/* Newton-Raphson division as gemmlowp runs it: 1 / (2 * half_denominator), Q2.29. */
static int32_t reciprocal_q2(int32_t half_denominator) {
  const int32_t constant_48_over_17 = 1515870810; /* Q2.29 */
  const int32_t constant_neg_32_over_17 = -1010580540;
  int32_t x = wrap_add(constant_48_over_17, SRDHM(half_denominator, constant_neg_32_over_17));
  for (int i = 0; i < 3; ++i) {
    const int32_t half_denominator_times_x = SRDHM(half_denominator, x);
    const int32_t one_minus = wrap_add(1 << 29, -half_denominator_times_x);
    x = wrap_add(x, saturating_shl(SRDHM(x, one_minus), 2));
  }
  return x;
}

/* gemmlowp RoundingHalfSum(a, One()) of Q0.31 values. */
static int32_t half_sum_with_one(int32_t a) {
  const int64_t sum = (int64_t)a + EDGECNN_INT32_MAX;
  return (int32_t)((sum + (sum >= 0 ? 1 : -1)) / 2);
}

int32_t edgecnn_one_over_one_plus_x_for_x_in_0_1(int32_t a) {
  return saturating_shl(reciprocal_q2(half_sum_with_one(a)), 1);
}

int32_t edgecnn_one_minus_x_over_one_plus_x_for_x_in_0_1(int32_t a) {
  return saturating_shl(wrap_add(reciprocal_q2(half_sum_with_one(a)), -(1 << 29)), 2);
}
