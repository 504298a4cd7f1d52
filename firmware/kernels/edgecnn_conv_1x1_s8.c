/* CONV_2D with a 1x1 kernel, stride 1 and no padding (reference_integer_ops::ConvPerChannel):
 * each output pixel's inputs are its input pixel's channels, widened into the two-pixel window
 * where they are (no gathering), then the convolution's inner loops (edgecnn_conv_window.h). */
#include "edgecnn_conv_window.h"

static void pointwise_pixel(const EdgecnnConvParams* q, const int8_t* input, int32_t pixel,
                            void* window, int32_t lane) {
  const int8_t* in = input + (size_t)pixel * q->in_c;
  if (q->narrow_window) {
    put_s8_narrow(in, (int8_t*)window, 0, q->in_c, lane);
  } else {
    put_s8(in, (int16_t*)window, 0, q->in_c, lane);
  }
}

int32_t edgecnn_conv_1x1_s8_scratch_bytes(const EdgecnnConvParams* p) {
  /* the window: two pixels of in_c (rounded up to 4) int16 values (narrow: int8) */
  return (p->narrow_window ? 2 : 4) * ((p->in_c + 3) & ~3);
}

void edgecnn_conv_1x1_s8(const EdgecnnConvParams* p, const int8_t* input, int8_t* output,
                         void* scratch) {
  edgecnn_conv_pixels(p, input, output, scratch, pointwise_pixel);
}
