/* edgecnn's int8 kernels (see edgecnn_kernels.h). The comments name the TFLM reference
 * function each one reproduces, bit for bit. */
#include "edgecnn_kernels.h"

#include <stddef.h>
#include <string.h>

#if defined(__ARM_FEATURE_SIMD32) && __ARM_FEATURE_SIMD32
#include <arm_acle.h>
#endif

#define EDGECNN_INT32_MAX 2147483647
#define EDGECNN_INT32_MIN (-EDGECNN_INT32_MAX - 1)

static int32_t clamp32(int32_t v, int32_t lo, int32_t hi) { return v < lo ? lo : v > hi ? hi : v; }

/* Wrapping int32 arithmetic, as the reference's int32 code computes on every target. */
static int32_t wrap_add(int32_t a, int32_t b) { return (int32_t)((uint32_t)a + (uint32_t)b); }
static int32_t wrap_shl(int32_t a, int s) { return (int32_t)((uint32_t)a << s); }

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

#define SRDHM edgecnn_saturating_rounding_doubling_high_mul
#define RDBPOT edgecnn_rounding_divide_by_pot

/* MultiplyByQuantizedMultiplier for the kernels' per-channel multipliers, which the host makes
 * in [2^30, 2^31) (never INT32_MIN, so SRDHM's one saturating case cannot occur): the same
 * arithmetic as edgecnn_multiply_by_quantized_multiplier() without it, inlined. */
