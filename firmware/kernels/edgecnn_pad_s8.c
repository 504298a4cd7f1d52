/* PAD and PADV2 (reference_ops::PadImpl for int8). */
#include <stddef.h>
#include <string.h>

#include "edgecnn_fixedpoint.h"
#include "edgecnn_kernels.h"

/* reference_ops::PadImpl for int8: every output element is the input's where the input lies,
 * the padding value elsewhere. Rows of the innermost dimension are copied whole. */
void edgecnn_pad_s8(const EdgecnnPadParams* p, const int8_t* input, int8_t* output) {
  const EdgecnnPadParams q = *p;
  const int32_t row = q.in_dims[3];
  for (int32_t a = 0; a < q.out_dims[0]; ++a) {
    for (int32_t b = 0; b < q.out_dims[1]; ++b) {
      for (int32_t c = 0; c < q.out_dims[2]; ++c) {
        int8_t* out =
            output + (((size_t)a * q.out_dims[1] + b) * q.out_dims[2] + c) * q.out_dims[3];
        const int32_t ia = a - q.before[0], ib = b - q.before[1], ic = c - q.before[2];
        if (ia < 0 || ia >= q.in_dims[0] || ib < 0 || ib >= q.in_dims[1] || ic < 0 ||
            ic >= q.in_dims[2]) {
          memset(out, (int8_t)q.value, (size_t)q.out_dims[3]);
          continue;
        }
        const int8_t* in = input + (((size_t)ia * q.in_dims[1] + ib) * q.in_dims[2] + ic) * row;
        memset(out, (int8_t)q.value, (size_t)q.before[3]);
        memcpy(out + q.before[3], in, (size_t)row);
        memset(out + q.before[3] + row, (int8_t)q.value,
               (size_t)(q.out_dims[3] - q.before[3] - row));
      }
    }
  }
}
