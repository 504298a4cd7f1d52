// edgecnn_platform.h for boards with an Arduino core (Arduino Mbed OS for the Nano 33 BLE,
// arduino-esp32 for the ESP32).
#include <Arduino.h>

#include "edgecnn_config.h"
#include "edgecnn_platform.h"

void edgecnn_platform_begin(void) {
  Serial.begin(EDGECNN_BAUD);
#if EDGECNN_USB_SERIAL_WAIT_MS > 0
  // Native USB CDC: opening the port does not reset the board, so wait a little for the host
  // to open it; otherwise the boot lines would go nowhere.
  for (unsigned long start = millis(); !Serial && millis() - start < EDGECNN_USB_SERIAL_WAIT_MS;) {
  }
#endif
}

void edgecnn_platform_write(const char* text) { Serial.print(text); }

int edgecnn_platform_read(void) { return Serial.available() > 0 ? Serial.read() : -1; }

uint32_t edgecnn_platform_micros(void) { return (uint32_t)micros(); }

uint32_t edgecnn_platform_millis(void) { return (uint32_t)millis(); }

void edgecnn_platform_idle(void) { yield(); }
