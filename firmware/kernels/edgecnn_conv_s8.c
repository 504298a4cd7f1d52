/* CONV_2D (reference_integer_ops::ConvPerChannel), the general kernel: each output pixel's
 * receptive field gathered into the two-pixel window (edgecnn_conv_window.h), a padded tap as
 * the input's zero point; a pointwise convolution goes to edgecnn_conv_1x1_s8.c. Two output
 * pixels' inputs as int16 in one interleaved window against pairs of output channels: 16
 * products per 18 instructions on a DSP core (LDRD, SXTB16, SMLAD). Where the host planner
 * narrows it (the window sets the arena's peak), the window keeps the inputs as int8, half the
 * bytes, widened in the loop: 16 products per 21 instructions. */
#include "edgecnn_conv_window.h"

/* One output pixel's receptive field in its lane, in the weights' order ([kh][kw][in]); a tap
 * outside the input holds the input's zero point, which the folded bias cancels exactly. */
static void gather(const EdgecnnConvParams* q, const int8_t* input, int32_t pixel, void* window,
                   int32_t lane) {
  const int32_t in_y0 = (pixel / q->out_w) * q->stride_h - q->pad_h;
  const int32_t in_x0 = (pixel % q->out_w) * q->stride_w - q->pad_w;
  const int32_t in_c = q->in_c;
  int32_t position = 0;
  for (int32_t ky = 0; ky < q->k_h; ++ky) {
    const int32_t iy = in_y0 + q->dilation_h * ky;
    for (int32_t kx = 0; kx < q->k_w; ++kx, position += in_c) {
      const int32_t ix = in_x0 + q->dilation_w * kx;
      const int outside = iy < 0 || iy >= q->in_h || ix < 0 || ix >= q->in_w;
      const int8_t* in = outside ? NULL : input + ((size_t)iy * q->in_w + ix) * in_c;
      if (q->narrow_window) {
        if (outside) {
          fill_narrow((int8_t*)window, position, in_c, lane, (int8_t)(-q->input_offset));
        } else {
          put_s8_narrow(in, (int8_t*)window, position, in_c, lane);
        }
      } else if (outside) {
        fill((int16_t*)window, position, in_c, lane, (int16_t)(-q->input_offset));
      } else {
        put_s8(in, (int16_t*)window, position, in_c, lane);
      }
    }
  }
}

int32_t edgecnn_conv_s8_scratch_bytes(const EdgecnnConvParams* p) {
  /* the window: two pixels of n4 int16 values (narrow: int8) */
  return (p->narrow_window ? 2 : 4) * ((p->k_h * p->k_w * p->in_c + 3) & ~3);
}

/* Σ w·x + folded_bias over the window of two output pixels (the input offset folded into the
 * bias on the host): two pixels by two output channels per inner loop, each load serving two
 * products. */
void edgecnn_conv_pixels(const EdgecnnConvParams* p, const int8_t* input, int8_t* output,
                         void* scratch, EdgecnnWindowFill fill_pixel) {
  /* a local copy: stores through int8_t pointers may alias *p, not q */
  const EdgecnnConvParams q = *p;
  const int32_t n = q.k_h * q.k_w * q.in_c;
  const int32_t groups = (n + 3) >> 2;
  const int narrow = q.narrow_window;
  int16_t* window = (int16_t*)scratch;
  int8_t* window8 = (int8_t*)scratch;
  for (int32_t lane = 0; lane < 2; ++lane) {
    if (narrow) {
      fill_narrow(window8, n, 4 * groups - n, lane, 0);
    } else {
      fill(window, n, 4 * groups - n, lane, 0);
    }
  }
  const int32_t pixels = q.out_h * q.out_w;
  for (int32_t px = 0; px < pixels; px += 2) {
    const int32_t pair = px + 1 < pixels;
    /* a lone last pixel fills both lanes; the second's sums are not stored */
    for (int32_t lane = 0; lane < 2; ++lane)
      fill_pixel(&q, input, pair ? px + lane : px, scratch, lane);
    int8_t* out_a = output + (size_t)px * q.out_c;
    int8_t* out_b = out_a + q.out_c;
    const int8_t* w = q.weights;
    for (int32_t oc = 0; oc < q.out_c; oc += 2, w += 8 * groups) {
      int32_t acc[4] = {0, 0, 0, 0};
      if (narrow) {
        conv_pair_narrow(window8, w, groups, acc);
      } else {
        conv_pair(window, w, groups, acc);
      }
      store_block(&q, oc, acc, out_a, out_b, pair, oc + 1 < q.out_c);
    }
  }
}

/* reference_integer_ops::ConvPerChannel (one group). Σ w·(x + offset) + bias is computed as
 * Σ w·x + folded_bias, folded_bias = bias + offset·Σ w (made on the host). The wrapper that
 * picks: a 1x1, stride-1, unpadded convolution runs the pointwise kernel. */
void edgecnn_conv_s8(const EdgecnnConvParams* p, const int8_t* input, int8_t* output,
                     void* scratch) {
  if (p->k_h == 1 && p->k_w == 1 && p->stride_h == 1 && p->stride_w == 1 && p->pad_h == 0 &&
      p->pad_w == 0) {
    edgecnn_conv_1x1_s8(p, input, output, scratch);
    return;
  }
  edgecnn_conv_pixels(p, input, output, scratch, gather);
}
