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


# The largest right shift the requantization table takes: its rounding word,
# 2^(e-1) + output_offset * 2^e, must fit int32 (|output_offset| <= 128), and the 64-bit sum
# the kernel forms, x * M + rounding * 2^31, must not overflow (|x * M| < 2^62).
REQUANT_TABLE_MAX_SHIFT = 23


def requant_table(bias: np.ndarray | None, multipliers: list[tuple[int, int]],
                  output_offset: int, channels: int) -> np.ndarray | None:
    """The kernels' per-channel requantization table (EdgecnnConvParams.requant): four int32
    words per output channel — the bias the kernel adds to its sum, the multiplier M, the
    rounding word 2^(e-1) + output_offset * 2^e and e - 1 — for a layer whose every channel
    shifts right (QuantizeMultiplier's exponent -e, e in 1..REQUANT_TABLE_MAX_SHIFT); ``None``
    for any other layer (its kernel then reads the multiplier and shift arrays).

    With x = sum + bias, TFLM's MultiplyByQuantizedMultiplier(x, M, -e) + output_offset is
    RoundingDivideByPOT(r, e) + output_offset, r = floor((x * M + 2^30) / 2^31) (SRDHM; M is
    never INT32_MIN). RoundingDivideByPOT rounds half away from zero:
    floor((r + 2^(e-1) - [r < 0]) / 2^e). As floor(floor(a / b) / c) = floor(a / (b c)), the
    whole is floor((x * M + 2^30 + (rounding - [r < 0]) * 2^31) / 2^(31 + e)), and since
    31 + e >= 32 that is the 64-bit sum's high word shifted right by e - 1. The kernel uses
    [x < 0] for [r < 0] (known before the multiply): with M >= 0 they differ only when x < 0
    and r = 0, and then both give floor((2^(e-1) - 1 or 2^(e-1)) / 2^e) = 0. A QuantizeMultiplier
    of 0 (a scale too small for it) is stored as M = 0, e = 1: x * 0 rounds to 0 either way.
    Padded with zero channels to a multiple of four (the kernels read channels in pairs and
    fours)."""
    exponents = []
    for q, shift in multipliers:
        e = 1 if q == 0 else -shift
        if not 1 <= e <= REQUANT_TABLE_MAX_SHIFT:
            return None
        exponents.append(e)
    if len(multipliers) == 1:
        multipliers, exponents = multipliers * channels, exponents * channels
    table = np.zeros((-(-channels // 4) * 4, 4), dtype=np.int64)
    table[:channels, 0] = np.asarray(bias, dtype=np.int64).reshape(-1)[:channels] \
        if bias is not None else 0
    table[:channels, 1] = [q for q, _ in multipliers]
    table[:channels, 2] = [(1 << (e - 1)) + output_offset * (1 << e) for e in exponents]
    table[:channels, 3] = [e - 1 for e in exponents]
    return table.reshape(-1)
