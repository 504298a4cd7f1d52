/* DEPTHWISE_CONV_2D (reference_integer_ops::DepthwiseConvPerChannel). */
#include <stddef.h>
#include <string.h>

#include "edgecnn_fixedpoint.h"
#include "edgecnn_kernels.h"

/* The 3x3 kernel with one output channel per input channel, the channels in fours (quad_taps):
 * weights per four channels, tap after tap. An output pixel whose nine taps lie inside the
 * input sums raw products against the folded bias (bias + offset x the channel's weights), the
 * nine taps unrolled; a pixel on the border adds the offset to each input inside, as the
 * reference does, and skips the taps outside. */
#if defined(__ARM_FEATURE_SIMD32) && __ARM_FEATURE_SIMD32
/* four channels of one tap: a_k += in_k * w_k (SMLABB/SMLATT on the SXTB16 halves) */
#define EDGECNN_DW_TAP(in_ptr, w_ptr)                                  \
  do {                                                                 \
    uint32_t vin_, vw_;                                                \
    memcpy(&vin_, (in_ptr), 4);                                        \
    memcpy(&vw_, (w_ptr), 4);                                          \
    const int16x2_t in02_ = __sxtb16(vin_), in13_ = sxtb16_ror8(vin_); \
    const int16x2_t w02_ = __sxtb16(vw_), w13_ = sxtb16_ror8(vw_);     \
    a0 = __smlabb(in02_, w02_, a0);                                    \
    a2 = __smlatt(in02_, w02_, a2);                                    \
    a1 = __smlabb(in13_, w13_, a1);                                    \
    a3 = __smlatt(in13_, w13_, a3);                                    \
  } while (0)
#else
#define EDGECNN_DW_TAP(in_ptr, w_ptr) \
  do {                                \
    const int8_t* in_ = (in_ptr);     \
    const int8_t* w_ = (w_ptr);       \
    a0 += in_[0] * w_[0];             \
    a1 += in_[1] * w_[1];             \
    a2 += in_[2] * w_[2];             \
    a3 += in_[3] * w_[3];             \
  } while (0)
#endif

/* Four channels of one tap with the input offset added: a_k += w_k * (in_k + offset) (the
 * SIMD variant: inputs + offset and weights as int16 pairs (0, 2) and (1, 3), each channel its
 * own product with SMLABB/SMLATT, not a pair's sum). */
static inline void tap4_offset(const int8_t* in, const int8_t* w, int32_t input_offset,
                               int32_t acc[4]) {
#if defined(__ARM_FEATURE_SIMD32) && __ARM_FEATURE_SIMD32
  uint32_t vin, vw;
  memcpy(&vin, in, 4);
  memcpy(&vw, w, 4);
  const int16x2_t off =
      (int16x2_t)(((uint32_t)(uint16_t)input_offset << 16) | (uint16_t)input_offset);
  const int16x2_t in02 = __sadd16(__sxtb16(vin), off);
  const int16x2_t in13 = __sadd16(sxtb16_ror8(vin), off);
  const int16x2_t w02 = __sxtb16(vw), w13 = sxtb16_ror8(vw);
  acc[0] = __smlabb(in02, w02, acc[0]);
  acc[2] = __smlatt(in02, w02, acc[2]);
  acc[1] = __smlabb(in13, w13, acc[1]);
  acc[3] = __smlatt(in13, w13, acc[3]);
#else
  for (int k = 0; k < 4; ++k) acc[k] += w[k] * (in[k] + input_offset);
#endif
}

static void store_quad(const EdgecnnConvParams* q, const int32_t* bias, int32_t c, int32_t a0,
                       int32_t a1, int32_t a2, int32_t a3, int8_t* out) {
  out[c] = requantize(a0, bias, c, q->multiplier[c], q->shift[c], q->output_offset, q->act_min,
                      q->act_max);
  out[c + 1] = requantize(a1, bias, c + 1, q->multiplier[c + 1], q->shift[c + 1], q->output_offset,
                          q->act_min, q->act_max);
  out[c + 2] = requantize(a2, bias, c + 2, q->multiplier[c + 2], q->shift[c + 2], q->output_offset,
                          q->act_min, q->act_max);
  out[c + 3] = requantize(a3, bias, c + 3, q->multiplier[c + 3], q->shift[c + 3], q->output_offset,
                          q->act_min, q->act_max);
}

