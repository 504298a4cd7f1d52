/* CONV_2D (reference_integer_ops::ConvPerChannel): int16 copies of two output pixels' inputs
 * (a pointwise convolution's pixels widened where they are, any other's windows gathered)
 * against pairs of output channels, SMLAD on a DSP core. */
#include <stddef.h>
#include <string.h>

#include "edgecnn_fixedpoint.h"
#include "edgecnn_kernels.h"

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
