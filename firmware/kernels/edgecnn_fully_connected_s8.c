/* FULLY_CONNECTED (reference_integer_ops::FullyConnected, per tensor and per channel). */
#include <stddef.h>
#include <string.h>

#include "edgecnn_fixedpoint.h"
#include "edgecnn_kernels.h"

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