static void depthwise_3x3_quads(const EdgecnnConvParams* p, const int8_t* input, int8_t* output) {
  const EdgecnnConvParams q = *p;
  const int32_t in_c = q.in_c;
  const size_t col = (size_t)q.dilation_w * in_c, row = (size_t)q.dilation_h * q.in_w * in_c;
  for (int32_t oy = 0; oy < q.out_h; ++oy) {
    const int32_t in_y0 = oy * q.stride_h - q.pad_h;
    const int y_inside = in_y0 >= 0 && in_y0 + 2 * q.dilation_h < q.in_h;
    for (int32_t ox = 0; ox < q.out_w; ++ox) {
      const int32_t in_x0 = ox * q.stride_w - q.pad_w;
      int8_t* out = output + ((size_t)oy * q.out_w + ox) * q.out_c;
      const int8_t* w = q.weights;
      if (y_inside && in_x0 >= 0 && in_x0 + 2 * q.dilation_w < q.in_w) {
        const int8_t* in = input + ((size_t)in_y0 * q.in_w + in_x0) * in_c;
        for (int32_t c = 0; c < in_c; c += 4, in += 4, w += 36) {
          int32_t a0 = 0, a1 = 0, a2 = 0, a3 = 0;
          EDGECNN_DW_TAP(in, w);
          EDGECNN_DW_TAP(in + col, w + 4);
          EDGECNN_DW_TAP(in + 2 * col, w + 8);
          EDGECNN_DW_TAP(in + row, w + 12);
          EDGECNN_DW_TAP(in + row + col, w + 16);
          EDGECNN_DW_TAP(in + row + 2 * col, w + 20);
          EDGECNN_DW_TAP(in + 2 * row, w + 24);
          EDGECNN_DW_TAP(in + 2 * row + col, w + 28);
          EDGECNN_DW_TAP(in + 2 * row + 2 * col, w + 32);
          store_quad(&q, q.folded_bias, c, a0, a1, a2, a3, out);
        }
        continue;
      }
      /* on the border: the taps inside the input, found once for the pixel */
      int32_t ky0 = 0, ky1 = 3, kx0 = 0, kx1 = 3;
      while (ky0 < ky1 && in_y0 + q.dilation_h * ky0 < 0) ++ky0;
      while (ky1 > ky0 && in_y0 + q.dilation_h * (ky1 - 1) >= q.in_h) --ky1;
      while (kx0 < kx1 && in_x0 + q.dilation_w * kx0 < 0) ++kx0;
      while (kx1 > kx0 && in_x0 + q.dilation_w * (kx1 - 1) >= q.in_w) --kx1;
      /* where the window's corner would be: it may lie outside the input, the taps used do not */
      const ptrdiff_t corner = ((ptrdiff_t)in_y0 * q.in_w + in_x0) * in_c;
      for (int32_t c = 0; c < in_c; c += 4, w += 36) {
        int32_t acc[4] = {0, 0, 0, 0};
        for (int32_t ky = ky0; ky < ky1; ++ky) {
          for (int32_t kx = kx0; kx < kx1; ++kx) {
            const int8_t* in = input + (corner + (ptrdiff_t)ky * (ptrdiff_t)row +
                                        (ptrdiff_t)kx * (ptrdiff_t)col + c);
            tap4_offset(in, w + 4 * (3 * ky + kx), q.input_offset, acc);
          }
        }
        store_quad(&q, q.bias, c, acc[0], acc[1], acc[2], acc[3], out);
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
  if (p->quad_taps) {
    depthwise_3x3_quads(p, input, output);
    return;
  }
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
          int32_t acc4[4] = {0, 0, 0, 0};
          for (int32_t ky = ky0; ky < ky1; ++ky) {
            const int8_t* in = input +
                               ((size_t)(in_y0 + q.dilation_h * ky) * q.in_w +
                                (size_t)(in_x0 + q.dilation_w * kx0)) *
                                   q.in_c +
                               c;
            const int8_t* w = q.weights + ((size_t)ky * q.k_w + kx0) * q.out_c + c;
            for (int32_t kx = kx0; kx < kx1; ++kx, in += tap_x, w += q.out_c) {
              tap4_offset(in, w, q.input_offset, acc4);
            }
          }
          store_quad(&q, q.bias, c, acc4[0], acc4[1], acc4[2], acc4[3], out);
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
