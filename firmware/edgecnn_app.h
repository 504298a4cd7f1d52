// edgecnn's firmware application: the wire protocol on top of edgecnn_runtime.h and
// edgecnn_platform.h. An Arduino sketch calls edgecnn_app_setup() from setup() and
// edgecnn_app_poll() from loop(); a bare-metal main() calls the first once, the second forever.
//
// Which protocol the firmware speaks is chosen at build time by edgecnn_config.h:
//   edgecnn (default)  line commands: id | selfcheck | bench | infer | profile | help
//                      (edgecnn_commands.cpp on edgecnn_protocol.h; driven by `edgecnn bench`)
//   MLPerf Tiny        EDGECNN_PROTOCOL_MLPERF_TINY: the MLCommons DUT API (edgecnn_mlperf.cpp)
#ifndef EDGECNN_APP_H_
#define EDGECNN_APP_H_

#include <stddef.h>
#include <stdint.h>

#include "edgecnn_runtime.h"

#ifdef __cplusplus
extern "C" {
#endif

void edgecnn_app_setup(void);
void edgecnn_app_poll(void);

// Shared by both protocols.
// printf to the serial port (at most EDGECNN_PRINT_MAX characters per call).
#define EDGECNN_PRINT_MAX 160
void edgecnn_printf(const char* format, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 1, 2)))
#endif
    ;

// One timed inference: microseconds from the platform clock, cycles from the cycle counter.
// Returns 0 on success.
int edgecnn_invoke_timed(uint32_t* micros_out, uint32_t* cycles_out);

// Element i of a quantized tensor as an integer (int8 or uint8 data).
int edgecnn_tensor_element(const EdgecnnTensor* tensor, uint32_t i);

// One timed inference with the runtime's per-operator events recorded; `count` events.
int edgecnn_invoke_profiled(uint32_t* micros_out, uint32_t* cycles_out, uint32_t* count);

typedef struct {
  const char* tag;  // the operator's name, as the runtime reports it
  uint32_t us;
  uint32_t cycles;
} EdgecnnOpEvent;

// Event i of the last profiled inference.
EdgecnnOpEvent edgecnn_op_event(uint32_t i);

// The two protocols; `error` is NULL when the runtime is ready, else what failed at start-up.
void edgecnn_commands_setup(const char* error);  // edgecnn_commands.cpp
void edgecnn_commands_poll(void);
void edgecnn_mlperf_setup(const char* error);  // edgecnn_mlperf.cpp
void edgecnn_mlperf_poll(void);

#ifdef __cplusplus
}
#endif

#endif  // EDGECNN_APP_H_
