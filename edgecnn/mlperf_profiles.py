"""MLPerf Tiny benchmark profiles: for each benchmark id, the bytes the MLCommons runner sends
with ``db`` and what a reference submission prints back (mlcommons/tiny,
``benchmark/reference_submissions/*/submitter_implemented.cpp``):

=========  ==========================================  ==============================  ========
model id   ``db`` bytes                                 ``m-results-[...]``             scored by
=========  ==========================================  ==============================  ========
kws01      int8 features, copied as they are            every output, dequantized       Top-1
ic01       uint8 pixels, each minus 128 into int8       every output, dequantized       Top-1
vww01      uint8 pixels, each minus 128 into int8       every output, dequantized       Top-1
ad01       float32 features, quantized on the device    ONE value: the mean squared     AUC
           with the input's scale and zero point        error of the dequantized output
                                                        against the float input
=========  ==========================================  ==============================  ========

Any other ``--mlperf-model`` name takes the input tensor's bytes as they are and prints every
output dequantized. The firmware implements the same table (``firmware/edgecnn_mlperf.cpp``,
selected by ``EDGECNN_MLPERF_INPUT_FORMAT`` and ``EDGECNN_MLPERF_RESULT``); here it serves the
Python DUT of the virtual board and the host reference ``edgecnn bench`` compares against.

Example:
    >>> mlperf_profile("ic01").input_format
    'uint8-minus-128'
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .artifacts import TensorSpec
from .errors import OptionError

INPUT_AS_SENT = "as-sent"                 # the input tensor's own bytes
INPUT_UINT8_MINUS_128 = "uint8-minus-128"  # uint8 pixels; int8 = pixel - 128
INPUT_FLOAT32 = "float32"                 # little-endian float32 features, quantized on device
RESULT_SCORES = "scores"                  # every output element dequantized
RESULT_MSE = "mse"                        # mean of (dequantized output - float input)^2

INPUT_FORMATS = (INPUT_AS_SENT, INPUT_UINT8_MINUS_128, INPUT_FLOAT32)
RESULTS = (RESULT_SCORES, RESULT_MSE)


@dataclass(frozen=True)
class MlperfProfile:
    """How one benchmark's data enters the model and how its result leaves the device."""

    model: str              # what ``profile%`` names (m-model-[...])
    input_format: str       # one of INPUT_FORMATS
    result: str             # one of RESULTS
    metric: str             # the runner's accuracy-mode score: "top1" or "auc"

    @property
    def description(self) -> str:
        sent = {INPUT_AS_SENT: "the input tensor's bytes as sent",
                INPUT_UINT8_MINUS_128: "uint8 pixels, each minus 128 into int8",
                INPUT_FLOAT32: "float32 features, quantized on the device"}[self.input_format]
        out = {RESULT_SCORES: "every output dequantized",
               RESULT_MSE: "the mean squared error of the dequantized output against the "
                           "input"}[self.result]
        return f"{self.model}: {sent}; m-results: {out}"

    def db_bytes(self, model_input: TensorSpec) -> int:
        """How many bytes ``db load N`` must announce for one input."""
        if self.input_format == INPUT_FLOAT32:
            return 4 * model_input.elements
        return model_input.nbytes

    def check(self, model_input: TensorSpec, model_output: TensorSpec) -> None:
        """Refuse a model this benchmark's conversions cannot feed or score."""
        if self.input_format in (INPUT_UINT8_MINUS_128, INPUT_FLOAT32) and (
                model_input.dtype != "int8" or model_input.quant is None):
            sent = ("uint8 pixels" if self.input_format == INPUT_UINT8_MINUS_128
                    else "float32 features")
            raise OptionError(
                f"--mlperf-model {self.model} sends {sent} for an int8 input, but this "
                f"model's input is {model_input.dtype}"
                f"{'' if model_input.quant else ' without quantization'}; use another "
                "--mlperf-model name to send the input's own bytes")
        if self.result == RESULT_MSE and (
                model_output.elements != model_input.elements or model_output.quant is None
                or not model_output.integer):
            raise OptionError(
                f"--mlperf-model {self.model} scores the mean squared error of the output "
                f"against the input, but this model maps {model_input.elements} input values to "
                f"{model_output.elements} {model_output.dtype} outputs (an autoencoder's "
                "output has the input's size and a quantized type)")

    # -- the device's arithmetic, for the Python DUT and the host reference --------------------
    def to_input(self, sent: bytes, model_input: TensorSpec) -> np.ndarray:
        """The input tensor's values (shaped) from the bytes the runner sent."""
        if self.input_format == INPUT_UINT8_MINUS_128:
            values = (np.frombuffer(sent, dtype=np.uint8).astype(np.int16) - 128).astype(np.int8)
        elif self.input_format == INPUT_FLOAT32:
            assert model_input.quant is not None, "check() refuses unquantized inputs"
            floats = np.frombuffer(sent, dtype="<f4")
            q = model_input.quant
            values = np.array([quantize_like_reference(float(v), q.scale, q.zero_point)
                               for v in floats], dtype=np.int8)
        else:
            values = np.frombuffer(sent, dtype=np.dtype(model_input.dtype))
        return values.reshape(model_input.shape)

    def results(self, output: np.ndarray, model_output: TensorSpec, sent: bytes) -> list[float]:
        """What ``m-results-[...]`` holds for an output tensor, as float32 values."""
        values = dequantize(output, model_output)
        if self.result == RESULT_MSE:
            return [mean_squared_error_float32(values, np.frombuffer(sent, dtype="<f4"))]
        return [float(v) for v in values]

    def expected(self, reference, sent: bytes, model_input: TensorSpec,
                 model_output: TensorSpec) -> list[float]:
        """What a reference submission prints for ``sent``, with ``reference`` (a runtime's
        host reference: ``run(input) -> output``) computing the model."""
        out = np.asarray(reference.run(self.to_input(sent, model_input)))
        return self.results(out, model_output, sent)

    def runner_bytes(self, x: np.ndarray, model_input: TensorSpec) -> bytes:
        """The bytes a runner would send for the quantized input ``x`` (the data set form):
        what ``edgecnn bench`` loads when it has no data set of the benchmark's own."""
        x = np.asarray(x).reshape(-1)
        if self.input_format == INPUT_UINT8_MINUS_128:
            return (x.astype(np.int16) + 128).astype(np.uint8).tobytes()
        if self.input_format == INPUT_FLOAT32:
            assert model_input.quant is not None
            return model_input.quant.dequantize(x).astype("<f4").tobytes()
        return np.ascontiguousarray(x.astype(np.dtype(model_input.dtype))).tobytes()


