// edgecnn_runtime.h on TensorFlow Lite Micro. The two interpreter APIs the pinned board
// libraries expose are selected by edgecnn_tflm_config.h (generated from the board file):
//   EDGECNN_TFLM_API_2022    MicroInterpreter(model, resolver, arena, size, ErrorReporter*)
//                            (TensorFlowLite_ESP32 1.0.0, TFLM of 2022)
//   otherwise                MicroInterpreter(model, resolver, arena, size,
//                            MicroResourceVariables*, MicroProfilerInterface*)
//                            (Arduino_TensorFlowLite at 7948b85, TFLM of 2023)
// and the op registrations by EDGECNN_TFLM_OPS, the exact Add* methods of the board's library
// (both in the generated edgecnn_tflm_config.h).
#include <stdio.h>

#include "edgecnn_config.h"
#include "edgecnn_runtime.h"
#include "edgecnn_tflm_config.h"
#include "model_data.h"

#if defined(EDGECNN_TFLM_API_2022)
#include "tensorflow/lite/micro/micro_error_reporter.h"
#endif
#include "tensorflow/lite/micro/micro_interpreter.h"
#include "tensorflow/lite/micro/micro_mutable_op_resolver.h"
#if EDGECNN_TFLM_OP_EVENTS
#include "tensorflow/lite/micro/micro_profiler_interface.h"
#endif
#include "tensorflow/lite/schema/schema_generated.h"

namespace {

alignas(16) uint8_t tensor_arena[EDGECNN_ARENA_BYTES];
tflite::MicroInterpreter* interpreter = nullptr;
char init_error[128];

#if EDGECNN_TFLM_OP_EVENTS
// Forwards TFLM's per-operator events (tag = the registration name, e.g. "CONV_2D") to the
// application; TFLM's own MicroProfiler keeps a far larger event table.
class OpEvents : public tflite::MicroProfilerInterface {
 public:
  uint32_t BeginEvent(const char* tag) override { return edgecnn_op_begin(tag); }
  void EndEvent(uint32_t handle) override { edgecnn_op_end(handle); }
};
OpEvents op_events;
#endif

const char* failed(const char* what) {
  snprintf(init_error, sizeof(init_error), "%s", what);
  return init_error;
}

EdgecnnTensor describe(const TfLiteTensor* t) {
  EdgecnnTensor d = {};
  d.data = t->data.uint8;
  d.bytes = (uint32_t)t->bytes;
  d.type = (int32_t)t->type;
  d.rank = t->dims->size < EDGECNN_MAX_RANK ? t->dims->size : EDGECNN_MAX_RANK;
  for (int i = 0; i < d.rank; ++i) d.dims[i] = t->dims->data[i];
  d.scale = t->params.scale;
  d.zero_point = t->params.zero_point;
  return d;
}

}  // namespace

const char* edgecnn_runtime_init(void) {
  const tflite::Model* model = tflite::GetModel(EDGECNN_MODEL_DATA);
  if (model->version() != TFLITE_SCHEMA_VERSION) {
    snprintf(init_error, sizeof(init_error), "model schema %lu, library expects %d",
             (unsigned long)model->version(), TFLITE_SCHEMA_VERSION);
    return init_error;
  }
  // Exactly the builtin operators this model uses.
  static tflite::MicroMutableOpResolver<EDGECNN_TFLM_OP_COUNT> resolver;
#define EDGECNN_REGISTER_OP(method, name) \
  if (resolver.method() != kTfLiteOk) return failed("cannot register " name);
  EDGECNN_TFLM_OPS(EDGECNN_REGISTER_OP)
#undef EDGECNN_REGISTER_OP

#if defined(EDGECNN_TFLM_API_2022)
  static tflite::MicroErrorReporter error_reporter;
  static tflite::MicroInterpreter static_interpreter(model, resolver, tensor_arena,
                                                     sizeof(tensor_arena), &error_reporter);
#elif EDGECNN_TFLM_OP_EVENTS
  static tflite::MicroInterpreter static_interpreter(model, resolver, tensor_arena,
                                                     sizeof(tensor_arena),
                                                     /*resource_variables=*/nullptr, &op_events);
#else
  static tflite::MicroInterpreter static_interpreter(model, resolver, tensor_arena,
                                                     sizeof(tensor_arena));
#endif
  if (static_interpreter.AllocateTensors() != kTfLiteOk) {
    snprintf(init_error, sizeof(init_error),
             "AllocateTensors() failed with a %lu-byte arena; rebuild with a larger one "
             "(edgecnn build --arena BYTES)",
             (unsigned long)sizeof(tensor_arena));
    return init_error;
  }
  interpreter = &static_interpreter;
  return nullptr;
}

int edgecnn_runtime_invoke(void) {
  return interpreter != nullptr && interpreter->Invoke() == kTfLiteOk ? 0 : -1;
}

EdgecnnTensor edgecnn_runtime_input(void) {
  return interpreter ? describe(interpreter->input(0)) : EdgecnnTensor{};
}

EdgecnnTensor edgecnn_runtime_output(void) {
  return interpreter ? describe(interpreter->output(0)) : EdgecnnTensor{};
}

uint32_t edgecnn_runtime_arena_allocated(void) { return (uint32_t)sizeof(tensor_arena); }

uint32_t edgecnn_runtime_arena_used(void) {
  return interpreter ? (uint32_t)interpreter->arena_used_bytes() : 0;
}

int edgecnn_runtime_has_op_events(void) { return EDGECNN_TFLM_OP_EVENTS; }
