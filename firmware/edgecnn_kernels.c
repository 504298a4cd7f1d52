/* edgecnn's int8 kernels (see edgecnn_kernels.h). The comments name the TFLM reference
 * function each one reproduces, bit for bit. */
#include "edgecnn_kernels.h"

#include <stddef.h>

#define EDGECNN_INT32_MAX 2147483647
#define EDGECNN_INT32_MIN (-EDGECNN_INT32_MAX - 1)

static int32_t clamp32(int32_t v, int32_t lo, int32_t hi) { return v < lo ? lo : v > hi ? hi : v; }

/* Wrapping int32 arithmetic, as the reference's int32 code computes on every target. */
static int32_t wrap_add(int32_t a, int32_t b) { return (int32_t)((uint32_t)a + (uint32_t)b); }
static int32_t wrap_shl(int32_t a, int s) { return (int32_t)((uint32_t)a << s); }

/* gemmlowp SaturatingRoundingDoublingHighMul. */
int32_t edgecnn_saturating_rounding_doubling_high_mul(int32_t a, int32_t b) {
  if (a == b && a == EDGECNN_INT32_MIN) return EDGECNN_INT32_MAX;
  const int64_t ab = (int64_t)a * (int64_t)b;
  const int64_t nudge = ab >= 0 ? (1 << 30) : (1 - (1 << 30));
  return (int32_t)((ab + nudge) / ((int64_t)1 << 31));
}

/* gemmlowp RoundingDivideByPOT: round to nearest, ties away from zero. */
int32_t edgecnn_rounding_divide_by_pot(int32_t x, int exponent) {
  const int32_t mask = (int32_t)(((int64_t)1 << exponent) - 1);
  const int32_t remainder = x & mask;
  const int32_t threshold = (mask >> 1) + (x < 0 ? 1 : 0);
  return (x >> exponent) + (remainder > threshold ? 1 : 0);
}

/* tflite::MultiplyByQuantizedMultiplier (double rounding, TFLM's default). */
int32_t edgecnn_multiply_by_quantized_multiplier(int32_t x, int32_t multiplier, int shift) {
  const int left_shift = shift > 0 ? shift : 0;
  const int right_shift = shift > 0 ? 0 : -shift;
  return edgecnn_rounding_divide_by_pot(
      edgecnn_saturating_rounding_doubling_high_mul(wrap_shl(x, left_shift), multiplier),
      right_shift);
}

#define SRDHM edgecnn_saturating_rounding_doubling_high_mul
#define RDBPOT edgecnn_rounding_divide_by_pot

/* reference_integer_ops::ConvPerChannel (one group). */
void edgecnn_conv_s8(const EdgecnnConvParams* p, const int8_t* input, int8_t* output) {
  for (int32_t oy = 0; oy < p->out_h; ++oy) {
    for (int32_t ox = 0; ox < p->out_w; ++ox) {
      const int32_t in_y0 = oy * p->stride_h - p->pad_h;
      const int32_t in_x0 = ox * p->stride_w - p->pad_w;
      for (int32_t oc = 0; oc < p->out_c; ++oc) {
        int32_t acc = 0;
        for (int32_t ky = 0; ky < p->k_h; ++ky) {
          const int32_t iy = in_y0 + p->dilation_h * ky;
          if (iy < 0 || iy >= p->in_h) continue;
          for (int32_t kx = 0; kx < p->k_w; ++kx) {
            const int32_t ix = in_x0 + p->dilation_w * kx;
            if (ix < 0 || ix >= p->in_w) continue;
            const int8_t* in = input + ((size_t)iy * p->in_w + ix) * p->in_c;
            const int8_t* w = p->weights + (((size_t)oc * p->k_h + ky) * p->k_w + kx) * p->in_c;
            for (int32_t ic = 0; ic < p->in_c; ++ic) {
              acc += (int32_t)w[ic] * ((int32_t)in[ic] + p->input_offset);
            }
          }
        }
        if (p->bias) acc += p->bias[oc];
        acc = edgecnn_multiply_by_quantized_multiplier(acc, p->multiplier[oc], p->shift[oc]);
        acc += p->output_offset;
        output[((size_t)oy * p->out_w + ox) * p->out_c + oc] =
            (int8_t)clamp32(acc, p->act_min, p->act_max);
      }
    }
  }
}

