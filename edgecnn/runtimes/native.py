"""edgecnn's own runtime: the int8 graph lowered on the host to plain C99 data (weights, biases,
per-channel multipliers and shifts, one parameter struct per layer, arena offsets) that a small
dispatcher (``firmware/edgecnn_runtime_native.cpp``) runs through the kernels of
``firmware/edgecnn_kernels.c``: no flatbuffer, no interpreter, no allocation.

Every quantization constant is computed here exactly as TFLM computes it at Prepare time (the
same float32/double conversions, ``QuantizeMultiplier``'s frexp and round-half-away), so that
the kernels reproduce TFLM's reference kernels bit for bit. Tensor memory is planned statically
over tensor lifetimes (a greedy first fit, largest first; RESHAPE shares its input's bytes).

Example:
    >>> plan = lower(read_tflite("kws_ref_model.tflite"))     # doctest: +SKIP
    >>> plan.arena_bytes                                        # doctest: +SKIP
    16000
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

import numpy as np

from ..errors import UnsupportedModelError
from ..tflite_model import Operator, Tensor, TfliteModel
from .base import ArenaPlan, HostBuild, PlanPart

if TYPE_CHECKING:
    from ..boards import Board

SUPPORTED = ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "AVERAGE_POOL_2D",
             "MAX_POOL_2D", "ADD", "MUL", "SOFTMAX", "RESHAPE", "RESIZE_BILINEAR",
             "CONCATENATION", "RELU", "RELU6", "PAD", "PADV2", "QUANTIZE", "SUB")
ALIGN = 16
# TFLite's ActivationFunctionType
_RELU, _RELU_N1_TO_1, _RELU6 = 1, 2, 3


# --- TFLM's quantization arithmetic, in Python --------------------------------------------------

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


# --- the lowered graph ---------------------------------------------------------------------------

@dataclass(frozen=True)
class ConstArray:
    name: str
    ctype: str          # int8_t or int32_t
    values: tuple[int, ...]


@dataclass(frozen=True)
class Layer:
    index: int
    op: str             # the builtin, e.g. CONV_2D
    kernel: str         # the C kernel's family: conv, depthwise, fully_connected, ...
    params_type: str    # the C struct
    fields: tuple[tuple[str, str], ...]     # (field, C value): its designated initialiser
    arrays: tuple[ConstArray, ...]
    input1: int         # arena offsets (-1: none)
    input2: int
    constant2: str      # name of a constant second input (ADD), "" when none
    output: int
    scratch: int = -1   # arena offset of the layer's kernel scratch (-1: none)


@dataclass
class NativePlan:
    layers: list[Layer]
    arena_bytes: int                  # the plan's peak (tensors and scratch), 16-byte multiple
    offsets: dict[int, int]           # tensor index -> arena offset
    input: Tensor
    output: Tensor
    input_offset: int
    output_offset: int
    weight_bytes: int = 0
    scratch_bytes: int = 0            # the largest layer's kernel scratch (inside the plan)
    scratch_layer: str = ""
    notes: list[str] = field(default_factory=list)

    @property
    def total_bytes(self) -> int:
        """The arena the firmware needs: the plan's peak, every scratch buffer inside it."""
        return self.arena_bytes


def unsupported_ops(m: TfliteModel) -> list[str]:
    return sorted({op.opcode.name for op in m.operators if op.opcode.name not in SUPPORTED})


def _check(m: TfliteModel) -> None:
    bad = unsupported_ops(m)
    if bad:
        raise UnsupportedModelError(
            f"the native runtime has no kernel for {', '.join(bad)} (it runs "
            f"{', '.join(SUPPORTED)}); build with --runtime tflm")
    for t in (m.input_tensor(), m.output_tensor()):
        if t.dtype != "int8":
            raise UnsupportedModelError(f"the native runtime needs int8 input and output "
                                        f"tensors, not {t.dtype}; quantize with "
                                        "`edgecnn quantize` or build with --runtime tflm")
    for op in m.operators:
        for i in (*op.inputs, *op.outputs):
            # (PAD's paddings too: TFLM reads them as int32 whatever their type)
            if i >= 0 and m.tensors[i].dtype not in ("int8", "int32"):
                raise UnsupportedModelError(f"layer {op.index} ({op.opcode.name}) has a "
                                            f"{m.tensors[i].dtype} tensor; the native runtime "
                                            "runs full-integer int8 models")


# The options each builtin the native runtime lowers carries ("NONE": defaults, as TFLM's
# parsers take them when a converter writes none).
OPTIONS_TYPES = {
    "CONV_2D": "Conv2DOptions", "DEPTHWISE_CONV_2D": "DepthwiseConv2DOptions",
    "FULLY_CONNECTED": "FullyConnectedOptions", "AVERAGE_POOL_2D": "Pool2DOptions",
    "MAX_POOL_2D": "Pool2DOptions", "ADD": "AddOptions", "MUL": "MulOptions",
    "RESIZE_BILINEAR": "ResizeBilinearOptions", "CONCATENATION": "ConcatenationOptions",
    "SOFTMAX": "SoftmaxOptions", "RESHAPE": "ReshapeOptions", "PAD": "PadOptions",
    "PADV2": "PadV2Options", "SUB": "SubOptions",
}
_SPATIAL = {"CONV_2D", "DEPTHWISE_CONV_2D", "AVERAGE_POOL_2D", "MAX_POOL_2D", "RESIZE_BILINEAR"}


