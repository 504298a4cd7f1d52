/* LOGISTIC and TANH (reference_integer_ops::Logistic and Tanh for int8): the input, less its
 * zero point, saturates outside the radius; inside it is rescaled to a Q4.27 value and run
 * through gemmlowp's fixed-point logistic or tanh. */
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

void edgecnn_logistic_s8(const EdgecnnActivationParams* p, const int8_t* input, int8_t* output) {
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
      /* Q0.31 to the output's 1/256 steps from -128 */
      const int32_t y = RDBPOT(logistic_q4(in_q4), 31 - 8) - 128;
      output[i] = (int8_t)clamp32(y, -128, 127);
    }
  }
}

void edgecnn_tanh_s8(const EdgecnnActivationParams* p, const int8_t* input, int8_t* output) {
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
      /* Q0.31 to the output's 1/128 steps around 0 */
      output[i] = (int8_t)clamp32(RDBPOT(tanh_q4(in_q4), 31 - 7), -128, 127);
    }
  }
}
