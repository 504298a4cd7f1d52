/* MEAN (reference_ops::QuantizedMeanOrSum for int8, as current TFLM runs every int8 MEAN):
 * the int8 sums of the reduced elements in int32, less the input zero point's share, rescaled
 * by one multiplier that holds both the scale ratio and 1/(elements reduced). REDUCE_MAX
 * (reference_ops::ReduceGeneric with the maximum; TFLM requires the output's quantization to be
 * the input's): the same walk, no rescaling. */
#include <stddef.h>
#include <string.h>

#include "edgecnn_fixedpoint.h"
#include "edgecnn_kernels.h"

int32_t edgecnn_mean_s8_scratch_bytes(const EdgecnnMeanParams* p) { return 4 * p->out_count; }

void edgecnn_reduce_max_s8(const EdgecnnMeanParams* p, const int8_t* input, int8_t* output) {
  const EdgecnnMeanParams q = *p;
  memset(output, 0x80, (size_t)q.out_count); /* -128, the int8 lowest */
  const int8_t* in = input;
  for (int32_t i0 = 0; i0 < q.in_dims[0]; ++i0) {
    for (int32_t i1 = 0; i1 < q.in_dims[1]; ++i1) {
      for (int32_t i2 = 0; i2 < q.in_dims[2]; ++i2) {
        int8_t* row = output + i0 * q.out_steps[0] + i1 * q.out_steps[1] + i2 * q.out_steps[2];
        for (int32_t i3 = 0; i3 < q.in_dims[3]; ++i3, ++in) {
          int8_t* o = row + i3 * q.out_steps[3];
          if (*in > *o) *o = *in;
        }
      }
    }
  }
}

void edgecnn_mean_s8(const EdgecnnMeanParams* p, const int8_t* input, int8_t* output,
                     void* scratch) {
  /* a local copy: stores through int8_t pointers may alias *p, not q */
  const EdgecnnMeanParams q = *p;
  int32_t* sum = (int32_t*)scratch;
  memset(sum, 0, (size_t)q.out_count * sizeof(int32_t));
  const int8_t* in = input;
  for (int32_t i0 = 0; i0 < q.in_dims[0]; ++i0) {
    for (int32_t i1 = 0; i1 < q.in_dims[1]; ++i1) {
      for (int32_t i2 = 0; i2 < q.in_dims[2]; ++i2) {
        int32_t* row = sum + i0 * q.out_steps[0] + i1 * q.out_steps[1] + i2 * q.out_steps[2];
        for (int32_t i3 = 0; i3 < q.in_dims[3]; ++i3) row[i3 * q.out_steps[3]] += *in++;
      }
    }
  }
  for (int32_t o = 0; o < q.out_count; ++o) {
    const int32_t shifted_sum = wrap_add(sum[o], -q.sum_offset);
    const int32_t v = edgecnn_multiply_by_quantized_multiplier(shifted_sum, q.multiplier, q.shift);
    output[o] = (int8_t)clamp32(wrap_add(v, q.output_offset), -128, 127);
  }
}
