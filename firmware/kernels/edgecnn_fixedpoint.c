/* The fixed-point steps exported for tests and other C code (edgecnn_kernels.h). */
#include "edgecnn_fixedpoint.h"

#include <stddef.h>
#include <string.h>

#include "edgecnn_kernels.h"

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
