// Cycle counters, chosen by the board file's `cycle_counter` (the generated edgecnn_config.h
// defines one of EDGECNN_CYCLES_DWT, EDGECNN_CYCLES_CCOUNT, EDGECNN_CYCLES_PLATFORM,
// EDGECNN_CYCLES_NONE). A counter is
// used only when compiling for its architecture: the same sources built for the host (tests,
// the host-run firmware) have no cycle counter.
#ifndef EDGECNN_TIMER_H_
#define EDGECNN_TIMER_H_

#include <stdint.h>

#if defined(EDGECNN_CYCLES_DWT) && defined(__arm__)
// Cortex-M3/M4/M7 Data Watchpoint and Trace unit, addressed directly so that no CMSIS device
// header is needed: DEMCR.TRCENA (bit 24) powers DWT, DWT_CTRL.CYCCNTENA (bit 0) starts it.
#define EDGECNN_DEMCR (*(volatile uint32_t*)0xE000EDFCu)
#define EDGECNN_DWT_CTRL (*(volatile uint32_t*)0xE0001000u)
#define EDGECNN_DWT_CYCCNT (*(volatile uint32_t*)0xE0001004u)
static inline void edgecnn_cycles_init(void) {
  EDGECNN_DEMCR |= (1u << 24);
  EDGECNN_DWT_CYCCNT = 0;
  EDGECNN_DWT_CTRL |= 1u;
}
static inline uint32_t edgecnn_cycles(void) { return EDGECNN_DWT_CYCCNT; }
#define EDGECNN_HAS_CYCLES 1
#elif defined(EDGECNN_CYCLES_CCOUNT) && defined(__XTENSA__)
// Xtensa CCOUNT special register: increments every CPU clock.
static inline void edgecnn_cycles_init(void) {}
static inline uint32_t edgecnn_cycles(void) {
  uint32_t ccount;
  __asm__ __volatile__("rsr %0, ccount" : "=a"(ccount));
  return ccount;
}
#define EDGECNN_HAS_CYCLES 1
#elif defined(EDGECNN_CYCLES_PLATFORM) && defined(__arm__)
// The platform counts (edgecnn_platform_cycles(): the emulator's instruction count).
#include "edgecnn_platform.h"
static inline void edgecnn_cycles_init(void) {}
static inline uint32_t edgecnn_cycles(void) { return edgecnn_platform_cycles(); }
#define EDGECNN_HAS_CYCLES 1
#else
static inline void edgecnn_cycles_init(void) {}
static inline uint32_t edgecnn_cycles(void) { return 0; }
#define EDGECNN_HAS_CYCLES 0
#endif

#endif  // EDGECNN_TIMER_H_
