/* DEPTHWISE_CONV_2D (reference_integer_ops::DepthwiseConvPerChannel), the general kernel and
 * the wrapper that picks: the 3x3 kernel (edgecnn_depthwise_conv_3x3_s8.c) where the host set
 * quad_taps. */
#include <stddef.h>
#include <string.h>

#include "edgecnn_depthwise_output.h"

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

int32_t edgecnn_depthwise_conv_s8_scratch_bytes(const EdgecnnConvParams* p, int in_place) {
  /* the general kernel: an int32 sum per output channel (which the 3x3 kernel's zero-point row
   * fits in); the 3x3 kernel in place: its own figure */
  return in_place ? edgecnn_depthwise_conv_3x3_s8_scratch_bytes(p, in_place) : 4 * p->out_c;
}

/* reference_integer_ops::DepthwiseConvPerChannel. With one output channel per input channel,
 * four channels at a time are accumulated in registers over the taps of one output pixel (the
 * weights and inputs of one tap are contiguous across channels); otherwise all channels of the
 * pixel in the scratch. */
void edgecnn_depthwise_conv_s8(const EdgecnnConvParams* p, const int8_t* input, int8_t* output,
                               void* scratch) {
  /* a local copy: stores through int8_t pointers may alias *p, not q */
  if (p->quad_taps) {
    edgecnn_depthwise_conv_3x3_s8(p, input, output, scratch);
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
          for (int32_t k = 0; k < 4; ++k) out[c + k] = output_value(&q, q.bias, c + k, acc4[k]);
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
        out[oc] = output_value(&q, q.bias, oc, acc[oc]);
      }
    }
  }
}
