/* FULLY_CONNECTED (reference_integer_ops::FullyConnected, per tensor and per channel). */
#include <stddef.h>
#include <string.h>

#include "edgecnn_fixedpoint.h"
#include "edgecnn_kernels.h"

/* The folded path's weights (edgecnn/runtimes/native_kernels.py, fully_connected_weight_layout):
 * rows in blocks of four, each block group by group (four inputs of row 0, of row 1, of row 2,
 * of row 3: one pointer reads a group of all four), then its n % 4 last inputs row by row; the
 * rows past the last block as they are. */

/* acc[k] += x . row k of the block at `w`, over n inputs. */
static void dot_block4(const int8_t* x, const int8_t* w, int32_t n, int32_t acc[4]) {
  int32_t s0 = acc[0], s1 = acc[1], s2 = acc[2], s3 = acc[3];
  const int32_t groups = n >> 2, tail = n & 3;
#if defined(__ARM_FEATURE_SIMD32) && __ARM_FEATURE_SIMD32 && defined(__GNUC__)
  if (groups > 0) {
    /* 16 products in 23 instructions: the input split once for the four rows */
    const int8_t* const end = x + 4 * groups;
    uint32_t xv, x02, v0, v1, t;
    __asm__ volatile(
        "1:\n\t"
        "ldr %[xv], [%[x]], #4\n\t"
        "ldrd %[v0], %[v1], [%[w]], #8\n\t"
        "sxtb16 %[x02], %[xv]\n\t"
        "sxtb16 %[xv], %[xv], ror #8\n\t"
        "sxtb16 %[t], %[v0]\n\t"
        "smlad %[s0], %[x02], %[t], %[s0]\n\t"
        "sxtb16 %[v0], %[v0], ror #8\n\t"
        "smlad %[s0], %[xv], %[v0], %[s0]\n\t"
        "sxtb16 %[t], %[v1]\n\t"
        "smlad %[s1], %[x02], %[t], %[s1]\n\t"
        "sxtb16 %[v1], %[v1], ror #8\n\t"
        "smlad %[s1], %[xv], %[v1], %[s1]\n\t"
        "ldrd %[v0], %[v1], [%[w]], #8\n\t"
        "sxtb16 %[t], %[v0]\n\t"
        "smlad %[s2], %[x02], %[t], %[s2]\n\t"
        "sxtb16 %[v0], %[v0], ror #8\n\t"
        "smlad %[s2], %[xv], %[v0], %[s2]\n\t"
        "sxtb16 %[t], %[v1]\n\t"
        "smlad %[s3], %[x02], %[t], %[s3]\n\t"
        "sxtb16 %[v1], %[v1], ror #8\n\t"
        "smlad %[s3], %[xv], %[v1], %[s3]\n\t"
        "cmp %[x], %[end]\n\t"
        "bne 1b\n\t"
        : [x] "+r"(x), [w] "+r"(w), [s0] "+r"(s0), [s1] "+r"(s1), [s2] "+r"(s2), [s3] "+r"(s3),
          [xv] "=&r"(xv), [x02] "=&r"(x02), [v0] "=&r"(v0), [v1] "=&r"(v1), [t] "=&r"(t)
        : [end] "r"(end)
        : "cc", "memory");
  }
#else
  for (int32_t g = 0; g < groups; ++g, x += 4, w += 16) {
    s0 += x[0] * w[0] + x[1] * w[1] + x[2] * w[2] + x[3] * w[3];
    s1 += x[0] * w[4] + x[1] * w[5] + x[2] * w[6] + x[3] * w[7];
    s2 += x[0] * w[8] + x[1] * w[9] + x[2] * w[10] + x[3] * w[11];
    s3 += x[0] * w[12] + x[1] * w[13] + x[2] * w[14] + x[3] * w[15];
  }
#endif
  for (int32_t i = 0; i < tail; ++i) {
    s0 += x[i] * w[i];
    s1 += x[i] * w[tail + i];
    s2 += x[i] * w[2 * tail + i];
    s3 += x[i] * w[3 * tail + i];
  }
  acc[0] = s0, acc[1] = s1, acc[2] = s2, acc[3] = s3;
}

/* reference_integer_ops::FullyConnected (per tensor) and FullyConnectedPerChannel. With
 * symmetric weights (filter_offset 0, as int8 models have) Σ w·(x + offset) + bias is
 * Σ w·x + folded_bias, four output channels per pass over the input (a block of the
 * reordered weights starts at row oc, oc * n bytes in); otherwise the reference's arithmetic
 * as written, over the weights as the model stores them. */
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
        dot_block4(in, q.weights + (size_t)oc * n, n, acc);
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