def dequantize(output: np.ndarray, spec: TensorSpec) -> np.ndarray:
    """An output as the firmware prints it: float32 (q - zero point) * scale."""
    if spec.quant is None:
        return np.asarray(output, dtype=np.float32).reshape(-1)
    return spec.quant.dequantize(np.asarray(output).reshape(-1))


def quantize_like_reference(value: float, scale: float, zero_point: int) -> int:
    """``QuantizeFloatToInt8`` of the reference submissions: round(value / scale) in float32,
    half away from zero, plus the zero point, saturated to int8 (NaN reads as the lowest)."""
    ratio = float(np.float32(value) / np.float32(scale))
    if not math.isfinite(ratio):
        return 127 if ratio > 0 else -128          # +inf saturates high; -inf and NaN low
    rounded = int(math.copysign(math.floor(abs(ratio) + 0.5), ratio))
    return max(-128, min(127, rounded + zero_point))


def mean_squared_error_float32(output: np.ndarray, reference: np.ndarray) -> float:
    """The anomaly-detection result as the reference computes it on the device: float32
    squares summed in order, divided by the count (sums in another order round differently)."""
    total = np.float32(0.0)
    out = np.asarray(output, dtype=np.float32)
    ref = np.asarray(reference, dtype=np.float32)
    for a, b in zip(out, ref, strict=True):
        diff = np.float32(a - b)
        total = np.float32(total + np.float32(diff * diff))
    return float(np.float32(total / np.float32(max(1, len(out)))))


def format_results(values) -> str:
    """``m-results-[...]``: every value with 3 decimals, as the firmware's "%0.3f"."""
    return "m-results-[" + ",".join(f"{float(v):.3f}" for v in values) + "]"


PROFILES = {p.model: p for p in (
    MlperfProfile("kws01", INPUT_AS_SENT, RESULT_SCORES, "top1"),
    MlperfProfile("ic01", INPUT_UINT8_MINUS_128, RESULT_SCORES, "top1"),
    MlperfProfile("vww01", INPUT_UINT8_MINUS_128, RESULT_SCORES, "top1"),
    MlperfProfile("ad01", INPUT_FLOAT32, RESULT_MSE, "auc"),
)}


def mlperf_profile(model: str) -> MlperfProfile:
    """The profile of a benchmark id; any other name sends the input's bytes as they are."""
    return PROFILES.get(model, MlperfProfile(model, INPUT_AS_SENT, RESULT_SCORES, "top1"))


def recorded_profile(model: str, input_format: str, result: str) -> MlperfProfile:
    """The profile a project's manifest recorded (what its firmware was built to do)."""
    if input_format not in INPUT_FORMATS or result not in RESULTS:
        raise OptionError(f"unknown MLPerf Tiny profile {input_format}/{result}")
    return MlperfProfile(model, input_format, result, "auc" if result == RESULT_MSE else "top1")

