/* STRIDED_SLICE (reference_ops::StridedSlice, int8): the input's elements at start,
 * start + stride, ... (up to stop) of every dimension, in order. The bounds are TFLM's
 * (StridedSliceStartForAxis and StridedSliceEndForAxis over the shape padded to five
 * dimensions), computed on the host (edgecnn/runtimes/native_kernels.py). */
#include <stddef.h>
#include <string.h>

#include "edgecnn_kernels.h"

static inline int32_t before_stop(int32_t index, int32_t stop, int32_t stride) {
  return stride < 0 ? index > stop : index < stop;
}

void edgecnn_strided_slice_s8(const EdgecnnStridedSliceParams* p, const int8_t* input,
                              int8_t* output) {
  /* a local copy: stores through int8_t pointers may alias *p, not q */
  const EdgecnnStridedSliceParams q = *p;
  const int32_t* d = q.in_dims;
  int8_t* out = output;
  for (int32_t i0 = q.start[0]; before_stop(i0, q.stop[0], q.stride[0]); i0 += q.stride[0]) {
    for (int32_t i1 = q.start[1]; before_stop(i1, q.stop[1], q.stride[1]); i1 += q.stride[1]) {
      for (int32_t i2 = q.start[2]; before_stop(i2, q.stop[2], q.stride[2]); i2 += q.stride[2]) {
        for (int32_t i3 = q.start[3]; before_stop(i3, q.stop[3], q.stride[3]); i3 += q.stride[3]) {
          const int8_t* row =
              input + (((((size_t)i0 * d[1] + i1) * d[2] + i2) * d[3]) + i3) * (size_t)d[4];
          if (q.stride[4] == 1) { /* a contiguous run: one copy */
            const int32_t length = q.stop[4] - q.start[4];
            if (length > 0) {
              memcpy(out, row + q.start[4], (size_t)length);
              out += length;
            }
            continue;
          }
          for (int32_t i4 = q.start[4]; before_stop(i4, q.stop[4], q.stride[4]);
               i4 += q.stride[4]) {
            *out++ = row[i4];
          }
        }
      }
    }
  }
}
