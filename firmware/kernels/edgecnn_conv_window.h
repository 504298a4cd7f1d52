/* The convolution kernels' shared window and inner loops (edgecnn_conv_s8.c, general;
 * edgecnn_conv_1x1_s8.c, pointwise): internal to firmware/kernels/. */
#ifndef EDGECNN_CONV_WINDOW_H_
#define EDGECNN_CONV_WINDOW_H_

#include <stddef.h>
#include <string.h>

#include "edgecnn_fixedpoint.h"
#include "edgecnn_kernels.h"

/* The window: n inputs per pixel, padded with zeros to n4 (a multiple of four), the two pixels
 * interleaved by groups of four: [a0 a1 a2 a3][b0 b1 b2 b3][a4 ...], so that one pointer and
 * two LDRD read a group of both. CONV_2D weights are stored as the loop reads them (edgecnn/
 * runtimes/native_kernels.py, conv_weight_layout): output channels in pairs (an odd last one
 * with a zero channel), for each group of four inputs the four bytes of the pair's first channel
 * then of its second, each group's bytes in the order 0, 2, 1, 3 (SXTB16 gives the int16 pair
 * (0, 1), SXTB16 of the word rotated by 8 the pair (2, 3)), zeros past n. */
static inline int32_t slot(int32_t position, int32_t lane) {
  return ((position >> 2) << 3) + (lane << 2) + (position & 3);
}

/* The narrow window: the same groups of four, as int8, each group's bytes in the weights'
 * order 0, 2, 1, 3 (SXTB16 then gives the pairs (0, 1) and, rotated by 8, (2, 3)). */
static inline int32_t slot8(int32_t position, int32_t lane) {
  static const int8_t order[4] = {0, 2, 1, 3};
  return ((position >> 2) << 3) + (lane << 2) + order[position & 3];
}

/* count int8 inputs into the narrow window at positions first.. of one lane (a word at a
 * time where a group starts: bytes 1 and 2 swapped). */
static inline void put_s8_narrow(const int8_t* in, int8_t* window, int32_t first, int32_t count,
                                 int32_t lane) {
  int32_t k = 0;
  if ((first & 3) == 0) {
    for (; k + 4 <= count; k += 4) {
      uint32_t v;
      memcpy(&v, in + k, 4);
      v = (v & 0xFF0000FFu) | ((v & 0x0000FF00u) << 8) | ((v >> 8) & 0x0000FF00u);
      memcpy(window + slot8(first + k, lane), &v, 4);
    }
  }
  for (; k < count; ++k) window[slot8(first + k, lane)] = in[k];
}

static inline void fill_narrow(int8_t* window, int32_t first, int32_t count, int32_t lane,
                               int8_t value) {
  for (int32_t k = 0; k < count; ++k) window[slot8(first + k, lane)] = value;
}

/* count int8 inputs as int16 at window positions first.. of one lane (the SIMD variant four
 * at a time where a group starts: SXTB16 splits bytes 0, 2 and 1, 3; PKHBT/PKHTB put them back
 * in order). */
static inline void put_s8(const int8_t* in, int16_t* window, int32_t first, int32_t count,
                          int32_t lane) {
  int32_t k = 0;
#if defined(__ARM_FEATURE_SIMD32) && __ARM_FEATURE_SIMD32
  if ((first & 3) == 0) {
    for (; k + 4 <= count; k += 4) {
      uint32_t v;
      memcpy(&v, in + k, 4);
      const uint32_t even = (uint32_t)__sxtb16(v), odd = (uint32_t)sxtb16_ror8(v);
      const uint32_t lo = (even & 0xFFFFu) | (odd << 16);     /* values 0, 1 */
      const uint32_t hi = (even >> 16) | (odd & 0xFFFF0000u); /* values 2, 3 */
      int16_t* group = window + slot(first + k, lane);
      memcpy(group, &lo, 4);
      memcpy(group + 2, &hi, 4);
    }
  }
#endif
  for (; k < count; ++k) window[slot(first + k, lane)] = in[k];
}

static inline void fill(int16_t* window, int32_t first, int32_t count, int32_t lane,
                        int16_t value) {
  for (int32_t k = 0; k < count; ++k) window[slot(first + k, lane)] = value;
}

#if defined(__ARM_FEATURE_SIMD32) && __ARM_FEATURE_SIMD32 && defined(__GNUC__)
/* One group's 16 products once its inputs are int16 pairs (a01, a23 of pixel a; b01, b23 of
 * b): the pair's two channels' weights loaded a word each and split by SXTB16, each serving
 * both pixels. */
