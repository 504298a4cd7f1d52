/* The fixed-point steps every edgecnn kernel shares (internal to the kernels: each kernel file
 * includes it). gemmlowp's and TFLM's arithmetic, bit for bit; the DSP forms where a Cortex-M
 * with the DSP extension (__ARM_FEATURE_SIMD32) has an instruction for them. */
#ifndef EDGECNN_FIXEDPOINT_H_
#define EDGECNN_FIXEDPOINT_H_

#include <stdint.h>
#include <string.h>

#include "edgecnn_kernels.h"

#if defined(__ARM_FEATURE_SIMD32) && __ARM_FEATURE_SIMD32
#include <arm_acle.h>
#endif

#define EDGECNN_INT32_MAX 2147483647
#define EDGECNN_INT32_MIN (-EDGECNN_INT32_MAX - 1)

static inline int32_t clamp32(int32_t v, int32_t lo, int32_t hi) {
  return v < lo ? lo : v > hi ? hi : v;
}

/* Wrapping int32 arithmetic, as the reference's int32 code computes on every target. */
static inline int32_t wrap_add(int32_t a, int32_t b) {
  return (int32_t)((uint32_t)a + (uint32_t)b);
}
static inline int32_t wrap_shl(int32_t a, int s) { return (int32_t)((uint32_t)a << s); }

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

/* The requantization table's words per output channel (EdgecnnConvParams.requant, made by
 * edgecnn/runtimes/native_quant.py, requant_table, for a layer whose every channel shifts right
 * by e in 1..23): the bias the kernel adds to its sum, the multiplier M, the rounding word
 * 2^(e-1) + output_offset * 2^e, and e - 1. */
enum {
  EDGECNN_RQ_BIAS,
  EDGECNN_RQ_MULTIPLIER,
  EDGECNN_RQ_ROUNDING,
  EDGECNN_RQ_EXPONENT,
  EDGECNN_RQ_WORDS
};

/* MultiplyByQuantizedMultiplier(x, M, -e) + output_offset from the table's words, bit for bit:
 * floor((x * M + 2^30 + (rounding - [x < 0]) * 2^31) / 2^(31 + e)), SRDHM's nudge and the
 * rounding division's in one 64-bit sum, whose high word shifted by e - 1 is the result (the
 * proof beside requant_table). Six instructions on a Cortex-M4 with the DSP extension. */
static inline int32_t requant_table_value(int32_t x, int32_t multiplier, int32_t rounding,
                                          int32_t exponent) {
  const int32_t t = rounding - (int32_t)((uint32_t)x >> 31);
  uint32_t lo = ((uint32_t)t << 31) | (1u << 30);
  int32_t hi = t >> 1; /* arithmetic: t * 2^31 as a 64-bit value is (t >> 1 : t << 31) */
#if defined(__ARM_FEATURE_SIMD32) && __ARM_FEATURE_SIMD32 && defined(__GNUC__)
  /* GCC widens the 64-bit sum with two more instructions than SMLAL needs */
  __asm__("smlal %0, %1, %2, %3" : "+r"(lo), "+r"(hi) : "r"(x), "r"(multiplier));
#else
  const uint64_t sum = (((uint64_t)(uint32_t)hi << 32) | lo) + (uint64_t)((int64_t)x * multiplier);
  hi = (int32_t)(uint32_t)(sum >> 32);
#endif
  return hi >> exponent;
}

/* One channel's table words. */
typedef struct {
  int32_t bias, multiplier, rounding, exponent;
} RequantWords;

static inline RequantWords requant_words(const int32_t* r) {
  RequantWords w;
#if defined(__ARM_FEATURE_SIMD32) && __ARM_FEATURE_SIMD32 && defined(__GNUC__)
  /* two LDRD (GCC issues four LDR: it does not know the table is word-aligned) */
  __asm__(
      "ldrd %0, %1, [%4]\n\t"
      "ldrd %2, %3, [%4, #8]"
      : "=&r"(w.bias), "=&r"(w.multiplier), "=r"(w.rounding), "=r"(w.exponent)
      : "r"(r), "m"(*(const int32_t(*)[EDGECNN_RQ_WORDS])r));
#else
  w.bias = r[EDGECNN_RQ_BIAS], w.multiplier = r[EDGECNN_RQ_MULTIPLIER];
  w.rounding = r[EDGECNN_RQ_ROUNDING], w.exponent = r[EDGECNN_RQ_EXPONENT];
#endif
  return w;
}

/* v clamped to the activation's range (lo <= hi, both in int8's range) */
static inline int32_t clamp_activation(int32_t v, int32_t lo, int32_t hi) {
#if defined(__ARM_FEATURE_SIMD32) && __ARM_FEATURE_SIMD32 && defined(__GNUC__)
  /* without branches (GCC branches around one of the two) */
  __asm__(
      "cmp %0, %1\n\tit lt\n\tmovlt %0, %1\n\t"
      "cmp %0, %2\n\tit gt\n\tmovgt %0, %2"
      : "+r"(v)
      : "r"(lo), "r"(hi)
      : "cc");
  return v;
#else
  return clamp32(v, lo, hi);
#endif
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

/* gemmlowp's exp_on_negative_values: exp(a) for a <= 0, `a` a fixed-point value with
 * `integer_bits` integer bits (at most 5), the result in Q0.31. */
int32_t edgecnn_exp_on_negative_values(int32_t a, int integer_bits);
/* gemmlowp's one_over_one_plus_x_for_x_in_0_1 and one_minus_x_over_one_plus_x_for_x_in_0_1
 * (Q0.31 in and out). */
int32_t edgecnn_one_over_one_plus_x_for_x_in_0_1(int32_t a);
int32_t edgecnn_one_minus_x_over_one_plus_x_for_x_in_0_1(int32_t a);

#endif /* EDGECNN_FIXEDPOINT_H_ */