static inline int32_t scale_by_multiplier(int32_t x, int32_t multiplier, int32_t shift) {
  const int32_t left = shift > 0 ? shift : 0, right = shift > 0 ? 0 : -shift;
  return rounding_divide_by_pot(doubling_high_mul(wrap_shl(x, left), multiplier), right);
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

/* CONV_2D weights are stored as the DSP loop reads them (edgecnn/runtimes/native.py,
 * conv_weight_layout): output channels in pairs; for each group of four inputs, the four bytes
 * of the pair's first channel then of its second, each group's bytes in the order 0, 2, 1, 3,
 * so that SXTB16 gives the int16 pair (0, 1) and SXTB16 of the word rotated by 8 the pair
 * (2, 3), matching int16 inputs in their natural order; then the n % 4 last bytes of each
 * channel as they are. An odd last channel is a pair of one. */

/* acc[k] += Σ a·wk and acc[2 + k] += Σ b·wk for the pair's channels k = 0, 1 (one channel when
 * `two` is 0); `w` at the pair's first byte; a and b int16 of n inputs each. */
static void conv_pair(const int16_t* a, const int16_t* b, const int8_t* w, int32_t n, int32_t two,
                      int32_t acc[4]) {
  int32_t a0 = acc[0], a1 = acc[1], b0 = acc[2], b1 = acc[3];
  const int32_t groups = n >> 2, tail = n & 3;
  if (two) {
    for (const int16_t* const a_end = a + 4 * groups; a < a_end; a += 4, b += 4, w += 8) {
#if defined(__ARM_FEATURE_SIMD32) && __ARM_FEATURE_SIMD32
      uint32_t w0, w1, a01, a23, b01, b23;
      memcpy(&w0, w, 4);
      memcpy(&w1, w + 4, 4);
      memcpy(&a01, a, 4);
      memcpy(&b01, b, 4);
      const int16x2_t w0_01 = __sxtb16(w0), w1_01 = __sxtb16(w1);
      a0 = __smlad((int16x2_t)a01, w0_01, a0);
      a1 = __smlad((int16x2_t)a01, w1_01, a1);
      b0 = __smlad((int16x2_t)b01, w0_01, b0);
      b1 = __smlad((int16x2_t)b01, w1_01, b1);
      memcpy(&a23, a + 2, 4);
      memcpy(&b23, b + 2, 4);
      const int16x2_t w0_23 = sxtb16_ror8(w0), w1_23 = sxtb16_ror8(w1);
      a0 = __smlad((int16x2_t)a23, w0_23, a0);
      a1 = __smlad((int16x2_t)a23, w1_23, a1);
      b0 = __smlad((int16x2_t)b23, w0_23, b0);
      b1 = __smlad((int16x2_t)b23, w1_23, b1);
#else
      a0 += a[0] * w[0] + a[1] * w[2] + a[2] * w[1] + a[3] * w[3];
      a1 += a[0] * w[4] + a[1] * w[6] + a[2] * w[5] + a[3] * w[7];
      b0 += b[0] * w[0] + b[1] * w[2] + b[2] * w[1] + b[3] * w[3];
      b1 += b[0] * w[4] + b[1] * w[6] + b[2] * w[5] + b[3] * w[7];
#endif
    }
    for (int32_t i = 0; i < tail; ++i) {
      a0 += a[i] * w[i];
      b0 += b[i] * w[i];
      a1 += a[i] * w[tail + i];
      b1 += b[i] * w[tail + i];
    }
  } else {
    for (int32_t g = 0; g < groups; ++g, a += 4, b += 4, w += 4) {
      a0 += a[0] * w[0] + a[1] * w[2] + a[2] * w[1] + a[3] * w[3];
      b0 += b[0] * w[0] + b[1] * w[2] + b[2] * w[1] + b[3] * w[3];
    }
    for (int32_t i = 0; i < tail; ++i) {
      a0 += a[i] * w[i];
      b0 += b[i] * w[i];
    }
  }
  acc[0] = a0, acc[1] = a1, acc[2] = b0, acc[3] = b1;
}

/* n int8 values as int16, in order (the SIMD variant four at a time: SXTB16 splits bytes 0, 2
 * and 1, 3; PKHBT/PKHTB put them back in order). */
static void widen_s8(const int8_t* in, int16_t* out, int32_t n) {
  int32_t i = 0;
#if defined(__ARM_FEATURE_SIMD32) && __ARM_FEATURE_SIMD32
  for (; i + 4 <= n; i += 4) {
    uint32_t v;
    memcpy(&v, in + i, 4);
    const uint32_t even = (uint32_t)__sxtb16(v), odd = (uint32_t)sxtb16_ror8(v);
    const uint32_t lo = (even & 0xFFFFu) | (odd << 16);     /* values 0, 1 */
    const uint32_t hi = (even >> 16) | (odd & 0xFFFF0000u); /* values 2, 3 */
    memcpy(out + i, &lo, 4);
    memcpy(out + i + 2, &hi, 4);
  }
#endif
  for (; i < n; ++i) out[i] = in[i];
}

/* One output pixel's receptive field as int16 of the raw inputs, in the weights' order
 * ([kh][kw][in]); a tap outside the input holds the input's zero point, which the folded bias
 * cancels exactly. */
static void im2col_s16(const EdgecnnConvParams* q, const int8_t* input, int32_t in_y0,
                       int32_t in_x0, int16_t* col) {
  const int16_t zero_point = (int16_t)(-q->input_offset);
  const int32_t in_c = q->in_c;
  for (int32_t ky = 0; ky < q->k_h; ++ky) {
    const int32_t iy = in_y0 + q->dilation_h * ky;
    for (int32_t kx = 0; kx < q->k_w; ++kx, col += in_c) {
      const int32_t ix = in_x0 + q->dilation_w * kx;
      if (iy < 0 || iy >= q->in_h || ix < 0 || ix >= q->in_w) {
        for (int32_t c = 0; c < in_c; ++c) col[c] = zero_point;
      } else {
        widen_s8(input + ((size_t)iy * q->in_w + ix) * in_c, col, in_c);
      }
    }
  }
}

int32_t edgecnn_conv_s8_scratch_bytes(const EdgecnnConvParams* p) {
  /* two pixels' int16 windows, each a multiple of four values */
  return 2 * 2 * ((p->k_h * p->k_w * p->in_c + 3) & ~3);
}

/* reference_integer_ops::ConvPerChannel (one group). Σ w·(x + offset) + bias is computed as
 * Σ w·x + folded_bias, folded_bias = bias + offset·Σ w (made on the host), over int16 copies of
 * the raw inputs of two output pixels (a pointwise convolution's pixels widened where they
 * are, any other's windows by im2col_s16); two pixels by two output channels per inner loop,
 * each load serving two products. */
void edgecnn_conv_s8(const EdgecnnConvParams* p, const int8_t* input, int8_t* output,
                     void* scratch) {
  /* a local copy: stores through int8_t pointers may alias *p, not q */
  const EdgecnnConvParams q = *p;
  const int32_t n = q.k_h * q.k_w * q.in_c;
  const int pointwise = q.k_h == 1 && q.k_w == 1 && q.stride_h == 1 && q.stride_w == 1 &&
                        q.pad_h == 0 && q.pad_w == 0;
  int16_t* col_a = (int16_t*)scratch;
  int16_t* col_b = col_a + ((n + 3) & ~3);
  const int32_t pixels = q.out_h * q.out_w;
  for (int32_t px = 0; px < pixels; px += 2) {
    const int32_t pair = px + 1 < pixels;
    if (pointwise) {
      widen_s8(input + (size_t)px * q.in_c, col_a, n);
      if (pair) widen_s8(input + (size_t)(px + 1) * q.in_c, col_b, n);
    } else {
      const int32_t oy = px / q.out_w, ox = px % q.out_w;
      im2col_s16(&q, input, oy * q.stride_h - q.pad_h, ox * q.stride_w - q.pad_w, col_a);
      if (pair) {
        const int32_t oy1 = (px + 1) / q.out_w, ox1 = (px + 1) % q.out_w;
        im2col_s16(&q, input, oy1 * q.stride_h - q.pad_h, ox1 * q.stride_w - q.pad_w, col_b);
      }
    }
    const int16_t* b = pair ? col_b : col_a;
    int8_t* out_a = output + (size_t)px * q.out_c;
    int8_t* out_b = out_a + q.out_c;
    const int8_t* w = q.weights;
    for (int32_t oc = 0; oc < q.out_c; oc += 2, w += 2 * n) {
      const int32_t two = oc + 1 < q.out_c;
      int32_t acc[4] = {0, 0, 0, 0};
      conv_pair(col_a, b, w, n, two, acc);
      out_a[oc] = requantize(acc[0], q.folded_bias, oc, q.multiplier[oc], q.shift[oc],
                             q.output_offset, q.act_min, q.act_max);
      if (two) {
        out_a[oc + 1] = requantize(acc[1], q.folded_bias, oc + 1, q.multiplier[oc + 1],
                                   q.shift[oc + 1], q.output_offset, q.act_min, q.act_max);
      }
      if (pair) {
        out_b[oc] = requantize(acc[2], q.folded_bias, oc, q.multiplier[oc], q.shift[oc],
                               q.output_offset, q.act_min, q.act_max);
        if (two) {
          out_b[oc + 1] = requantize(acc[3], q.folded_bias, oc + 1, q.multiplier[oc + 1],
                                     q.shift[oc + 1], q.output_offset, q.act_min, q.act_max);
        }
      }
    }
  }
}

/* reference_integer_ops::DepthwiseConvPerChannel. With one output channel per input channel,
 * four channels at a time are accumulated in registers over the taps of one output pixel (the
 * weights and inputs of one tap are contiguous across channels); otherwise all channels of the
 * pixel in the scratch. */
void edgecnn_depthwise_conv_s8(const EdgecnnConvParams* p, const int8_t* input, int8_t* output,
                               void* scratch) {
  /* a local copy: stores through int8_t pointers may alias *p, not q */
  const EdgecnnConvParams q = *p;
  int32_t* acc = (int32_t*)scratch;
  const int32_t m = q.depth_multiplier;
  for (int32_t oy = 0; oy < q.out_h; ++oy) {
    const int32_t in_y0 = oy * q.stride_h - q.pad_h;
    for (int32_t ox = 0; ox < q.out_w; ++ox) {
      const int32_t in_x0 = ox * q.stride_w - q.pad_w;
      int8_t* out = output + ((size_t)oy * q.out_w + ox) * q.out_c;
      int32_t c = 0;
      if (m == 1) {
        /* the taps inside the input, once per pixel */
        int32_t ky0 = 0, ky1 = q.k_h, kx0 = 0, kx1 = q.k_w;
        while (ky0 < ky1 && in_y0 + q.dilation_h * ky0 < 0) ++ky0;
        while (ky1 > ky0 && in_y0 + q.dilation_h * (ky1 - 1) >= q.in_h) --ky1;
        while (kx0 < kx1 && in_x0 + q.dilation_w * kx0 < 0) ++kx0;
        while (kx1 > kx0 && in_x0 + q.dilation_w * (kx1 - 1) >= q.in_w) --kx1;
        const size_t tap_x = (size_t)q.dilation_w * q.in_c;
        for (; c + 4 <= q.out_c; c += 4) {
          int32_t a0 = 0, a1 = 0, a2 = 0, a3 = 0;
          for (int32_t ky = ky0; ky < ky1; ++ky) {
            const int8_t* in = input +
                               ((size_t)(in_y0 + q.dilation_h * ky) * q.in_w +
                                (size_t)(in_x0 + q.dilation_w * kx0)) *
                                   q.in_c +
                               c;
            const int8_t* w = q.weights + ((size_t)ky * q.k_w + kx0) * q.out_c + c;
            for (int32_t kx = kx0; kx < kx1; ++kx, in += tap_x, w += q.out_c) {
#if defined(__ARM_FEATURE_SIMD32) && __ARM_FEATURE_SIMD32
              /* four channels: inputs + offset and weights as int16 pairs (0, 2) and (1, 3),
               * each channel its own product (SMLABB/SMLATT), not a pair's sum */
              uint32_t vin, vw;
              memcpy(&vin, in, 4);
              memcpy(&vw, w, 4);
              const int16x2_t off = (int16x2_t)(((uint32_t)(uint16_t)q.input_offset << 16) |
                                                (uint16_t)q.input_offset);
              const int16x2_t in02 = __sadd16(__sxtb16(vin), off);
              const int16x2_t in13 = __sadd16(sxtb16_ror8(vin), off);
              const int16x2_t w02 = __sxtb16(vw), w13 = sxtb16_ror8(vw);
              a0 = __smlabb(in02, w02, a0);
              a2 = __smlatt(in02, w02, a2);
              a1 = __smlabb(in13, w13, a1);
              a3 = __smlatt(in13, w13, a3);
#else
              a0 += w[0] * (in[0] + q.input_offset);
              a1 += w[1] * (in[1] + q.input_offset);
              a2 += w[2] * (in[2] + q.input_offset);
              a3 += w[3] * (in[3] + q.input_offset);
#endif
            }
          }
          out[c] = requantize(a0, q.bias, c, q.multiplier[c], q.shift[c], q.output_offset,
                              q.act_min, q.act_max);
          out[c + 1] = requantize(a1, q.bias, c + 1, q.multiplier[c + 1], q.shift[c + 1],
                                  q.output_offset, q.act_min, q.act_max);
          out[c + 2] = requantize(a2, q.bias, c + 2, q.multiplier[c + 2], q.shift[c + 2],
                                  q.output_offset, q.act_min, q.act_max);
          out[c + 3] = requantize(a3, q.bias, c + 3, q.multiplier[c + 3], q.shift[c + 3],
                                  q.output_offset, q.act_min, q.act_max);
        }
      }
      if (c == q.out_c) continue;
      for (int32_t oc = c; oc < q.out_c; ++oc) acc[oc] = 0;
      for (int32_t ky = 0; ky < q.k_h; ++ky) {
        const int32_t iy = in_y0 + q.dilation_h * ky;
        if (iy < 0 || iy >= q.in_h) continue;
        for (int32_t kx = 0; kx < q.k_w; ++kx) {
          const int32_t ix = in_x0 + q.dilation_w * kx;
          if (ix < 0 || ix >= q.in_w) continue;
          const int8_t* in = input + ((size_t)iy * q.in_w + ix) * q.in_c;
          const int8_t* w = q.weights + ((size_t)ky * q.k_w + kx) * q.out_c;
          for (int32_t oc = c; oc < q.out_c; ++oc) {
            acc[oc] += w[oc] * (in[oc / m] + q.input_offset);
          }
        }
      }
      for (int32_t oc = c; oc < q.out_c; ++oc) {
        out[oc] = requantize(acc[oc], q.bias, oc, q.multiplier[oc], q.shift[oc], q.output_offset,
                             q.act_min, q.act_max);
      }
    }
  }
}

/* Four sums at once: the input x against the weight rows w0..w3 (acc[k] += x.wk), bytes
 * split by SXTB16 alike for input and weights. */
static void dot_1x4(const int8_t* x, const int8_t* w0, int32_t n, int32_t acc[4]) {
  const int8_t *w1 = w0 + n, *w2 = w1 + n, *w3 = w2 + n;
  int32_t s0 = acc[0], s1 = acc[1], s2 = acc[2], s3 = acc[3];
  int32_t i = 0;
#if defined(__ARM_FEATURE_SIMD32) && __ARM_FEATURE_SIMD32
  for (; i + 4 <= n; i += 4) {
    uint32_t vx, v0, v1, v2, v3;
    memcpy(&vx, x + i, 4);
    memcpy(&v0, w0 + i, 4);
    memcpy(&v1, w1 + i, 4);
    memcpy(&v2, w2 + i, 4);
    memcpy(&v3, w3 + i, 4);
    const int16x2_t x02 = __sxtb16(vx), x13 = sxtb16_ror8(vx);
    s0 = __smlad(x02, __sxtb16(v0), __smlad(x13, sxtb16_ror8(v0), s0));
    s1 = __smlad(x02, __sxtb16(v1), __smlad(x13, sxtb16_ror8(v1), s1));
    s2 = __smlad(x02, __sxtb16(v2), __smlad(x13, sxtb16_ror8(v2), s2));
    s3 = __smlad(x02, __sxtb16(v3), __smlad(x13, sxtb16_ror8(v3), s3));
  }
#endif
  for (; i < n; ++i) {
    s0 += x[i] * w0[i];
    s1 += x[i] * w1[i];
    s2 += x[i] * w2[i];
    s3 += x[i] * w3[i];
  }
  acc[0] = s0, acc[1] = s1, acc[2] = s2, acc[3] = s3;
}

/* reference_integer_ops::FullyConnected (per tensor) and FullyConnectedPerChannel. With
 * symmetric weights (filter_offset 0, as int8 models have) Σ w·(x + offset) + bias is
 * Σ w·x + folded_bias, four output channels per pass over the input; otherwise the
 * reference's arithmetic as written. */
void edgecnn_fully_connected_s8(const EdgecnnFullyConnectedParams* p, const int8_t* input,
                                int8_t* output, void* scratch) {
  /* a local copy: stores through int8_t pointers may alias *p, not q */
  const EdgecnnFullyConnectedParams q = *p;
  const int32_t n = q.in_depth;
  (void)scratch;
  for (int32_t b = 0; b < q.batches; ++b) {
    const int8_t* in = input + (size_t)b * n;
    int8_t* out = output + (size_t)b * q.out_depth;
    int32_t oc = 0;
    if (q.filter_offset == 0) {
      for (; oc + 4 <= q.out_depth; oc += 4) {
        int32_t acc[4] = {0, 0, 0, 0};
        dot_1x4(in, q.weights + (size_t)oc * n, n, acc);
        for (int32_t k = 0; k < 4; ++k) {
          const int32_t r = q.per_channel ? oc + k : 0;
          out[oc + k] = requantize(acc[k], q.folded_bias, oc + k, q.multiplier[r], q.shift[r],
                                   q.output_offset, q.act_min, q.act_max);
        }
      }
      for (; oc < q.out_depth; ++oc) {
        const int8_t* w = q.weights + (size_t)oc * n;
        int32_t acc = 0;
        for (int32_t d = 0; d < n; ++d) acc += w[d] * in[d];
        const int32_t r = q.per_channel ? oc : 0;
        out[oc] = requantize(acc, q.folded_bias, oc, q.multiplier[r], q.shift[r], q.output_offset,
                             q.act_min, q.act_max);
      }
      continue;
    }
    for (; oc < q.out_depth; ++oc) {
      const int8_t* w = q.weights + (size_t)oc * n;
      int32_t acc = 0;
      for (int32_t d = 0; d < n; ++d) {
        acc += ((int32_t)w[d] + q.filter_offset) * ((int32_t)in[d] + q.input_offset);
      }
      const int32_t r = q.per_channel ? oc : 0;
      out[oc] = requantize(acc, q.bias, oc, q.multiplier[r], q.shift[r], q.output_offset, q.act_min,
                           q.act_max);
    }
  }
}

/* The part of a pooling window inside the input: taps fy_start..fy_end-1 by
 * fx_start..fx_end-1 from the window's top-left corner (y0, x0), as the reference clips it. */
typedef struct {
  int32_t y0, x0, fy_start, fy_end, fx_start, fx_end;
} PoolWindow;

static PoolWindow pool_window(const EdgecnnPoolParams* q, int32_t oy, int32_t ox) {
  PoolWindow w;
  w.y0 = oy * q->stride_h - q->pad_h;
  w.x0 = ox * q->stride_w - q->pad_w;
  w.fy_start = w.y0 < 0 ? -w.y0 : 0;
  w.fy_end = q->k_h < q->in_h - w.y0 ? q->k_h : q->in_h - w.y0;
  w.fx_start = w.x0 < 0 ? -w.x0 : 0;
  w.fx_end = q->k_w < q->in_w - w.x0 ? q->k_w : q->in_w - w.x0;
  return w;
}

/* reference_integer_ops::AveragePool (int8). */
void edgecnn_average_pool_s8(const EdgecnnPoolParams* p, const int8_t* input, int8_t* output) {
  /* a local copy: stores through int8_t pointers may alias *p, not q */
  const EdgecnnPoolParams q = *p;
  for (int32_t oy = 0; oy < q.out_h; ++oy) {
    for (int32_t ox = 0; ox < q.out_w; ++ox) {
      const PoolWindow w = pool_window(&q, oy, ox);
      for (int32_t c = 0; c < q.channels; ++c) {
        int32_t acc = 0, count = 0;
        for (int32_t fy = w.fy_start; fy < w.fy_end; ++fy) {
          for (int32_t fx = w.fx_start; fx < w.fx_end; ++fx) {
            acc += input[((size_t)(w.y0 + fy) * q.in_w + (w.x0 + fx)) * q.channels + c];
            ++count;
          }
        }
        if (count == 0) count = 1; /* TFLM fails the op here; the planner never emits it */
        acc = acc > 0 ? (acc + count / 2) / count : (acc - count / 2) / count;
        output[((size_t)oy * q.out_w + ox) * q.channels + c] =
            (int8_t)clamp32(acc, q.act_min, q.act_max);
      }
    }
  }
}

/* reference_integer_ops::MaxPool (int8). */
void edgecnn_max_pool_s8(const EdgecnnPoolParams* p, const int8_t* input, int8_t* output) {
  /* a local copy: stores through int8_t pointers may alias *p, not q */
  const EdgecnnPoolParams q = *p;
  for (int32_t oy = 0; oy < q.out_h; ++oy) {
    for (int32_t ox = 0; ox < q.out_w; ++ox) {
      const PoolWindow w = pool_window(&q, oy, ox);
      for (int32_t c = 0; c < q.channels; ++c) {
        int32_t best = -128;
        for (int32_t fy = w.fy_start; fy < w.fy_end; ++fy) {
          for (int32_t fx = w.fx_start; fx < w.fx_end; ++fx) {
            const int32_t v = input[((size_t)(w.y0 + fy) * q.in_w + (w.x0 + fx)) * q.channels + c];
            if (v > best) best = v;
          }
        }
        output[((size_t)oy * q.out_w + ox) * q.channels + c] =
            (int8_t)clamp32(best, q.act_min, q.act_max);
      }
    }
  }
}

/* reference_integer_ops::Add (same shapes), and SubElementwise: both inputs rescaled to a
 * common scale with 20 bits of headroom, added (subtracted), rescaled to the output. */
void edgecnn_add_s8(const EdgecnnAddParams* p, const int8_t* input1, const int8_t* input2,
                    int8_t* output) {
  /* a local copy: stores through int8_t pointers may alias *p, not q */
  const EdgecnnAddParams q = *p;
  for (int32_t i = 0; i < q.count; ++i) {
    const int32_t a = wrap_shl(q.input1_offset + input1[i], q.left_shift);
    const int32_t b = wrap_shl(q.input2_offset + input2[q.input2_count == 1 ? 0 : i], q.left_shift);
    const int32_t sa = RDBPOT(SRDHM(a, q.input1_multiplier), -q.input1_shift);
    const int32_t sb = RDBPOT(SRDHM(b, q.input2_multiplier), -q.input2_shift);
    const int32_t sum = q.subtract ? wrap_add(sa, (int32_t)(0u - (uint32_t)sb)) : wrap_add(sa, sb);
    const int32_t out = RDBPOT(SRDHM(sum, q.output_multiplier), -q.output_shift) + q.output_offset;
    output[i] = (int8_t)clamp32(out, q.act_min, q.act_max);
  }
}

/* reference_integer_ops::MulElementwise (and its broadcast of one value). */
void edgecnn_mul_s8(const EdgecnnMulParams* p, const int8_t* input1, const int8_t* input2,
                    int8_t* output) {
  const EdgecnnMulParams q = *p;
  for (int32_t i = 0; i < q.count; ++i) {
    const int32_t a = q.input1_offset + input1[i];
    const int32_t b = q.input2_offset + input2[q.input2_count == 1 ? 0 : i];
    const int32_t out = q.output_offset + edgecnn_multiply_by_quantized_multiplier(
                                              a * b, q.output_multiplier, q.output_shift);
    output[i] = (int8_t)clamp32(out, q.act_min, q.act_max);
  }
}

/* reference_ops::ComputeInterpolationValuesInteger. */
static void interpolation_values(int32_t value, int32_t scale_10, int32_t half_pixel_centers,
                                 int32_t input_size, int32_t* scaled, int32_t* lower,
                                 int32_t* upper) {
  *scaled = half_pixel_centers ? value * scale_10 + scale_10 / 2 - (1 << 9) : value * scale_10;
  const int32_t lo = *scaled / (1 << 10);
  *lower = lo > 0 ? lo : 0;
  const int32_t hi = (*scaled + (1 << 10) - 1) / (1 << 10);
  *upper = hi < input_size - 1 ? hi : input_size - 1;
}

/* reference_ops::ResizeBilinearInteger (int8): Q10 weights, the 20-bit sum rounded half away
 * from zero. */
void edgecnn_resize_bilinear_s8(const EdgecnnResizeBilinearParams* p, const int8_t* input,
                                int8_t* output) {
  const EdgecnnResizeBilinearParams q = *p;
  for (int32_t y = 0; y < q.out_h; ++y) {
    int32_t in_y, y0, y1;
    interpolation_values(y, q.height_scale_10, q.half_pixel_centers, q.in_h, &in_y, &y0, &y1);
    const int32_t dy = in_y - (1 << 10) * y0;
    for (int32_t x = 0; x < q.out_w; ++x) {
      int32_t in_x, x0, x1;
      interpolation_values(x, q.width_scale_10, q.half_pixel_centers, q.in_w, &in_x, &x0, &x1);
      const int32_t dx = in_x - (1 << 10) * x0;
      for (int32_t c = 0; c < q.channels; ++c) {
        const int64_t ll = (int64_t)input[((size_t)y0 * q.in_w + x0) * q.channels + c] *
                           ((1 << 10) - dy) * ((1 << 10) - dx);
        const int64_t lu =
            (int64_t)input[((size_t)y1 * q.in_w + x0) * q.channels + c] * dy * ((1 << 10) - dx);
        const int64_t rl =
            (int64_t)input[((size_t)y0 * q.in_w + x1) * q.channels + c] * ((1 << 10) - dy) * dx;
        const int64_t ru = (int64_t)input[((size_t)y1 * q.in_w + x1) * q.channels + c] * dy * dx;
        const int64_t sum = ll + lu + rl + ru;
        const int64_t round = sum > 0 ? (1 << 19) : -(1 << 19);
        output[((size_t)y * q.out_w + x) * q.channels + c] = (int8_t)((sum + round) / (1 << 20));
      }
    }
  }
}

/* TFLM's CONCATENATION (int8): the inputs' bytes side by side along the axis, unchanged. */
void edgecnn_concatenation_s8(const EdgecnnConcatenationParams* p, const int8_t* arena,
                              int8_t* output) {
  const EdgecnnConcatenationParams q = *p;
  for (int32_t o = 0; o < q.outer; ++o) {
    for (int32_t i = 0; i < q.inputs; ++i) {
      const int32_t n = q.copy_bytes[i];
      memcpy(output, arena + q.offsets[i] + (size_t)o * n, (size_t)n);
      output += n;
    }
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

/* reference_ops::PadImpl for int8: every output element is the input's where the input lies,
 * the padding value elsewhere. Rows of the innermost dimension are copied whole. */
void edgecnn_pad_s8(const EdgecnnPadParams* p, const int8_t* input, int8_t* output) {
  const EdgecnnPadParams q = *p;
  const int32_t row = q.in_dims[3];
  for (int32_t a = 0; a < q.out_dims[0]; ++a) {
    for (int32_t b = 0; b < q.out_dims[1]; ++b) {
      for (int32_t c = 0; c < q.out_dims[2]; ++c) {
        int8_t* out =
            output + (((size_t)a * q.out_dims[1] + b) * q.out_dims[2] + c) * q.out_dims[3];
        const int32_t ia = a - q.before[0], ib = b - q.before[1], ic = c - q.before[2];
        if (ia < 0 || ia >= q.in_dims[0] || ib < 0 || ib >= q.in_dims[1] || ic < 0 ||
            ic >= q.in_dims[2]) {
          memset(out, (int8_t)q.value, (size_t)q.out_dims[3]);
          continue;
        }
        const int8_t* in = input + (((size_t)ia * q.in_dims[1] + ib) * q.in_dims[2] + ic) * row;
        memset(out, (int8_t)q.value, (size_t)q.before[3]);
        memcpy(out + q.before[3], in, (size_t)row);
        memset(out + q.before[3] + row, (int8_t)q.value,
               (size_t)(q.out_dims[3] - q.before[3] - row));
      }
    }
  }
}