/* reference_integer_ops::DepthwiseConvPerChannel. */
void edgecnn_depthwise_conv_s8(const EdgecnnConvParams* p, const int8_t* input, int8_t* output) {
  for (int32_t oy = 0; oy < p->out_h; ++oy) {
    for (int32_t ox = 0; ox < p->out_w; ++ox) {
      const int32_t in_y0 = oy * p->stride_h - p->pad_h;
      const int32_t in_x0 = ox * p->stride_w - p->pad_w;
      for (int32_t ic = 0; ic < p->in_c; ++ic) {
        for (int32_t m = 0; m < p->depth_multiplier; ++m) {
          const int32_t oc = m + ic * p->depth_multiplier;
          int32_t acc = 0;
          for (int32_t ky = 0; ky < p->k_h; ++ky) {
            const int32_t iy = in_y0 + p->dilation_h * ky;
            if (iy < 0 || iy >= p->in_h) continue;
            for (int32_t kx = 0; kx < p->k_w; ++kx) {
              const int32_t ix = in_x0 + p->dilation_w * kx;
              if (ix < 0 || ix >= p->in_w) continue;
              const int32_t in = input[((size_t)iy * p->in_w + ix) * p->in_c + ic];
              const int32_t w = p->weights[((size_t)ky * p->k_w + kx) * p->out_c + oc];
              acc += w * (in + p->input_offset);
            }
          }
          if (p->bias) acc += p->bias[oc];
          acc = edgecnn_multiply_by_quantized_multiplier(acc, p->multiplier[oc], p->shift[oc]);
          acc += p->output_offset;
          output[((size_t)oy * p->out_w + ox) * p->out_c + oc] =
              (int8_t)clamp32(acc, p->act_min, p->act_max);
        }
      }
    }
  }
}

/* reference_integer_ops::FullyConnected (per tensor) and FullyConnectedPerChannel. */
void edgecnn_fully_connected_s8(const EdgecnnFullyConnectedParams* p, const int8_t* input,
                                int8_t* output) {
  for (int32_t b = 0; b < p->batches; ++b) {
    const int8_t* in = input + (size_t)b * p->in_depth;
    for (int32_t oc = 0; oc < p->out_depth; ++oc) {
      const int8_t* w = p->weights + (size_t)oc * p->in_depth;
      int32_t acc = 0;
      for (int32_t d = 0; d < p->in_depth; ++d) {
        acc += ((int32_t)w[d] + p->filter_offset) * ((int32_t)in[d] + p->input_offset);
      }
      if (p->bias) acc += p->bias[oc];
      acc = edgecnn_multiply_by_quantized_multiplier(acc, p->multiplier[oc], p->shift[oc]);
      acc += p->output_offset;
      output[(size_t)b * p->out_depth + oc] = (int8_t)clamp32(acc, p->act_min, p->act_max);
    }
  }
}

/* reference_integer_ops::AveragePool (int8). */
void edgecnn_average_pool_s8(const EdgecnnPoolParams* p, const int8_t* input, int8_t* output) {
  for (int32_t oy = 0; oy < p->out_h; ++oy) {
    for (int32_t ox = 0; ox < p->out_w; ++ox) {
      const int32_t y0 = oy * p->stride_h - p->pad_h;
      const int32_t x0 = ox * p->stride_w - p->pad_w;
      const int32_t fy_start = y0 < 0 ? -y0 : 0;
      const int32_t fy_end = p->k_h < p->in_h - y0 ? p->k_h : p->in_h - y0;
      const int32_t fx_start = x0 < 0 ? -x0 : 0;
      const int32_t fx_end = p->k_w < p->in_w - x0 ? p->k_w : p->in_w - x0;
      for (int32_t c = 0; c < p->channels; ++c) {
        int32_t acc = 0, count = 0;
        for (int32_t fy = fy_start; fy < fy_end; ++fy) {
          for (int32_t fx = fx_start; fx < fx_end; ++fx) {
            acc += input[((size_t)(y0 + fy) * p->in_w + (x0 + fx)) * p->channels + c];
            ++count;
          }
        }
        if (count == 0) count = 1; /* TFLM fails the op here; the planner never emits it */
        acc = acc > 0 ? (acc + count / 2) / count : (acc - count / 2) / count;
        output[((size_t)oy * p->out_w + ox) * p->channels + c] =
            (int8_t)clamp32(acc, p->act_min, p->act_max);
      }
    }
  }
}