def _validate(m: TfliteModel) -> None:
    """Refuse, with the operator and the reason, a graph the kernels would compute wrongly:
    the lowering reads shapes, options and scales as a converter writes them, so a file that
    breaks those rules must not become firmware (TFLM catches some of them only in debug
    builds)."""
    import math

    def refuse(op: Operator, why: str) -> UnsupportedModelError:
        return UnsupportedModelError(f"layer {op.index} ({op.opcode.name}): {why}; the model is "
                                     "not valid for the native runtime")

    if not m.operators:
        raise UnsupportedModelError("the model has no operators: there is nothing to run")
    written = {t for t in m.inputs}
    for op in m.operators:
        T = m.tensors
        want = OPTIONS_TYPES.get(op.opcode.name)
        if want is not None and op.options_type not in (want, "NONE"):
            raise refuse(op, f"it carries {op.options_type}, not {want}")
        if not op.outputs or not op.inputs or op.inputs[0] < 0:
            raise refuse(op, "it has no input or no output")
        if set(op.outputs) & {i for i in op.inputs if i >= 0}:
            raise refuse(op, "its output is also its input")
        for i in op.inputs:
            if i >= 0 and not T[i].is_constant and i not in written:
                raise refuse(op, f"it reads tensor {i} before any layer writes it")
        for index in op.outputs:
            if T[index].is_constant or index in written:
                raise refuse(op, f"it writes tensor {index}, which is a constant, a graph input or "
                                 "another layer's output")
            written.add(index)
        for i in (*op.inputs, *op.outputs):
            t = T[i] if i >= 0 else None
            if t is None or t.dtype not in ("int8", "int32"):
                continue
            if t.dtype == "int8" and not t.scales:
                raise refuse(op, f"tensor {i} is int8 without a quantization scale")
            if any(not math.isfinite(sc) or sc <= 0 for sc in t.scales):
                raise refuse(op, f"tensor {i} has a quantization scale that is not a finite "
                                 f"positive number ({[x for x in t.scales[:3]]})")
            if t.dtype == "int8" and any(not -128 <= z <= 127 for z in t.zero_points):
                raise refuse(op, f"tensor {i} has an int8 zero point outside -128..127")
            if any(d < 1 for d in t.shape) and not op.opcode.name == "RESHAPE":
                raise refuse(op, f"tensor {i} has an empty or unknown dimension {t.shape}")
        opts = op.options
        name = op.opcode.name
        if name in _SPATIAL and (len(T[op.inputs[0]].shape) != 4
                                 or len(T[op.outputs[0]].shape) != 4):
            raise refuse(op, "its input and output must be 4-D (batch, height, width, channels)")
        for key in ("strideH", "strideW", "dilationHFactor", "dilationWFactor", "filterHeight",
                    "filterWidth"):
            if key in opts and opts[key] < 1:
                raise refuse(op, f"{key} is {opts[key]}; it must be at least 1")
        if name == "DEPTHWISE_CONV_2D":
            in_c, out_c = T[op.inputs[0]].shape[-1], T[op.outputs[0]].shape[-1]
            multiplier = opts.get("depthMultiplier", out_c // max(1, in_c))
            if multiplier < 1 or out_c != in_c * multiplier or T[op.inputs[1]].shape[-1] != out_c:
                raise refuse(op, f"depth multiplier {multiplier} does not turn {in_c} input "
                                 f"channels into {out_c} (weights {T[op.inputs[1]].shape})")
        if name == "CONV_2D" and T[op.inputs[1]].shape[0] != T[op.outputs[0]].shape[-1]:
            raise refuse(op, f"{T[op.inputs[1]].shape[0]} filters make "
                             f"{T[op.outputs[0]].shape[-1]} output channels")
        if name == "FULLY_CONNECTED":
            w = T[op.inputs[1]].shape
            if T[op.inputs[0]].elements % max(1, w[1]) or T[op.outputs[0]].shape[-1] != w[0]:
                raise refuse(op, f"weights {w} do not fit input {T[op.inputs[0]].shape} and "
                                 f"output {T[op.outputs[0]].shape}")
        if name == "RESHAPE" and T[op.inputs[0]].elements != T[op.outputs[0]].elements:
            raise refuse(op, "it changes the number of elements")
        if name in ("ADD", "MUL", "SUB") and len(op.inputs) < 2:
            raise refuse(op, "it needs two inputs")
        if name in ("RELU", "RELU6", "QUANTIZE") and \
                T[op.inputs[0]].elements != T[op.outputs[0]].elements:
            raise refuse(op, "its input and output differ in size")
        if name in ("PAD", "PADV2"):
            x_shape, y_shape = T[op.inputs[0]].shape, T[op.outputs[0]].shape
            pads = T[op.inputs[1]] if len(op.inputs) > 1 and op.inputs[1] >= 0 else None
            if pads is None or not pads.is_constant:
                raise refuse(op, "its paddings are not a constant")
            values = pads.values().reshape(-1)
            if len(x_shape) > 4 or len(values) != 2 * len(x_shape) or len(y_shape) != len(x_shape):
                raise refuse(op, f"paddings {pads.shape} do not fit a {len(x_shape)}-D input of "
                                 "at most 4 dimensions")
            if (values < 0).any() or any(int(x_shape[d] + values[2 * d] + values[2 * d + 1])
                                         != y_shape[d] for d in range(len(x_shape))):
                raise refuse(op, f"paddings {values.tolist()} do not turn {x_shape} into "
                                 f"{y_shape}")
    for index in m.outputs:
        if index not in written:
            raise UnsupportedModelError(f"the model's output tensor {index} is written by no "
                                        "layer")


def _plan_memory(m: TfliteModel) -> tuple[dict[int, int], dict[int, int], int]:
    """Arena offsets for every activation tensor and every layer's kernel scratch, and the
    peak: greedy first fit over lifetimes, largest first. A scratch buffer lives during its
    layer only, so it goes where no tensor of that layer is (often a gap another layer's
    tensor leaves), not after the plan."""
    alias: dict[int, int] = {}
    for op in m.operators:
        if op.opcode.name == "RESHAPE":
            alias[op.outputs[0]] = alias.get(op.inputs[0], op.inputs[0])

    def root(t: int) -> int:
        return alias.get(t, t)

    first: dict[int, int] = {}
    last: dict[int, int] = {}
    for t in m.inputs:
        first[root(t)] = -1
    for op in m.operators:
        for t in op.inputs:
            if t >= 0 and not m.tensors[t].is_constant:
                r = root(t)
                first.setdefault(r, op.index)
                last[r] = max(last.get(r, op.index), op.index)
        for t in op.outputs:
            r = root(t)
            first.setdefault(r, op.index)
            last[r] = max(last.get(r, op.index), op.index)
    for t in m.outputs:
        last[root(t)] = len(m.operators)
    size_of = {t: m.tensors[t].nbytes for t in first}
    for op in m.operators:          # scratch of layer i: key -(i + 1), alive at i only
        scratch = _scratch_bytes(m, op)
        if scratch:
            key = -(op.index + 1)
            first[key] = last[key] = op.index
            size_of[key] = scratch
    order = sorted(first, key=lambda t: (-size_of[t], first[t]))
    placed: list[tuple[int, int, int, int]] = []     # (offset, end, first, last)
    offsets: dict[int, int] = {}
    for t in order:
        size = -(-size_of[t] // ALIGN) * ALIGN
        lo, hi = first[t], last.get(t, first[t])
        busy = sorted((o, e) for o, e, f, la in placed if not (la < lo or hi < f))
        offset = 0
        for o, e in busy:
            if offset + size <= o:
                break
            offset = max(offset, e)
        offsets[t] = offset
        placed.append((offset, offset + size, lo, hi))
    for t, r in alias.items():
        offsets[t] = offsets[r]
    peak = max((e for _, e, _, _ in placed), default=0)
    scratch_at = {-key - 1: offsets.pop(key) for key in [k for k in offsets if k < 0]}
    return offsets, scratch_at, peak


def lower(m: TfliteModel) -> NativePlan:
    """The model as native layers, or ``UnsupportedModelError`` naming what is missing."""
    _check(m)
    _validate(m)
    offsets, scratch_at, peak = _plan_memory(m)
    layers = []
    weight_bytes = 0
    for op in m.operators:
        layer = replace(_lower_op(m, op, offsets), scratch=scratch_at.get(op.index, -1))
        weight_bytes += sum(len(a.values) * (1 if a.ctype == "int8_t" else 4)
                            for a in layer.arrays)
        layers.append(layer)
    inp, out = m.input_tensor(), m.output_tensor()
    scratch, where = max(((_scratch_bytes(m, op), f"{op.index} {op.opcode.name}")
                          for op in m.operators), default=(0, ""))
    scratch = -(-scratch // ALIGN) * ALIGN
    return NativePlan(layers, peak, offsets, inp, out, offsets[m.inputs[0]],
                      offsets[m.outputs[0]], weight_bytes, scratch, where if scratch else "")


def _scratch_bytes(m: TfliteModel, op: Operator) -> int:
    """What edgecnn_kernels.c asks of the scratch for ``op``: the figures of its
    ``*_scratch_bytes()`` functions (see edgecnn_kernels.h)."""
    name = op.opcode.name
    if name == "CONV_2D":   # two pixels' int16 windows, each a multiple of 4 values
        w = m.tensors[op.inputs[1]].shape
        return 2 * 2 * ((w[1] * w[2] * w[3] + 3) & ~3)
    if name == "DEPTHWISE_CONV_2D":
        return 4 * m.tensors[op.outputs[0]].shape[-1]
    return 0


def conv_weight_layout(weights: np.ndarray) -> np.ndarray:
    """CONV_2D weights ([out][kh][kw][in]) in the order edgecnn_kernels.c's DSP loop reads
    them: output channels in pairs (an odd last one alone); for each group of four inputs the
    pair's first channel's four bytes, then its second's, each group in the order 0, 2, 1, 3
    (SXTB16 then yields the int16 pairs (0, 1) and (2, 3)); then each channel's n % 4 last
    bytes as they are. The same bytes, reordered: no flash is added."""
    rows = np.asarray(weights, dtype=np.int8).reshape(weights.shape[0], -1)
    n = rows.shape[1]
    full = n & ~3
    out = []
    for first in range(0, len(rows), 2):
        pair = rows[first:first + 2]
        groups = pair[:, :full].reshape(len(pair), -1, 4)[:, :, [0, 2, 1, 3]]
        out.append(groups.transpose(1, 0, 2).reshape(-1))      # group by group, channel 0 then 1
        out.extend(r[full:] for r in pair)
    return np.concatenate(out) if out else rows.reshape(-1)


def _bias_arrays(arrays: list[ConstArray], prefix: str, weights: np.ndarray,
                 bias: Tensor | None, input_offset: int, fold: bool) -> tuple[str, str]:
    """Append the layer's bias constant to ``arrays``: the folded bias when the kernel folds
    (then no plain bias goes to flash: the kernel never reads it), else the model's bias if it
    has one. Returns the C names of (bias, folded_bias), "NULL" for the one not stored."""
    if fold:
        arrays.append(_arr(f"{prefix}_folded_bias", "int32_t", folded_bias(
            weights, bias.values() if bias is not None else None, input_offset)))
        return "NULL", f"{prefix}_folded_bias"
    if bias is None:
        return "NULL", "NULL"
    arrays.append(_arr(f"{prefix}_bias", "int32_t", bias.values()))
    return f"{prefix}_bias", "NULL"


def folded_bias(weights: np.ndarray, bias: np.ndarray | None, input_offset: int) -> np.ndarray:
    """bias + input_offset * (the sum of each output channel's weights), as int32 with the
    wrap-around of the C kernel's int32 arithmetic: Σ w·(x + offset) + bias computed as
    Σ w·x + this, the same int32 (a padded tap holds the zero point, -offset, and adds 0)."""
    w = np.asarray(weights, dtype=np.int64)
    sums = w.reshape(w.shape[0], -1).sum(axis=1)      # [out][...] as the .tflite stores it
    total = sums * input_offset + (np.asarray(bias, dtype=np.int64).reshape(-1)
                                   if bias is not None else 0)
    return ((total + 2 ** 31) % 2 ** 32 - 2 ** 31).astype(np.int64)


# The fields of edgecnn_kernels.h's parameter structs, in declaration order: a layer's
# parameters are written as C99 designated initialisers (.in_h = 5, ...), so a field renamed or
# moved in the header fails to compile instead of being filled from its neighbour's value.
PARAM_FIELDS: dict[str, tuple[str, ...]] = {
    "EdgecnnConvParams": (
        "in_h", "in_w", "in_c", "out_h", "out_w", "out_c", "k_h", "k_w", "stride_h", "stride_w",
        "dilation_h", "dilation_w", "pad_h", "pad_w", "depth_multiplier", "input_offset",
        "output_offset", "act_min", "act_max", "weights", "bias", "multiplier", "shift",
        "folded_bias"),
    "EdgecnnFullyConnectedParams": (
        "batches", "in_depth", "out_depth", "input_offset", "filter_offset", "output_offset",
        "act_min", "act_max", "weights", "bias", "multiplier", "shift", "folded_bias",
        "per_channel"),
    "EdgecnnPoolParams": (
        "in_h", "in_w", "channels", "out_h", "out_w", "k_h", "k_w", "stride_h", "stride_w",
        "pad_h", "pad_w", "act_min", "act_max"),
    "EdgecnnAddParams": (
        "count", "input2_count", "input1_offset", "input2_offset", "output_offset",
        "left_shift", "input1_multiplier", "input1_shift", "input2_multiplier", "input2_shift",
        "output_multiplier", "output_shift", "act_min", "act_max", "subtract"),
    "EdgecnnMulParams": (
        "count", "input2_count", "input1_offset", "input2_offset", "output_offset",
        "output_multiplier", "output_shift", "act_min", "act_max"),
    "EdgecnnResizeBilinearParams": (
        "in_h", "in_w", "channels", "out_h", "out_w", "height_scale_10", "width_scale_10",
        "half_pixel_centers"),
    "EdgecnnConcatenationParams": ("outer", "inputs", "offsets", "copy_bytes"),
    "EdgecnnSoftmaxParams": ("outer", "depth", "input_multiplier", "input_left_shift",
                             "diff_min"),
    "EdgecnnReluParams": ("count", "input_offset", "output_offset", "multiplier", "shift",
                          "act_min", "act_max", "rescale"),
    "EdgecnnPadParams": ("in_dims", "out_dims", "before", "value"),
}


def _fields(params_type: str, values) -> tuple[tuple[str, str], ...]:
    """(field, C value) pairs of ``params_type`` for its designated initialiser."""
    names = PARAM_FIELDS[params_type]
    assert len(names) == len(values), params_type
    return tuple(zip(names, map(str, values), strict=True))


def _q(t: Tensor) -> tuple[float, int]:
    return (t.scales[0] if t.scales else 0.0), (t.zero_points[0] if t.zero_points else 0)


def _arr(name: str, ctype: str, values) -> ConstArray:
    return ConstArray(name, ctype, tuple(int(v) for v in np.asarray(values).reshape(-1)))


def _lower_op(m: TfliteModel, op: Operator, offsets: dict[int, int]) -> Layer:
    name, o = op.opcode.name, op.options
    T = m.tensors
    x, y = T[op.inputs[0]], T[op.outputs[0]]
    in_scale, in_zp = _q(x)
    out_scale, out_zp = _q(y)
    prefix = f"l{op.index}"
    fields: tuple[object, ...]
    arrays: list[ConstArray]
    in1 = offsets.get(op.inputs[0], -1)
    out = offsets[op.outputs[0]]
    if name in ("CONV_2D", "DEPTHWISE_CONV_2D"):
        w = T[op.inputs[1]]
        b = T[op.inputs[2]] if len(op.inputs) > 2 and op.inputs[2] >= 0 else None
        _, in_h, in_w, in_c = x.shape
        _, out_h, out_w, out_c = y.shape
        k_h, k_w = w.shape[1], w.shape[2]
        if name == "CONV_2D" and w.shape[3] != in_c:
            raise UnsupportedModelError(f"layer {op.index}: grouped CONV_2D is not supported by "
                                        "the native runtime")
        sh, sw = o.get("strideH", 1), o.get("strideW", 1)
        dh, dw = o.get("dilationHFactor", 1) or 1, o.get("dilationWFactor", 1) or 1
        mult = out_c // in_c if name == "DEPTHWISE_CONV_2D" else 1
        scales = w.scales if len(w.scales) > 1 else w.scales * out_c
        ms = [quantize_multiplier(in_scale * s / out_scale) for s in scales]
        act = activation_range(o.get("fusedActivationFunction", 0), out_scale, out_zp)
        weights = w.values()
        arrays = [_arr(f"{prefix}_weights", "int8_t", conv_weight_layout(weights)
                       if name == "CONV_2D" else weights),
                  _arr(f"{prefix}_multiplier", "int32_t", [q for q, _ in ms]),
                  _arr(f"{prefix}_shift", "int32_t", [s for _, s in ms])]
        bias, folded = _bias_arrays(arrays, prefix, weights, b, -in_zp,
                                    fold=name == "CONV_2D")
        fields = (in_h, in_w, in_c, out_h, out_w, out_c, k_h, k_w, sh, sw, dh, dw,
                  _padding(o.get("padding", 0), sh, dh, in_h, k_h, out_h),
                  _padding(o.get("padding", 0), sw, dw, in_w, k_w, out_w), mult, -in_zp, out_zp,
                  act[0], act[1], f"{prefix}_weights", bias, f"{prefix}_multiplier",
                  f"{prefix}_shift", folded)
        kernel = "conv" if name == "CONV_2D" else "depthwise_conv"
        return Layer(op.index, name, kernel, "EdgecnnConvParams",
                     _fields("EdgecnnConvParams", fields),
                     tuple(arrays), in1, -1, "", out)
    if name == "FULLY_CONNECTED":
        w = T[op.inputs[1]]
        b = T[op.inputs[2]] if len(op.inputs) > 2 and op.inputs[2] >= 0 else None
        out_depth, in_depth = w.shape
        batches = x.elements // in_depth
        per_channel = len(w.scales) > 1      # else one multiplier and shift for all rows
        ms = [quantize_multiplier(in_scale * s / out_scale) for s in w.scales]
        act = activation_range(o.get("fusedActivationFunction", 0), out_scale, out_zp)
        arrays = [_arr(f"{prefix}_weights", "int8_t", w.values()),
                  _arr(f"{prefix}_multiplier", "int32_t", [q for q, _ in ms]),
                  _arr(f"{prefix}_shift", "int32_t", [s for _, s in ms])]
        w_zp = w.zero_points[0] if w.zero_points else 0
        # symmetric weights (zero point 0): the kernel's folded-bias path
        bias, folded = _bias_arrays(arrays, prefix, w.values(), b, -in_zp, fold=w_zp == 0)
        fields = (batches, in_depth, out_depth, -in_zp, -w_zp, out_zp, act[0], act[1],
                  f"{prefix}_weights", bias, f"{prefix}_multiplier", f"{prefix}_shift", folded,
                  int(per_channel))
        return Layer(op.index, name, "fully_connected", "EdgecnnFullyConnectedParams",
                     _fields("EdgecnnFullyConnectedParams", fields), tuple(arrays), in1, -1,
                     "", out)
    if name in ("AVERAGE_POOL_2D", "MAX_POOL_2D"):
        _, in_h, in_w, ch = x.shape
        _, out_h, out_w, _ = y.shape
        k_h, k_w = o.get("filterHeight", 1), o.get("filterWidth", 1)
        sh, sw = o.get("strideH", 1), o.get("strideW", 1)
        act = activation_range(o.get("fusedActivationFunction", 0), out_scale, out_zp)
        fields = (in_h, in_w, ch, out_h, out_w, k_h, k_w, sh, sw,
                  _padding(o.get("padding", 0), sh, 1, in_h, k_h, out_h),
                  _padding(o.get("padding", 0), sw, 1, in_w, k_w, out_w), act[0], act[1])
        kernel = "average_pool" if name == "AVERAGE_POOL_2D" else "max_pool"
        return Layer(op.index, name, kernel, "EdgecnnPoolParams",
                     _fields("EdgecnnPoolParams", fields), (),
                     in1, -1, "", out)
    if name in ("ADD", "MUL", "SUB"):
        a, b = T[op.inputs[0]], T[op.inputs[1]]
        if a.elements == 1 and b.elements > 1 and name != "SUB":   # the same sum or product,
            a, b = b, a                                               # the full input first
        if a.shape != y.shape or b.elements not in (1, a.elements) or a.is_constant:
            raise UnsupportedModelError(f"layer {op.index}: {name} of {a.shape} and {b.shape} "
                                        "(a broadcast other than one value) is not supported "
                                        "by the native runtime; build with --runtime tflm")
        s1, z1 = _q(a)
        s2, z2 = _q(b)
        act = activation_range(o.get("fusedActivationFunction", 0), out_scale, out_zp)
        arrays = []
        constant2 = ""
        in1, in2 = offsets.get(a.index, -1), offsets.get(b.index, -1)
        if b.is_constant:
            constant2 = f"{prefix}_input2"
            arrays.append(_arr(constant2, "int8_t", b.values()))
        if name == "MUL":   # mul_common.cc: one multiplier for the product of the scales
            mo = quantize_multiplier(s1 * s2 / out_scale)
            fields = (y.elements, b.elements, -z1, -z2, out_zp, mo[0], mo[1], act[0], act[1])
            return Layer(op.index, name, "mul", "EdgecnnMulParams",
                         _fields("EdgecnnMulParams", fields),
                         tuple(arrays), in1, in2, constant2, out)
        left_shift = 20
        if name == "SUB":   # sub_common.cc: the same rescaling, in float arithmetic
            f1, f2, fo = np.float32(s1), np.float32(s2), np.float32(out_scale)
            twice = np.float32(2) * max(f1, f2)
            m1 = quantize_multiplier(float(np.float32(f1 / twice)))
            m2 = quantize_multiplier(float(np.float32(f2 / twice)))
            mo = quantize_multiplier(float(np.float32(
                twice / (np.float32(1 << left_shift) * fo))))
        else:               # add_common.cc: in double
            twice_max = 2 * max(_f32(s1), _f32(s2))
            m1 = quantize_multiplier(s1 / twice_max)
            m2 = quantize_multiplier(s2 / twice_max)
            mo = quantize_multiplier(twice_max / ((1 << left_shift) * out_scale))
        fields = (y.elements, b.elements, -z1, -z2, out_zp, left_shift, m1[0], m1[1], m2[0],
                  m2[1], mo[0], mo[1], act[0], act[1], int(name == "SUB"))
        return Layer(op.index, name, "add", "EdgecnnAddParams",
                     _fields("EdgecnnAddParams", fields),
                     tuple(arrays), in1, in2, constant2, out)
    if name == "RESIZE_BILINEAR":
        _, in_h, in_w, ch = x.shape
        _, out_h, out_w, _ = y.shape
        align, half = bool(o.get("alignCorners", False)), bool(o.get("halfPixelCenters", False))
        hs = ((1 << 10) * in_h + out_h // 2) // out_h
        ws = ((1 << 10) * in_w + out_w // 2) // out_w
        if align and out_h > 1:
            hs = ((1 << 10) * (in_h - 1) + (out_h - 1) // 2) // (out_h - 1)
        if align and out_w > 1:
            ws = ((1 << 10) * (in_w - 1) + (out_w - 1) // 2) // (out_w - 1)
        fields = (in_h, in_w, ch, out_h, out_w, hs, ws, int(half))
        return Layer(op.index, name, "resize_bilinear", "EdgecnnResizeBilinearParams",
                     _fields("EdgecnnResizeBilinearParams", fields), (), in1, -1, "", out)
    if name == "CONCATENATION":
        ins = [T[i] for i in op.inputs]
        if any(t.is_constant for t in ins):
            raise UnsupportedModelError(f"layer {op.index}: CONCATENATION of a constant is not "
                                        "supported by the native runtime")
        axis = o.get("axis", 0)
        axis = axis + len(y.shape) if axis < 0 else axis
        outer = int(np.prod(y.shape[:axis])) if axis else 1
        arrays = [_arr(f"{prefix}_offsets", "int32_t", [offsets[t.index] for t in ins]),
                  _arr(f"{prefix}_copy_bytes", "int32_t",
                       [int(np.prod(t.shape[axis:])) for t in ins])]
        fields = (outer, len(ins), f"{prefix}_offsets", f"{prefix}_copy_bytes")
        return Layer(op.index, name, "concatenation", "EdgecnnConcatenationParams",
                     _fields("EdgecnnConcatenationParams", fields), tuple(arrays), in1, -1,
                     "", out)
    if name == "SOFTMAX":
        depth = x.shape[-1]
        beta = float(o.get("beta", 1.0))
        real = min(beta * in_scale * (1 << (31 - 5)), (1 << 31) - 1.0)
        multiplier, left_shift = quantize_multiplier(real)
        radius = math.floor(((1 << 5) - 1) * (1 << (31 - 5)) / (1 << left_shift))
        fields = (x.elements // depth, depth, multiplier, left_shift, int(-1.0 * radius))
        if out_zp != -128 or abs(out_scale - 1 / 256) > 1e-9:
            raise UnsupportedModelError(f"layer {op.index}: SOFTMAX output must be int8 with "
                                        "scale 1/256 and zero point -128 (TFLM's requirement)")
        return Layer(op.index, name, "softmax", "EdgecnnSoftmaxParams",
                     _fields("EdgecnnSoftmaxParams", fields),
                     (), in1, -1, "", out)
    if name == "RESHAPE":
        return Layer(op.index, name, "reshape", "", (), (), in1, -1, "", out)
    if name == "RELU":      # CalculateReluOpData: the input rescaled, clamped from 0
        mult, shift = quantize_multiplier(_f32(float(np.float32(in_scale)
                                                     / np.float32(out_scale))))
        fields = (y.elements, in_zp, out_zp, mult, shift, max(-128, out_zp), 127, 1)
        return Layer(op.index, name, "relu", "EdgecnnReluParams",
                     _fields("EdgecnnReluParams", fields), (), in1, -1, "", out)
    if name == "QUANTIZE":  # int8 -> int8: reference_ops::Requantize, double(in) / double(out)
        mult, shift = quantize_multiplier(float(in_scale) / float(out_scale))
        fields = (y.elements, in_zp, out_zp, mult, shift, -128, 127, 1)
        return Layer(op.index, name, "relu", "EdgecnnReluParams",
                     _fields("EdgecnnReluParams", fields), (), in1, -1, "", out)
    if name == "RELU6":     # Relu6Prepare: the input's own 0 and 6 (FloatToQuantizedType)
        six = _round_half_away(float(np.float32(6.0) / np.float32(in_scale))) + in_zp
        fields = (y.elements, 0, 0, 0, 0, in_zp, max(-128, min(127, six)), 0)
        return Layer(op.index, name, "relu", "EdgecnnReluParams",
                     _fields("EdgecnnReluParams", fields), (), in1, -1, "", out)
    if name in ("PAD", "PADV2"):
        pads = T[op.inputs[1]].values().reshape(-1, 2).astype(int)
        lead = 4 - len(x.shape)
        value = (int(T[op.inputs[2]].values().reshape(-1)[0])
                 if name == "PADV2" and len(op.inputs) > 2 and op.inputs[2] >= 0 else out_zp)

        def dims(values) -> str:
            return "{" + ", ".join(str(int(v)) for v in values) + "}"

        fields = (dims([1] * lead + list(x.shape)), dims([1] * lead + list(y.shape)),
                  dims([0] * lead + list(pads[:, 0])), value)
        return Layer(op.index, name, "pad", "EdgecnnPadParams",
                     _fields("EdgecnnPadParams", fields), (), in1, -1, "", out)
    raise UnsupportedModelError(f"layer {op.index}: {name} is not supported by the native "
                                "runtime")


def plan_summary(plan: NativePlan) -> dict:
    """The memory plan as plain data (``edgecnn analyze --runtime native --json``)."""
    return {"arena_bytes": plan.arena_bytes, "scratch_bytes": plan.scratch_bytes,
            "scratch_layer": plan.scratch_layer, "total_bytes": plan.total_bytes,
            "weight_bytes": plan.weight_bytes,
            "layers": [{"index": layer.index, "op": layer.op, "input": layer.input1,
                        "input2": layer.input2, "output": layer.output}
                       for layer in plan.layers]}


def format_plan(plan: NativePlan) -> str:
    """The memory plan as a table: where every layer reads and writes in the arena."""
    lines = [f"{'#':>3} {'op':<18} {'input @':>8} {'input2 @':>9} {'output @':>9}", "-" * 51]
    for layer in plan.layers:
        in2 = "-" if layer.input2 < 0 and not layer.constant2 else (
            "const" if layer.constant2 else f"{layer.input2:,}")
        lines.append(f"{layer.index:>3} {layer.op:<18} {layer.input1:>8,} {in2:>9} "
                     f"{layer.output:>9,}")
    lines.append(f"native arena: {plan.total_bytes:,} B, the static plan's peak: tensors and "
                 "each layer's kernel scratch placed where that layer's tensors are not"
                 + (f" (largest scratch {plan.scratch_bytes:,} B, layer {plan.scratch_layer})"
                    if plan.scratch_layer else "")
                 + f"; weights and constants {plan.weight_bytes:,} B")
    return "\n".join(lines)


# --- the runtime ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class NativeContext:
    """The ``runtime`` part of the template context for a native build."""

    title: str
    kernels: str
    library_version: str
    lib_deps: tuple[str, ...]
    plan: NativePlan
    op_events: bool = True
    embeds_flatbuffer: bool = False  # the layers are C data; no .tflite in flash


class NativeRuntime:
    name = "native"
    title = "edgecnn native C runtime"
    arena_figure = "the firmware's static memory plan (native runtime)"

    def __init__(self) -> None:
        self._plans: dict[str, NativePlan] = {}   # by model SHA-256: a build lowers once

    def lowered(self, model: TfliteModel) -> NativePlan:
        if model.sha256 not in self._plans:
            self._plans[model.sha256] = lower(model)
        return self._plans[model.sha256]

    def check(self, model: TfliteModel, board: Board, force: bool = False):
        from .base import Compatibility

        self.lowered(model)      # raises UnsupportedModelError naming what is missing
        return Compatibility(board.name, self.title)

    def plan_memory(self, analysis, board: Board) -> ArenaPlan:
        plan = self._plan(analysis)
        return ArenaPlan(device_need_bytes=plan.total_bytes,
                         allocated_bytes=max(ALIGN, plan.total_bytes),
                         parts=(PlanPart("tensors and kernel scratch (one static plan)",
                                         plan.arena_bytes),),
                         scratch_bytes=plan.scratch_bytes, scratch_layer=plan.scratch_layer,
                         margin=0.0, kernels="edgecnn-c99",
                         method="static plan over tensor lifetimes (greedy first fit, largest "
                                "first, RESHAPE in place), each layer's kernel scratch placed in "
                                "it as a tensor alive during that layer: the exact bytes the "
                                "firmware uses")

    def _plan(self, analysis) -> NativePlan:
        if analysis.tflite is None:
            raise UnsupportedModelError("the native runtime plans from the model itself; "
                                        "analyze the .tflite, not a Keras model")
        return self.lowered(analysis.tflite)

    def firmware_sources(self, board: Board) -> tuple[str, ...]:
        return ("edgecnn_runtime_native.cpp", "edgecnn_native.h", "edgecnn_kernels.h",
                "edgecnn_kernels.c")

    def generated_files(self) -> tuple[tuple[str, str], ...]:
        return (("edgecnn_native_model.h.j2", "include/edgecnn_native_model.h"),
                ("edgecnn_native_model.c.j2", "src/edgecnn_native_model.c"))

    def template_context(self, board: Board, analysis) -> NativeContext:
        from .. import __version__

        return NativeContext(f"{self.title} (C99 kernels bit-exact with TFLM's reference)",
                             "edgecnn-c99", f"edgecnn {__version__} native runtime", (),
                             self._plan(analysis))

    def reference(self, model_bytes: bytes):
        from ..tflm_host import HostInterpreter

        return HostInterpreter(model_bytes)

    def cross_build(self, project, cpu: list[str], build, library=None
                    ) -> tuple[list[str], list[str]]:
        return [], []         # the runtime is the project's own sources

    def library_entry(self, board: Board) -> tuple[str, str, tuple[str, ...]]:
        return "none", "", ()

    def describe_plan(self, model: TfliteModel) -> tuple[dict, str]:
        """The static memory plan as JSON and as the table `analyze --runtime native` prints."""
        plan = self.lowered(model)
        return plan_summary(plan), format_plan(plan)

    def host_build(self, project) -> HostBuild:
        return HostBuild(
            kernels="edgecnn-c99",
            clock="host CLOCK_MONOTONIC around the native runtime's invoke (the firmware's own "
                  "C compiled for this computer): host timings, not the board's",
            arena=self.arena_figure)
