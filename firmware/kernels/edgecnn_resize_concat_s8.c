/* RESIZE_BILINEAR (reference_ops::ResizeBilinearInteger) and CONCATENATION (copies). */
#include <stddef.h>
#include <string.h>

#include "edgecnn_fixedpoint.h"
#include "edgecnn_kernels.h"

/* reference_ops::ComputeInterpolationValuesInteger. */
static void interpolation_values(int32_t value, int32_t scale_10, int32_t half_pixel_centers,
                                 int32_t input_size, int32_t* scaled, int32_t* lower,
                                 int32_t* upper) {
  *scaled = half_pixel_centers ? value * scale_10 + scale_10 / 2 - (1 << 9) : value * scale_10;
  const int32_t lo = *scaled / (1 << 10);
  *lower = lo > 0 ? lo : 0;
  const int32_t hi = (*scaled + (1 << 10) - 1) / (1 << 10);
  *upper = hi < input_size - 1 ? hi : input_size - 1;
}

/* reference_ops::ResizeBilinearInteger (int8): Q10 weights, the 20-bit sum rounded half away
 * from zero. */
void edgecnn_resize_bilinear_s8(const EdgecnnResizeBilinearParams* p, const int8_t* input,
                                int8_t* output) {
  const EdgecnnResizeBilinearParams q = *p;
  for (int32_t y = 0; y < q.out_h; ++y) {
    int32_t in_y, y0, y1;
    interpolation_values(y, q.height_scale_10, q.half_pixel_centers, q.in_h, &in_y, &y0, &y1);
    const int32_t dy = in_y - (1 << 10) * y0;
    for (int32_t x = 0; x < q.out_w; ++x) {
      int32_t in_x, x0, x1;
      interpolation_values(x, q.width_scale_10, q.half_pixel_centers, q.in_w, &in_x, &x0, &x1);
      const int32_t dx = in_x - (1 << 10) * x0;
      for (int32_t c = 0; c < q.channels; ++c) {
        const int64_t ll = (int64_t)input[((size_t)y0 * q.in_w + x0) * q.channels + c] *
                           ((1 << 10) - dy) * ((1 << 10) - dx);
        const int64_t lu =
            (int64_t)input[((size_t)y1 * q.in_w + x0) * q.channels + c] * dy * ((1 << 10) - dx);
        const int64_t rl =
            (int64_t)input[((size_t)y0 * q.in_w + x1) * q.channels + c] * ((1 << 10) - dy) * dx;
        const int64_t ru = (int64_t)input[((size_t)y1 * q.in_w + x1) * q.channels + c] * dy * dx;
        const int64_t sum = ll + lu + rl + ru;
        const int64_t round = sum > 0 ? (1 << 19) : -(1 << 19);
        output[((size_t)y * q.out_w + x) * q.channels + c] = (int8_t)((sum + round) / (1 << 20));
      }
    }
  }
}

/* TFLM's CONCATENATION (int8): the inputs' bytes side by side along the axis, unchanged. */
void edgecnn_concatenation_s8(const EdgecnnConcatenationParams* p, const int8_t* arena,
                              int8_t* output) {
  const EdgecnnConcatenationParams q = *p;
  for (int32_t o = 0; o < q.outer; ++o) {
    for (int32_t i = 0; i < q.inputs; ++i) {
      const int32_t n = q.copy_bytes[i];
      memcpy(output, arena + q.offsets[i] + (size_t)o * n, (size_t)n);
      output += n;
    }
  }
}
