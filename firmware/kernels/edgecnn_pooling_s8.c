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

/* The reference's rounded average of `count` summed values, clamped. */
static inline int8_t average(int32_t acc, int32_t count, int32_t lo, int32_t hi) {
  if (count == 0) count = 1; /* TFLM fails the op here; the planner never emits it */
  acc = acc > 0 ? (acc + count / 2) / count : (acc - count / 2) / count;
  return (int8_t)clamp32(acc, lo, hi);
}

/* reference_integer_ops::AveragePool (int8): four channels at a time (one word a tap, each
 * byte sign-extended and added by SXTAB), the last channels one by one. */
void edgecnn_average_pool_s8(const EdgecnnPoolParams* p, const int8_t* input, int8_t* output) {
  /* a local copy: stores through int8_t pointers may alias *p, not q */
  const EdgecnnPoolParams q = *p;
  const size_t row_step = (size_t)q.in_w * q.channels;
  for (int32_t oy = 0; oy < q.out_h; ++oy) {
    for (int32_t ox = 0; ox < q.out_w; ++ox) {
      const PoolWindow w = pool_window(&q, oy, ox);
      const int32_t count = (w.fy_end - w.fy_start) * (w.fx_end - w.fx_start);
      const int8_t* corner =
          input + ((size_t)(w.y0 + w.fy_start) * q.in_w + (w.x0 + w.fx_start)) * q.channels;
      int8_t* out = output + ((size_t)oy * q.out_w + ox) * q.channels;
      int32_t c = 0;
      for (; c + 4 <= q.channels; c += 4) {
        int32_t a0 = 0, a1 = 0, a2 = 0, a3 = 0;
        const int8_t* row = corner + c;
        for (int32_t fy = w.fy_start; fy < w.fy_end; ++fy, row += row_step) {
          const int8_t* in = row;
          for (int32_t fx = w.fx_start; fx < w.fx_end; ++fx, in += q.channels) {
#if defined(__ARM_FEATURE_SIMD32) && __ARM_FEATURE_SIMD32
            uint32_t v;
            memcpy(&v, in, 4);
            a0 += (int8_t)v;
            a1 += (int8_t)(v >> 8);
            a2 += (int8_t)(v >> 16);
            a3 += (int8_t)(v >> 24);
#else
            a0 += in[0], a1 += in[1], a2 += in[2], a3 += in[3];
#endif
          }
        }
        out[c] = average(a0, count, q.act_min, q.act_max);
        out[c + 1] = average(a1, count, q.act_min, q.act_max);
        out[c + 2] = average(a2, count, q.act_min, q.act_max);
        out[c + 3] = average(a3, count, q.act_min, q.act_max);
      }
      for (; c < q.channels; ++c) {
        int32_t acc = 0;
        const int8_t* row = corner + c;
        for (int32_t fy = w.fy_start; fy < w.fy_end; ++fy, row += row_step) {
          for (int32_t fx = 0; fx < w.fx_end - w.fx_start; ++fx) acc += row[fx * q.channels];
        }
        out[c] = average(acc, count, q.act_min, q.act_max);
      }
    }
  }
}

/* reference_integer_ops::MaxPool (int8): four channels at a time (the DSP variant one word
 * a tap: SSUB8 sets a GE flag per byte where the tap is the larger, SEL keeps those bytes),
 * the last channels one by one. */
void edgecnn_max_pool_s8(const EdgecnnPoolParams* p, const int8_t* input, int8_t* output) {
  /* a local copy: stores through int8_t pointers may alias *p, not q */
  const EdgecnnPoolParams q = *p;
  const size_t row_step = (size_t)q.in_w * q.channels;
  for (int32_t oy = 0; oy < q.out_h; ++oy) {
    for (int32_t ox = 0; ox < q.out_w; ++ox) {
      const PoolWindow w = pool_window(&q, oy, ox);
      const int8_t* corner =
          input + ((size_t)(w.y0 + w.fy_start) * q.in_w + (w.x0 + w.fx_start)) * q.channels;
      int8_t* out = output + ((size_t)oy * q.out_w + ox) * q.channels;
      int32_t c = 0;
      for (; c + 4 <= q.channels; c += 4) {
        int8_t best[4] = {-128, -128, -128, -128};
        const int8_t* row = corner + c;
#if defined(__ARM_FEATURE_SIMD32) && __ARM_FEATURE_SIMD32
        uint32_t b = 0x80808080u;
        for (int32_t fy = w.fy_start; fy < w.fy_end; ++fy, row += row_step) {
          const int8_t* in = row;
          for (int32_t fx = w.fx_start; fx < w.fx_end; ++fx, in += q.channels) {
            uint32_t v;
            memcpy(&v, in, 4);
            (void)__ssub8((int8x4_t)v, (int8x4_t)b);
            b = (uint32_t)__sel((uint8x4_t)v, (uint8x4_t)b);
          }
        }
        memcpy(best, &b, 4);
#else
        for (int32_t fy = w.fy_start; fy < w.fy_end; ++fy, row += row_step) {
          const int8_t* in = row;
          for (int32_t fx = w.fx_start; fx < w.fx_end; ++fx, in += q.channels) {
            for (int k = 0; k < 4; ++k) best[k] = in[k] > best[k] ? in[k] : best[k];
          }
        }
#endif
        for (int k = 0; k < 4; ++k) out[c + k] = (int8_t)clamp32(best[k], q.act_min, q.act_max);
      }
      for (; c < q.channels; ++c) {
        int32_t best = -128;
        const int8_t* row = corner + c;
        for (int32_t fy = w.fy_start; fy < w.fy_end; ++fy, row += row_step) {
          for (int32_t fx = 0; fx < w.fx_end - w.fx_start; ++fx) {
            const int32_t v = row[fx * q.channels];
            if (v > best) best = v;
          }
        }
        out[c] = (int8_t)clamp32(best, q.act_min, q.act_max);
      }
    }
  }
}
