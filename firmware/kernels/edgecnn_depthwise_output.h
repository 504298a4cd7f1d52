/* The depthwise kernels' per-channel output (edgecnn_depthwise_conv_s8.c, general;
 * edgecnn_depthwise_conv_3x3_s8.c): internal to firmware/kernels/. */
#ifndef EDGECNN_DEPTHWISE_OUTPUT_H_
#define EDGECNN_DEPTHWISE_OUTPUT_H_

#include "edgecnn_fixedpoint.h"
#include "edgecnn_kernels.h"

/* One output channel's sum (its bias not yet added) to int8, through the layer's
 * requantization table or its bias, multiplier and shift arrays. */
static inline int8_t output_value(const EdgecnnConvParams* q, const int32_t* bias, int32_t c,
                                  int32_t acc) {
  int32_t v;
  if (q->requant) {
    const RequantWords k = requant_words(q->requant + EDGECNN_RQ_WORDS * c);
    v = requant_table_value(acc + k.bias, k.multiplier, k.rounding, k.exponent);
  } else {
    v = scale_by_multiplier(bias ? acc + bias[c] : acc, q->multiplier[c], q->shift[c]) +
        q->output_offset;
  }
  return (int8_t)clamp_activation(v, q->act_min, q->act_max);
}

#endif /* EDGECNN_DEPTHWISE_OUTPUT_H_ */
