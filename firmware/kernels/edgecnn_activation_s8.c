/* LOGISTIC and TANH (reference_integer_ops::Logistic and Tanh for int8): the input, less its
 * zero point, saturates outside the radius; inside it is rescaled to a Q4.27 value and run
 * through gemmlowp's fixed-point logistic or tanh. HARD_SWISH (reference_ops::HardSwish for
 * int8): int16 fixed point throughout, as the reference computes it. LEAKY_RELU
 * (reference_ops::QuantizeLeakyRelu): the input less its zero point, rescaled by one multiplier
 * from zero up and by the alpha one below. */
#include <stddef.h>

#include "edgecnn_fixedpoint.h"
#include "edgecnn_kernels.h"

/* gemmlowp::logistic of a Q4.27 value, the result in Q0.31. */
static int32_t logistic_q4(int32_t a) {
  if (a == 0) return 1 << 30;
  const int32_t abs_a = a > 0 ? a : -a;
  const int32_t positive =
      edgecnn_one_over_one_plus_x_for_x_in_0_1(edgecnn_exp_on_negative_values(-abs_a, 4));
  return a > 0 ? positive : EDGECNN_INT32_MAX - positive;
}

/* gemmlowp::tanh of a Q4.27 value, the result in Q0.31 (exp(2a) is exp of the same raw value
 * read with 5 integer bits). */
static int32_t tanh_q4(int32_t a) {
  if (a == 0) return 0;
  const int32_t negative = a < 0 ? a : -a;
  const int32_t t =
      edgecnn_one_minus_x_over_one_plus_x_for_x_in_0_1(edgecnn_exp_on_negative_values(negative, 5));
  return a < 0 ? -t : t;
}

/* The reference's loop of both: saturation outside the radius, else the Q4.27 input through
 * gemmlowp's function and its Q0.31 result to the output's steps (LOGISTIC: 1/256 from -128;
 * TANH: 1/128 around 0). */
static void saturating_activation(const EdgecnnActivationParams* p, const int8_t* input,
                                  int8_t* output, int logistic) {
  const EdgecnnActivationParams q = *p;
  for (int32_t i = 0; i < q.count; ++i) {
    const int32_t x = (int32_t)input[i] - q.input_zero_point;
    if (x <= -q.input_range_radius) {
      output[i] = -128;
    } else if (x >= q.input_range_radius) {
      output[i] = 127;
    } else {
      const int32_t in_q4 =
          edgecnn_multiply_by_quantized_multiplier(x, q.input_multiplier, q.input_left_shift);
      const int32_t y =
          logistic ? RDBPOT(logistic_q4(in_q4), 31 - 8) - 128 : RDBPOT(tanh_q4(in_q4), 31 - 7);
      output[i] = (int8_t)clamp32(y, -128, 127);
    }
  }
}

void edgecnn_logistic_s8(const EdgecnnActivationParams* p, const int8_t* input, int8_t* output) {
  saturating_activation(p, input, output, 1);
}

void edgecnn_tanh_s8(const EdgecnnActivationParams* p, const int8_t* input, int8_t* output) {
  saturating_activation(p, input, output, 0);
}

/* --- HARD_SWISH: the reference's int16 arithmetic, C's integer promotions as C++'s -------- */

/* gemmlowp SaturatingRoundingDoublingHighMul for int16 (division truncating toward zero). */
static int16_t srdhm16(int16_t a, int16_t b) {
  if (a == b && a == -32768) return 32767;
  const int32_t ab = (int32_t)a * (int32_t)b;
  const int32_t nudge = ab >= 0 ? (1 << 14) : (1 - (1 << 14));
  return (int16_t)((ab + nudge) / (1 << 15));
}

/* The reference's SaturatingDoublingHighMul: the same without rounding. */
static int16_t sdhm16(int16_t a, int16_t b) {
  if (a == b && a == -32768) return 32767;
  return (int16_t)(((int32_t)a * (int32_t)b) / (1 << 15));
}

static int16_t saturating_left_shift16(int16_t value, int amount) {
  const int64_t r = (int64_t)value * ((int64_t)1 << amount);
  return (int16_t)(r > 32767 ? 32767 : r < -32768 ? -32768 : r);
}

/* gemmlowp RoundingDivideByPOT on int16 values. */
static int16_t rounding_divide_by_pot16(int16_t x, int exponent) {
  const int16_t mask = (int16_t)(((int64_t)1 << exponent) - 1);
  const int16_t remainder = (int16_t)(x & mask);
  const int16_t threshold = (int16_t)((mask >> 1) + (x < 0 ? 1 : 0));
  return (int16_t)((x >> exponent) + (remainder > threshold ? 1 : 0));
}

void edgecnn_hard_swish_s8(const EdgecnnHardSwishParams* p, const int8_t* input, int8_t* output) {
  const EdgecnnHardSwishParams q = *p;
  for (int32_t i = 0; i < q.count; ++i) {
    const int16_t value = (int16_t)(input[i] - q.input_zero_point);
    const int16_t hires = (int16_t)(value * (1 << 7));
    const int16_t preshift_output = srdhm16(hires, (int16_t)q.output_multiplier);
    int16_t reluish = hires;
    if (q.reluish_exponent > 0) reluish = saturating_left_shift16(reluish, q.reluish_exponent - 1);
    reluish = srdhm16(reluish, (int16_t)q.reluish_multiplier);
    if (q.reluish_exponent > 0) reluish = saturating_left_shift16(reluish, 1);
    if (q.reluish_exponent < 0) reluish = rounding_divide_by_pot16(reluish, -q.reluish_exponent);
    reluish = (int16_t)((reluish + (1 << 15)) >> 1); /* [-1, 1] to [0, 1] */
    int16_t out = rounding_divide_by_pot16(sdhm16(reluish, preshift_output), -q.output_exponent);
    out = (int16_t)(out + q.output_zero_point);
    output[i] = (int8_t)(out > 127 ? 127 : out < -128 ? -128 : out);
  }
}

/* --- LEAKY_RELU ------------------------------------------------------------------------------ */

void edgecnn_leaky_relu_s8(const EdgecnnLeakyReluParams* p, const int8_t* input, int8_t* output) {
  const EdgecnnLeakyReluParams q = *p;
  for (int32_t i = 0; i < q.count; ++i) {
    const int32_t x = (int32_t)input[i] - q.input_zero_point;
    const int32_t y = x >= 0 ? scale_by_multiplier(x, q.identity_multiplier, q.identity_shift)
                             : scale_by_multiplier(x, q.alpha_multiplier, q.alpha_shift);
    output[i] = (int8_t)clamp32(y + q.output_zero_point, -128, 127);
  }
}
