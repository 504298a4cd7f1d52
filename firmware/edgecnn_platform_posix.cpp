// edgecnn_platform.h on a POSIX host: the serial line is stdin/stdout (a pseudo-terminal when
// a harness runs the program), the clocks are CLOCK_MONOTONIC. With it, edgecnn's firmware runs
// on the host exactly as written for the boards: the host test suite drives it through a pty.
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "edgecnn_app.h"
#include "edgecnn_platform.h"

namespace {
uint64_t monotonic_us() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}
}  // namespace

void edgecnn_platform_begin(void) { setvbuf(stdout, nullptr, _IOFBF, 1 << 16); }

void edgecnn_platform_write(const char* text) {
  fputs(text, stdout);
  fflush(stdout);
}

int edgecnn_platform_read(void) {
  struct pollfd p = {0, POLLIN, 0};
  if (poll(&p, 1, 0) <= 0 || !(p.revents & (POLLIN | POLLHUP))) return -1;
  unsigned char byte;
  const ssize_t n = read(0, &byte, 1);
  if (n == 0) exit(0);  // the harness closed the line: the program ends
  return n == 1 ? byte : -1;
}

uint32_t edgecnn_platform_micros(void) { return (uint32_t)monotonic_us(); }

uint32_t edgecnn_platform_millis(void) { return (uint32_t)(monotonic_us() / 1000u); }

void edgecnn_platform_idle(void) {}

int main() {
  edgecnn_app_setup();
  for (;;) {
    struct pollfd p = {0, POLLIN, 0};
    poll(&p, 1, 20);  // sleep until input arrives (or 20 ms, for the payload timeout)
    edgecnn_app_poll();
  }
}
