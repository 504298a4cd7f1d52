/* SOFTMAX (reference_ops::Softmax, int8 in, int8 out: gemmlowp fixed point). */
#include <stddef.h>
#include <string.h>

#include "edgecnn_fixedpoint.h"
#include "edgecnn_kernels.h"

/* --- softmax: gemmlowp fixed point, as reference_ops::Softmax (int8 in, int8 out) --------- */

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

/* exp(a) for a <= 0; a in Q5.26, the result in Q0.31. */
static int32_t exp_on_negative_values_q5(int32_t a) {
  static const int32_t kMultipliers[7] = {1672461947, 1302514674, 790015084, 290630308,
                                          39332535,   720401,     242};
  const int32_t one_quarter = 1 << 24;
  const int32_t a_mod_quarter_minus_one_quarter = wrap_add(a & (one_quarter - 1), -one_quarter);
  int32_t result = exp_on_interval_between_negative_one_quarter_and_0_excl(
      saturating_shl(a_mod_quarter_minus_one_quarter, 5));
  const int32_t remainder = wrap_add(a_mod_quarter_minus_one_quarter, -a);
  for (int k = 0; k < 7; ++k) { /* exponents -2 .. +4: bits 24 .. 30 of the remainder */
    if (remainder & (1 << (24 + k))) result = SRDHM(result, kMultipliers[k]);
  }
  return a == 0 ? EDGECNN_INT32_MAX : result;
}

/* 1 / (1 + x) for x in [0, 1), Q0.31, by three Newton-Raphson steps. */
static int32_t one_over_one_plus_x_for_x_in_0_1(int32_t a) {
  const int64_t sum = (int64_t)a + EDGECNN_INT32_MAX;
  const int32_t half_denominator = (int32_t)((sum + (sum >= 0 ? 1 : -1)) / 2);
  const int32_t constant_48_over_17 = 1515870810; /* Q2.29 */
  const int32_t constant_neg_32_over_17 = -1010580540;
  int32_t x = wrap_add(constant_48_over_17, SRDHM(half_denominator, constant_neg_32_over_17));
  for (int i = 0; i < 3; ++i) {
    const int32_t half_denominator_times_x = SRDHM(half_denominator, x);
    const int32_t one_minus = wrap_add(1 << 29, -half_denominator_times_x);
    x = wrap_add(x, saturating_shl(SRDHM(x, one_minus), 2));
  }
  return saturating_shl(x, 1);
}

static int count_leading_zeros(uint32_t x) {
  int n = 0;
  while (n < 32 && !(x & 0x80000000u)) {
    x <<= 1;
    ++n;
  }
  return n;
}

void edgecnn_softmax_s8(const EdgecnnSoftmaxParams* p, const int8_t* input, int8_t* output) {
  /* a local copy: stores through int8_t pointers may alias *p, not q */
  const EdgecnnSoftmaxParams q = *p;
  for (int32_t row = 0; row < q.outer; ++row) {
    const int8_t* in = input + (size_t)row * q.depth;
    int8_t* out = output + (size_t)row * q.depth;
    int32_t max_in_row = -128;
    for (int32_t c = 0; c < q.depth; ++c) {
      if (in[c] > max_in_row) max_in_row = in[c];
    }
    int32_t sum_of_exps = 0; /* Q12.19 */
    for (int32_t c = 0; c < q.depth; ++c) {
      const int32_t diff = (int32_t)in[c] - max_in_row;
      if (diff >= q.diff_min) {
        const int32_t scaled = SRDHM(wrap_shl(diff, q.input_left_shift), q.input_multiplier);
        sum_of_exps = wrap_add(sum_of_exps, RDBPOT(exp_on_negative_values_q5(scaled), 12));
      }
    }
    const int headroom_plus_one = count_leading_zeros((uint32_t)sum_of_exps);
    const int num_bits_over_unit = 12 - headroom_plus_one;
    const int32_t shifted_sum_minus_one =
        (int32_t)(((uint32_t)sum_of_exps << headroom_plus_one) - (1u << 31));
    const int32_t shifted_scale = one_over_one_plus_x_for_x_in_0_1(shifted_sum_minus_one);
    for (int32_t c = 0; c < q.depth; ++c) {
      const int32_t diff = (int32_t)in[c] - max_in_row;
      if (diff >= q.diff_min) {
        const int32_t scaled = SRDHM(wrap_shl(diff, q.input_left_shift), q.input_multiplier);
        const int32_t exp_in_0 = exp_on_negative_values_q5(scaled);
        const int32_t unsat = RDBPOT(SRDHM(shifted_scale, exp_in_0), num_bits_over_unit + 31 - 8);
        out[c] = (int8_t)clamp32(unsat - 128, -128, 127);
      } else {
        out[c] = -128;
      }
    }
  }
}
