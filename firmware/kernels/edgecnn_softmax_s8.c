/* SOFTMAX (reference_ops::Softmax, int8 in, int8 out: gemmlowp fixed point). */
#include <stddef.h>
#include <string.h>

#include "edgecnn_fixedpoint.h"
#include "edgecnn_kernels.h"

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
        sum_of_exps = wrap_add(sum_of_exps, RDBPOT(edgecnn_exp_on_negative_values(scaled, 5), 12));
      }
    }
    const int headroom_plus_one = count_leading_zeros((uint32_t)sum_of_exps);
    const int num_bits_over_unit = 12 - headroom_plus_one;
    const int32_t shifted_sum_minus_one =
        (int32_t)(((uint32_t)sum_of_exps << headroom_plus_one) - (1u << 31));
    const int32_t shifted_scale = edgecnn_one_over_one_plus_x_for_x_in_0_1(shifted_sum_minus_one);
    for (int32_t c = 0; c < q.depth; ++c) {
      const int32_t diff = (int32_t)in[c] - max_in_row;
      if (diff >= q.diff_min) {
        const int32_t scaled = SRDHM(wrap_shl(diff, q.input_left_shift), q.input_multiplier);
        const int32_t exp_in_0 = edgecnn_exp_on_negative_values(scaled, 5);
        const int32_t unsat = RDBPOT(SRDHM(shifted_scale, exp_in_0), num_bits_over_unit + 31 - 8);
        out[c] = (int8_t)clamp32(unsat - 128, -128, 127);
      } else {
        out[c] = -128;
      }
    }
  }
}