/* reference_integer_ops::MaxPool (int8). */
void edgecnn_max_pool_s8(const EdgecnnPoolParams* p, const int8_t* input, int8_t* output) {
  for (int32_t oy = 0; oy < p->out_h; ++oy) {
    for (int32_t ox = 0; ox < p->out_w; ++ox) {
      const int32_t y0 = oy * p->stride_h - p->pad_h;
      const int32_t x0 = ox * p->stride_w - p->pad_w;
      const int32_t fy_start = y0 < 0 ? -y0 : 0;
      const int32_t fy_end = p->k_h < p->in_h - y0 ? p->k_h : p->in_h - y0;
      const int32_t fx_start = x0 < 0 ? -x0 : 0;
      const int32_t fx_end = p->k_w < p->in_w - x0 ? p->k_w : p->in_w - x0;
      for (int32_t c = 0; c < p->channels; ++c) {
        int32_t best = -128;
        for (int32_t fy = fy_start; fy < fy_end; ++fy) {
          for (int32_t fx = fx_start; fx < fx_end; ++fx) {
            const int32_t v = input[((size_t)(y0 + fy) * p->in_w + (x0 + fx)) * p->channels + c];
            if (v > best) best = v;
          }
        }
        output[((size_t)oy * p->out_w + ox) * p->channels + c] =
            (int8_t)clamp32(best, p->act_min, p->act_max);
      }
    }
  }
}

/* reference_integer_ops::Add (same shapes): both inputs rescaled to a common scale with
 * 20 bits of headroom, added, rescaled to the output. */
void edgecnn_add_s8(const EdgecnnAddParams* p, const int8_t* input1, const int8_t* input2,
                    int8_t* output) {
  for (int32_t i = 0; i < p->count; ++i) {
    const int32_t a = wrap_shl(p->input1_offset + input1[i], p->left_shift);
    const int32_t b = wrap_shl(p->input2_offset + input2[i], p->left_shift);
    const int32_t sa = RDBPOT(SRDHM(a, p->input1_multiplier), -p->input1_shift);
    const int32_t sb = RDBPOT(SRDHM(b, p->input2_multiplier), -p->input2_shift);
    const int32_t sum = wrap_add(sa, sb);
    const int32_t out =
        RDBPOT(SRDHM(sum, p->output_multiplier), -p->output_shift) + p->output_offset;
    output[i] = (int8_t)clamp32(out, p->act_min, p->act_max);
  }
}

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
  for (int32_t row = 0; row < p->outer; ++row) {
    const int8_t* in = input + (size_t)row * p->depth;
    int8_t* out = output + (size_t)row * p->depth;
    int32_t max_in_row = -128;
    for (int32_t c = 0; c < p->depth; ++c) {
      if (in[c] > max_in_row) max_in_row = in[c];
    }
    int32_t sum_of_exps = 0; /* Q12.19 */
    for (int32_t c = 0; c < p->depth; ++c) {
      const int32_t diff = (int32_t)in[c] - max_in_row;
      if (diff >= p->diff_min) {
        const int32_t scaled = SRDHM(wrap_shl(diff, p->input_left_shift), p->input_multiplier);
        sum_of_exps = wrap_add(sum_of_exps, RDBPOT(exp_on_negative_values_q5(scaled), 12));
      }
    }
    const int headroom_plus_one = count_leading_zeros((uint32_t)sum_of_exps);
    const int num_bits_over_unit = 12 - headroom_plus_one;
    const int32_t shifted_sum_minus_one =
        (int32_t)(((uint32_t)sum_of_exps << headroom_plus_one) - (1u << 31));
    const int32_t shifted_scale = one_over_one_plus_x_for_x_in_0_1(shifted_sum_minus_one);
    for (int32_t c = 0; c < p->depth; ++c) {
      const int32_t diff = (int32_t)in[c] - max_in_row;
      if (diff >= p->diff_min) {
        const int32_t scaled = SRDHM(wrap_shl(diff, p->input_left_shift), p->input_multiplier);
        const int32_t exp_in_0 = exp_on_negative_values_q5(scaled);
        const int32_t unsat = RDBPOT(SRDHM(shifted_scale, exp_in_0), num_bits_over_unit + 31 - 8);
        out[c] = (int8_t)clamp32(unsat - 128, -128, 127);
      } else {
        out[c] = -128;
      }
    }
  }
}
