/* DEPTHWISE_CONV_2D with a 3x3 kernel (reference_integer_ops::DepthwiseConvPerChannel): one
 * output channel per input channel in fours, or a channel multiplier in fours; the wrapper in
 * edgecnn_depthwise_conv_s8.c picks it when the host set quad_taps. */
#include <stddef.h>
#include <string.h>

#include "edgecnn_depthwise_output.h"

/* The sums of four channels (c..c + 3) over the nine taps: a_k = Σ in_k * w_k, the weights
 * at *w (advanced past the quad's 72 bytes). */
#if defined(__ARM_FEATURE_SIMD32) && __ARM_FEATURE_SIMD32 && defined(__GNUC__)
/* one tap: its input pixel's pointer from tap[], four input bytes split by SXTB16 into the
 * pairs (0, 2) and (1, 3), the weights' two int16 pairs by one LDRD, a product per channel
 * (`mul`: SMUL for the first tap, SMLA after it) */
// clang-format off
#define EDGECNN_DW_TAP_ASM(offset, mul, acc)                    \
  "ldr %[p], [%[taps], #" #offset "]\n\t"                       \
  "ldr %[p], [%[p], %[c]]\n\t"                                  \
  "ldrd %[w0], %[w1], [%[w]], #8\n\t"                           \
  "sxtb16 %[x], %[p]\n\t"                                       \
  "sxtb16 %[p], %[p], ror #8\n\t"                               \
  mul "bb %[a0], %[x], %[w0]" acc(a0) "\n\t"                    \
  mul "tt %[a2], %[x], %[w0]" acc(a2) "\n\t"                    \
  mul "bb %[a1], %[p], %[w1]" acc(a1) "\n\t"                    \
  mul "tt %[a3], %[p], %[w1]" acc(a3) "\n\t"
/* the same with a channel multiplier of four or more: the four output channels read one input
 * byte (LDRSB), against the bottom and top halves of the weights' pairs */
#define EDGECNN_DW_BROADCAST_TAP_ASM(offset, mul, acc)          \
  "ldr %[p], [%[taps], #" #offset "]\n\t"                       \
  "ldrsb %[x], [%[p], %[c]]\n\t"                                \
  "ldrd %[w0], %[w1], [%[w]], #8\n\t"                           \
  mul "bb %[a0], %[x], %[w0]" acc(a0) "\n\t"                    \
  mul "bt %[a2], %[x], %[w0]" acc(a2) "\n\t"                    \
  mul "bb %[a1], %[x], %[w1]" acc(a1) "\n\t"                    \
  mul "bt %[a3], %[x], %[w1]" acc(a3) "\n\t"
#define EDGECNN_DW_NONE(a) ""
#define EDGECNN_DW_ADD(a) ", %[" #a "]"
#define EDGECNN_DW_NINE(tap)                                                                     \
  tap(0, "smul", EDGECNN_DW_NONE) tap(4, "smla", EDGECNN_DW_ADD) tap(8, "smla", EDGECNN_DW_ADD)  \
  tap(12, "smla", EDGECNN_DW_ADD) tap(16, "smla", EDGECNN_DW_ADD) tap(20, "smla", EDGECNN_DW_ADD)\
  tap(24, "smla", EDGECNN_DW_ADD) tap(28, "smla", EDGECNN_DW_ADD) tap(32, "smla", EDGECNN_DW_ADD)
// clang-format on
#endif

static inline void quad_taps(const int8_t* const tap[9], int32_t c, int32_t broadcast,
                             const int8_t** w_ptr, int32_t* s0, int32_t* s1, int32_t* s2,
                             int32_t* s3) {
  const int8_t* w = *w_ptr;
  int32_t a0, a1, a2, a3;
#if defined(__ARM_FEATURE_SIMD32) && __ARM_FEATURE_SIMD32 && defined(__GNUC__)
  /* the nine taps unrolled: 9 (broadcast: 7) instructions a tap, no widening of weights */
  const int8_t* p;
  uint32_t x, w0, w1;
  if (broadcast) {
    __asm__ volatile(EDGECNN_DW_NINE(EDGECNN_DW_BROADCAST_TAP_ASM)
                     : [w] "+r"(w), [a0] "=&r"(a0), [a1] "=&r"(a1), [a2] "=&r"(a2), [a3] "=&r"(a3),
                       [p] "=&r"(p), [x] "=&r"(x), [w0] "=&r"(w0), [w1] "=&r"(w1)
                     : [taps] "r"(tap), [c] "r"(c)
                     : "memory");
  } else {
    __asm__ volatile(EDGECNN_DW_NINE(EDGECNN_DW_TAP_ASM)
                     : [w] "+r"(w), [a0] "=&r"(a0), [a1] "=&r"(a1), [a2] "=&r"(a2), [a3] "=&r"(a3),
                       [p] "=&r"(p), [x] "=&r"(x), [w0] "=&r"(w0), [w1] "=&r"(w1)
                     : [taps] "r"(tap), [c] "r"(c)
                     : "memory");
  }
#else
  a0 = a1 = a2 = a3 = 0;
  for (int32_t k = 0; k < 9; ++k, w += 8) {
    /* the low byte of each little-endian int16 is the weight itself; with `broadcast` the
     * four output channels take input channel c */
    const int8_t* in = tap[k] + c;
    const int32_t step = broadcast ? 0 : 1;
    a0 += in[0] * w[0];
    a2 += in[2 * step] * w[2];
    a1 += in[step] * w[4];
    a3 += in[3 * step] * w[6];
  }
#endif
  *w_ptr = w;
  *s0 = a0, *s1 = a1, *s2 = a2, *s3 = a3;
}