// clang-format off
#define EDGECNN_CONV_PAIR_PRODUCTS                              \
  "ldr %[wv], [%[w]], #4\n\t" \
  "sxtb16 %[t], %[wv]\n\t" \
  "smlad %[a0], %[a01], %[t], %[a0]\n\t" \
  "smlad %[b0], %[b01], %[t], %[b0]\n\t" \
  "sxtb16 %[wv], %[wv], ror #8\n\t" \
  "smlad %[a0], %[a23], %[wv], %[a0]\n\t" \
  "smlad %[b0], %[b23], %[wv], %[b0]\n\t" \
  "ldr %[wv], [%[w]], #4\n\t" \
  "sxtb16 %[t], %[wv]\n\t" \
  "smlad %[a1], %[a01], %[t], %[a1]\n\t" \
  "smlad %[b1], %[b01], %[t], %[b1]\n\t" \
  "sxtb16 %[wv], %[wv], ror #8\n\t" \
  "smlad %[a1], %[a23], %[wv], %[a1]\n\t" \
  "smlad %[b1], %[b23], %[wv], %[b1]\n\t"
// clang-format on
#endif

/* acc[k] += Σ a·wk, acc[2 + k] += Σ b·wk for the pair's channels k = 0, 1 over `groups` groups
 * of four inputs (at least one); `w` at the pair's first byte. */
static inline void conv_pair(const int16_t* x, const int8_t* w, int32_t groups, int32_t acc[4]) {
  int32_t a0 = acc[0], a1 = acc[1], b0 = acc[2], b1 = acc[3];
#if defined(__ARM_FEATURE_SIMD32) && __ARM_FEATURE_SIMD32 && defined(__GNUC__)
  /* the loop as the instructions it must be: GCC neither pairs the loads into LDRD with
   * write-back nor keeps 13 values in registers without spilling */
  const int16_t* const end = x + 8 * groups;
  uint32_t a01, a23, b01, b23, wv, t;
  __asm__ volatile(
      "1:\n\t"
      "ldrd %[a01], %[a23], [%[x]], #8\n\t"
      "ldrd %[b01], %[b23], [%[x]], #8\n\t" EDGECNN_CONV_PAIR_PRODUCTS
      "cmp %[x], %[end]\n\t"
      "bne 1b\n\t"
      : [x] "+r"(x), [w] "+r"(w), [a0] "+r"(a0), [a1] "+r"(a1), [b0] "+r"(b0), [b1] "+r"(b1),
        [a01] "=&r"(a01), [a23] "=&r"(a23), [b01] "=&r"(b01), [b23] "=&r"(b23), [wv] "=&r"(wv),
        [t] "=&r"(t)
      : [end] "r"(end)
      : "cc", "memory");
#else
  for (int32_t g = 0; g < groups; ++g, x += 8, w += 8) {
    const int16_t* a = x;
    const int16_t* b = x + 4;
    a0 += a[0] * w[0] + a[1] * w[2] + a[2] * w[1] + a[3] * w[3];
    a1 += a[0] * w[4] + a[1] * w[6] + a[2] * w[5] + a[3] * w[7];
    b0 += b[0] * w[0] + b[1] * w[2] + b[2] * w[1] + b[3] * w[3];
    b1 += b[0] * w[4] + b[1] * w[6] + b[2] * w[5] + b[3] * w[7];
  }
#endif
  acc[0] = a0, acc[1] = a1, acc[2] = b0, acc[3] = b1;
}

/* conv_pair over the narrow window: each group's two words (pixel a's four int8 inputs, then
 * b's) widened by SXTB16 in the loop. */
