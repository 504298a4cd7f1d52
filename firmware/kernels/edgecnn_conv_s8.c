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
  conv_pixels(p, input, output, scratch, gather);
}
