/* DEPTHWISE_CONV_2D (reference_integer_ops::DepthwiseConvPerChannel). */
#include <stddef.h>
#include <string.h>

#include "edgecnn_fixedpoint.h"
#include "edgecnn_kernels.h"

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