static inline void conv_pair_narrow(const int8_t* x, const int8_t* w, int32_t groups,
                                    int32_t acc[4]) {
  int32_t a0 = acc[0], a1 = acc[1], b0 = acc[2], b1 = acc[3];
#if defined(__ARM_FEATURE_SIMD32) && __ARM_FEATURE_SIMD32 && defined(__GNUC__)
  const int8_t* const end = x + 8 * groups;
  uint32_t a01, a23, b01, b23, wv, t;
  __asm__ volatile(
      "1:\n\t"
      "ldrd %[a01], %[b01], [%[x]], #8\n\t"
      "sxtb16 %[a23], %[a01], ror #8\n\t"
      "sxtb16 %[a01], %[a01]\n\t"
      "sxtb16 %[b23], %[b01], ror #8\n\t"
      "sxtb16 %[b01], %[b01]\n\t" EDGECNN_CONV_PAIR_PRODUCTS
      "cmp %[x], %[end]\n\t"
      "bne 1b\n\t"
      : [x] "+r"(x), [w] "+r"(w), [a0] "+r"(a0), [a1] "+r"(a1), [b0] "+r"(b0), [b1] "+r"(b1),
        [a01] "=&r"(a01), [a23] "=&r"(a23), [b01] "=&r"(b01), [b23] "=&r"(b23), [wv] "=&r"(wv),
        [t] "=&r"(t)
      : [end] "r"(end)
      : "cc", "memory");
#else
  /* inputs and weights in the same order 0, 2, 1, 3: plain dot products of the four bytes */
  for (int32_t g = 0; g < groups; ++g, x += 8, w += 8) {
    for (int32_t k = 0; k < 4; ++k) {
      a0 += x[k] * w[k];
      a1 += x[k] * w[4 + k];
      b0 += x[4 + k] * w[k];
      b1 += x[4 + k] * w[4 + k];
    }
  }
#endif
  acc[0] = a0, acc[1] = a1, acc[2] = b0, acc[3] = b1;
}

/* The sums of two pixels (a, b) x two channels (oc, oc + 1) to int8: acc = {a oc, a oc+1,
 * b oc, b oc+1}; `pair`: b is a pixel, `two`: oc + 1 is a channel. Each channel's constants
 * are read before any store (an int8_t store may alias them). */
static inline void store_block(const EdgecnnConvParams* q, int32_t oc, const int32_t acc[4],
                               int8_t* out_a, int8_t* out_b, int32_t pair, int32_t two) {
  const int32_t lo = q->act_min, hi = q->act_max;
  int32_t a0, a1, b0, b1;
  if (q->requant) {
    /* the table has a word for every channel of the pair (padded to fours) */
    const int32_t* r = q->requant + EDGECNN_RQ_WORDS * oc;
    const RequantWords k0 = requant_words(r), k1 = requant_words(r + EDGECNN_RQ_WORDS);
    a0 = requant_table_value(acc[0] + k0.bias, k0.multiplier, k0.rounding, k0.exponent);
    b0 = requant_table_value(acc[2] + k0.bias, k0.multiplier, k0.rounding, k0.exponent);
    a1 = requant_table_value(acc[1] + k1.bias, k1.multiplier, k1.rounding, k1.exponent);
    b1 = requant_table_value(acc[3] + k1.bias, k1.multiplier, k1.rounding, k1.exponent);
  } else {
    const int32_t bias0 = q->folded_bias[oc], mult0 = q->multiplier[oc], shift0 = q->shift[oc];
    const int32_t bias1 = two ? q->folded_bias[oc + 1] : 0;
    const int32_t mult1 = two ? q->multiplier[oc + 1] : 0, shift1 = two ? q->shift[oc + 1] : 0;
    a0 = scale_by_multiplier(acc[0] + bias0, mult0, shift0) + q->output_offset;
    b0 = scale_by_multiplier(acc[2] + bias0, mult0, shift0) + q->output_offset;
    a1 = scale_by_multiplier(acc[1] + bias1, mult1, shift1) + q->output_offset;
    b1 = scale_by_multiplier(acc[3] + bias1, mult1, shift1) + q->output_offset;
  }
  out_a[oc] = (int8_t)clamp_activation(a0, lo, hi);
  if (pair) out_b[oc] = (int8_t)clamp_activation(b0, lo, hi);
  if (two) {
    out_a[oc + 1] = (int8_t)clamp_activation(a1, lo, hi);
    if (pair) out_b[oc + 1] = (int8_t)clamp_activation(b1, lo, hi);
  }
}

/* Puts one output pixel's inputs into a lane of the window: the general kernel gathers its
 * receptive field, the pointwise one widens the pixel where it is. */
typedef void (*EdgecnnWindowFill)(const EdgecnnConvParams* q, const int8_t* input, int32_t pixel,
                                  void* window, int32_t lane);

/* Σ w·x + folded_bias over the window of two output pixels, each pixel's window filled by
 * `fill_pixel` (edgecnn_conv_s8.c: one copy of the loops for both kernels). */
void edgecnn_conv_pixels(const EdgecnnConvParams* p, const int8_t* input, int8_t* output,
                         void* scratch, EdgecnnWindowFill fill_pixel);

#endif /* EDGECNN_CONV_WINDOW_H_ */
