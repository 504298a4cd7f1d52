"""TFLM's quantization arithmetic at Prepare time, in Python: the constants edgecnn's native
kernels take are computed here exactly as TFLM computes them (the same float32/double
conversions, ``QuantizeMultiplier``'s frexp and round-half-away), so that the kernels reproduce
TFLM's reference kernels bit for bit."""
from __future__ import annotations

import math

import numpy as np

from ..errors import UnsupportedModelError

# TFLite's ActivationFunctionType
_RELU, _RELU_N1_TO_1, _RELU6 = 1, 2, 3


def _round_half_away(x: float) -> int:
    return int(math.floor(abs(x) + 0.5)) * (1 if x >= 0 else -1)


def quantize_multiplier(m: float) -> tuple[int, int]:
    """tflite::QuantizeMultiplier: (Q0.31 significand, power-of-two exponent)."""
    if m == 0.0:
        return 0, 0
    q, shift = math.frexp(m)
    q_fixed = _round_half_away(q * (1 << 31))
    if q_fixed == (1 << 31):
        q_fixed //= 2
        shift += 1
    if shift < -31:
        return 0, 0
    if shift > 30:
        return (1 << 31) - 1, 30
    return q_fixed, shift


def _f32(x: float) -> float:
    return float(np.float32(x))


def activation_range(activation: int, scale: float, zero_point: int) -> tuple[int, int]:
    """tflite::CalculateActivationRangeQuantized for int8 (float32 division, as TFLM)."""
    def q(f: float) -> int:
        return zero_point + _round_half_away(float(np.float32(f) / np.float32(scale)))
    lo, hi = -128, 127
    if activation == _RELU:
        return max(lo, q(0.0)), hi
    if activation == _RELU6:
        return max(lo, q(0.0)), min(hi, q(6.0))
    if activation == _RELU_N1_TO_1:
        return max(lo, q(-1.0)), min(hi, q(1.0))
    if activation != 0:
        raise UnsupportedModelError(f"fused activation {activation} is not supported by the "
                                    "native runtime")
    return lo, hi


def _padding(padding: int, stride: int, dilation: int, size: int, filt: int, out: int) -> int:
    """tflite::ComputePaddingWithOffset (the top/left part)."""
    effective = (filt - 1) * dilation + 1
    total = max((out - 1) * stride + effective - size, 0)
    return total // 2
