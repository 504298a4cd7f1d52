/* edgecnn_platform.h for QEMU's Arm MPS2 AN386: the CMSDK APB UART0 at 0x40004000 is the serial
 * line; the FPGA I/O block's 25 MHz counter (0x40028018) is the clock. Under QEMU's
 * `-icount shift=0` the virtual clock advances exactly 1 ns per instruction, so the counter
 * advances once every 40 instructions: microseconds are virtual (instructions / 1000) and the
 * "cycle" figure is the instruction count (to 40 instructions). QEMU does not model DWT. */
#include <stdint.h>

#include "edgecnn_app.h"
#include "edgecnn_platform.h"

#define UART0_DATA (*(volatile uint32_t*)0x40004000u)
#define UART0_STATE (*(volatile uint32_t*)0x40004004u)
#define UART0_CTRL (*(volatile uint32_t*)0x40004008u)
#define UART0_BAUDDIV (*(volatile uint32_t*)0x40004010u)
#define UART_STATE_TX_FULL 1u
#define UART_STATE_RX_FULL 2u
#define FPGAIO_COUNTER (*(volatile uint32_t*)0x40028018u)
#define FPGAIO_PRESCALE (*(volatile uint32_t*)0x4002801Cu)
#define COUNTER_HZ 25000000u
#define INSTRUCTIONS_PER_TICK 40u /* 1 ns per instruction at 25 MHz */

static uint64_t ticks = 0; /* the 32-bit counter, extended */
static uint32_t last_count = 0;

static uint64_t now_ticks(void) {
  const uint32_t count = FPGAIO_COUNTER;
  ticks += (uint32_t)(count - last_count);
  last_count = count;
  return ticks;
}

void edgecnn_platform_begin(void) {
  UART0_BAUDDIV = 16;
  UART0_CTRL = 3u; /* TX and RX enabled */
  FPGAIO_PRESCALE = 0;
  last_count = FPGAIO_COUNTER;
}

void edgecnn_platform_write(const char* text) {
  for (; *text; ++text) {
    while (UART0_STATE & UART_STATE_TX_FULL) {
    }
    UART0_DATA = (uint8_t)*text;
  }
}

int edgecnn_platform_read(void) {
  return (UART0_STATE & UART_STATE_RX_FULL) ? (int)(UART0_DATA & 0xFFu) : -1;
}

uint32_t edgecnn_platform_micros(void) { return (uint32_t)(now_ticks() / (COUNTER_HZ / 1000000u)); }

uint32_t edgecnn_platform_millis(void) { return (uint32_t)(now_ticks() / (COUNTER_HZ / 1000u)); }

void edgecnn_platform_idle(void) {}

uint32_t edgecnn_platform_cycles(void) { return (uint32_t)(now_ticks() * INSTRUCTIONS_PER_TICK); }

/* TFLM's log sink (a TFLM build on this target): its messages go to the UART. */
void DebugLog(const char* text);
void DebugLog(const char* text) { edgecnn_platform_write(text); }

int main(void) {
  edgecnn_app_setup();
  for (;;) edgecnn_app_poll();
}