/* Four channels' sums (folded bias not yet added) to int8 at out[c..c + 3]: the four
 * values made before any store (an int8_t store may alias the constants). */
static inline void store_quad(const EdgecnnConvParams* q, int32_t c, int32_t a0, int32_t a1,
                              int32_t a2, int32_t a3, int8_t* out) {
  const int8_t o0 = output_value(q, q->folded_bias, c, a0);
  const int8_t o1 = output_value(q, q->folded_bias, c + 1, a1);
  const int8_t o2 = output_value(q, q->folded_bias, c + 2, a2);
  const int8_t o3 = output_value(q, q->folded_bias, c + 3, a3);
  out[c] = o0, out[c + 1] = o1, out[c + 2] = o2, out[c + 3] = o3;
}

/* The 3x3 kernel (quad_taps) with one output channel per input channel, the channels in fours,
 * or with a channel multiplier m that is a multiple of four (each input channel's m outputs
 * in fours, every four reading that one input):
 * raw products against the folded bias (bias + offset x the channel's nine weights) for every
 * output pixel — a tap outside the input reads a row of the input's zero point, whose
 * products the folded offset cancels exactly, so the border needs no path of its own. The
 * weights per four channels, tap after tap, as int16 pairs (0, 2), (1, 3): one LDRD, no
 * widening.
 * In place (output == input; the host plans it for stride 1, no dilation, one output per
 * input channel): output row y lands on input rows up to y, so each input row is copied to one
 * of two saved rows in the scratch before the output row of the same index overwrites it, and
 * the taps read rows y - 1 and y from there. */
void edgecnn_depthwise_conv_3x3_s8(const EdgecnnConvParams* p, const int8_t* input, int8_t* output,
                                   void* scratch) {
  const EdgecnnConvParams q = *p;
  const int32_t in_c = q.in_c, m = q.depth_multiplier, broadcast = m > 1;
  const int in_place = input == output;
  int8_t* zero_point_row = (int8_t*)scratch;
  memset(zero_point_row, (int8_t)(-q.input_offset), (size_t)in_c);
  const size_t row_bytes = (size_t)q.in_w * in_c;
  int8_t* saved = zero_point_row + ((in_c + 3) & ~3); /* two input rows, in place only */
  for (int32_t oy = 0; oy < q.out_h; ++oy) {
    const int32_t in_y0 = oy * q.stride_h - q.pad_h;
    if (in_place && oy < q.in_h) {
      memcpy(saved + (size_t)(oy & 1) * row_bytes, input + (size_t)oy * row_bytes, row_bytes);
    }
    /* each tap row's first pixel: outside the input NULL, in place a saved row where the
     * output has overwritten it (rows up to oy) */
    const int8_t* rows[3];
    for (int32_t ky = 0; ky < 3; ++ky) {
      const int32_t iy = in_y0 + q.dilation_h * ky;
      rows[ky] = iy < 0 || iy >= q.in_h ? NULL
                 : in_place && iy <= oy ? saved + (size_t)(iy & 1) * row_bytes
                                        : input + (size_t)iy * row_bytes;
    }
    for (int32_t ox = 0; ox < q.out_w; ++ox) {
      const int32_t in_x0 = ox * q.stride_w - q.pad_w;
      /* each tap's input pixel (channel 0), or the zero-point row */
      const int8_t* tap[9];
      for (int32_t ky = 0; ky < 3; ++ky) {
        for (int32_t kx = 0; kx < 3; ++kx) {
          const int32_t ix = in_x0 + q.dilation_w * kx;
          tap[3 * ky + kx] = rows[ky] != NULL && ix >= 0 && ix < q.in_w
                                 ? rows[ky] + (size_t)ix * in_c
                                 : zero_point_row;
        }
      }
      int8_t* out = output + ((size_t)oy * q.out_w + ox) * q.out_c;
      const int8_t* w = q.weights;
      for (int32_t c = 0; c < q.out_c; c += 4) {
        int32_t a0, a1, a2, a3;
        /* the quad's input channel(s): c, or c / m for all four when m is a multiple of 4 */
        quad_taps(tap, broadcast ? c / m : c, broadcast, &w, &a0, &a1, &a2, &a3);
        store_quad(&q, c, a0, a1, a2, a3, out);
      }
    }
  }
}

int32_t edgecnn_depthwise_conv_3x3_s8_scratch_bytes(const EdgecnnConvParams* p, int in_place) {
  /* the zero-point row (in_c bytes, rounded up to 4), in place then two input rows */
  return ((p->in_c + 3) & ~3) + (in_place ? 2 * p->in_w * p->in_c : 0);
}
