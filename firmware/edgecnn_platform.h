// What the firmware needs from the board it runs on: a byte stream and a clock. One
// implementation per target kind (edgecnn_platform_arduino.cpp for boards with an Arduino core,
// edgecnn_platform_posix.cpp on a host, targets/mps2_an386/ for the emulated Cortex-M4);
// the application and the runtimes never touch Serial, millis() or a UART directly.
#ifndef EDGECNN_PLATFORM_H_
#define EDGECNN_PLATFORM_H_

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

// Opens the serial port at EDGECNN_BAUD (and, on native USB, waits a moment for the host).
void edgecnn_platform_begin(void);

// Writes a NUL-terminated string as is (the caller adds line endings).
void edgecnn_platform_write(const char* text);

// The next received byte, or -1 when none is waiting. Never blocks.
int edgecnn_platform_read(void);

// Free-running 32-bit microsecond and millisecond clocks (they wrap; subtract, never compare).
uint32_t edgecnn_platform_micros(void);
uint32_t edgecnn_platform_millis(void);

// Called between long steps (inferences): lets an RTOS run its idle task and feed its watchdog.
void edgecnn_platform_idle(void);

// A platform's own cycle counter (boards whose `cycle_counter` is "platform": the emulator's
// instruction count). Not defined elsewhere.
uint32_t edgecnn_platform_cycles(void);

#ifdef __cplusplus
}
#endif

#endif  // EDGECNN_PLATFORM_H_
