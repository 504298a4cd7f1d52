/* AVERAGE_POOL_2D and MAX_POOL_2D (reference_integer_ops::AveragePool, MaxPool). */
#include <stddef.h>
#include <string.h>

#include "edgecnn_fixedpoint.h"
#include "edgecnn_kernels.h"

/* The part of a pooling window inside the input: taps fy_start..fy_end-1 by
 * fx_start..fx_end-1 from the window's top-left corner (y0, x0), as the reference clips it. */
typedef struct {
  int32_t y0, x0, fy_start, fy_end, fx_start, fx_end;
} PoolWindow;

static PoolWindow pool_window(const EdgecnnPoolParams* q, int32_t oy, int32_t ox) {
  PoolWindow w;
  w.y0 = oy * q->stride_h - q->pad_h;
  w.x0 = ox * q->stride_w - q->pad_w;
  w.fy_start = w.y0 < 0 ? -w.y0 : 0;
  w.fy_end = q->k_h < q->in_h - w.y0 ? q->k_h : q->in_h - w.y0;
  w.fx_start = w.x0 < 0 ? -w.x0 : 0;
  w.fx_end = q->k_w < q->in_w - w.x0 ? q->k_w : q->in_w - w.x0;
  return w;
}

/* reference_integer_ops::AveragePool (int8). */
void edgecnn_average_pool_s8(const EdgecnnPoolParams* p, const int8_t* input, int8_t* output) {
  /* a local copy: stores through int8_t pointers may alias *p, not q */
  const EdgecnnPoolParams q = *p;
  for (int32_t oy = 0; oy < q.out_h; ++oy) {
    for (int32_t ox = 0; ox < q.out_w; ++ox) {
      const PoolWindow w = pool_window(&q, oy, ox);
      for (int32_t c = 0; c < q.channels; ++c) {
        int32_t acc = 0, count = 0;
        for (int32_t fy = w.fy_start; fy < w.fy_end; ++fy) {
          for (int32_t fx = w.fx_start; fx < w.fx_end; ++fx) {
            acc += input[((size_t)(w.y0 + fy) * q.in_w + (w.x0 + fx)) * q.channels + c];
            ++count;
          }
        }
        if (count == 0) count = 1; /* TFLM fails the op here; the planner never emits it */
        acc = acc > 0 ? (acc + count / 2) / count : (acc - count / 2) / count;
        output[((size_t)oy * q.out_w + ox) * q.channels + c] =
            (int8_t)clamp32(acc, q.act_min, q.act_max);
      }
    }
  }
}

/* reference_integer_ops::MaxPool (int8). */
void edgecnn_max_pool_s8(const EdgecnnPoolParams* p, const int8_t* input, int8_t* output) {
  /* a local copy: stores through int8_t pointers may alias *p, not q */
  const EdgecnnPoolParams q = *p;
  for (int32_t oy = 0; oy < q.out_h; ++oy) {
    for (int32_t ox = 0; ox < q.out_w; ++ox) {
      const PoolWindow w = pool_window(&q, oy, ox);
      for (int32_t c = 0; c < q.channels; ++c) {
        int32_t best = -128;
        for (int32_t fy = w.fy_start; fy < w.fy_end; ++fy) {
          for (int32_t fx = w.fx_start; fx < w.fx_end; ++fx) {
            const int32_t v = input[((size_t)(w.y0 + fy) * q.in_w + (w.x0 + fx)) * q.channels + c];
            if (v > best) best = v;
          }
        }
        output[((size_t)oy * q.out_w + ox) * q.channels + c] =
            (int8_t)clamp32(best, q.act_min, q.act_max);
      }
    }
  }
}
