"""The native runtime's kernels, as the host sees them: for each builtin operator it runs, a
lowering function registered with :func:`lowers` — the operator's quantization constants
computed as TFLM computes them at Prepare time, its parameter struct filled by name (C99
designated initialisers), its weights in the order the kernel reads them — and the C entry and
kernel file that run it (``firmware/edgecnn_native_ops.c``, ``firmware/kernels/``).

Adding a kernel: its C file in ``firmware/kernels/`` (with ``*_scratch_bytes()`` when it needs
scratch), its entry in ``edgecnn_native_ops.c``, a lowering function here registered for its
builtin(s), and its single-operator tests (``tests/test_kernels.py``).
"""
from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

from ..errors import UnsupportedModelError
from ..tflite_model import Operator, Tensor, TfliteModel
from .native_quant import (
    _f32,
    _padding,
    _round_half_away,
    activation_range,
    quantize_multiplier,
    requant_table,
)


@dataclass(frozen=True)
class ConstArray:
    name: str
    ctype: str          # int8_t or int32_t
    values: tuple[int, ...]


@dataclass(frozen=True)
class Layer:
    index: int
    op: str             # the builtin, e.g. CONV_2D
    params_type: str    # the C struct
    fields: tuple[tuple[str, str], ...]     # (field, C value): its designated initialiser
    arrays: tuple[ConstArray, ...]
    input1: int         # arena offsets (-1: none)
    input2: int
    constant2: str      # name of a constant second input (ADD), "" when none
    output: int
    scratch: int = -1   # arena offset of the layer's kernel scratch (-1: none)
    # set from the builtin's Kernel when the model is lowered:
    kernel: str = ""      # the kernel family (Kernel.family): conv, depthwise_conv, ...
    invoke: str = "NULL"  # the C entry that runs it (Kernel.invoke), NULL: nothing to run



def conv_weight_layout(weights: np.ndarray) -> np.ndarray:
    """CONV_2D weights ([out][kh][kw][in]) in the order edgecnn_conv_s8.c's loop reads them:
    each channel's n weights padded with zeros to a multiple of four, output channels in pairs
    (an odd last one with a channel of zeros); for each group of four inputs the pair's first
    channel's four bytes, then its second's, each group in the order 0, 2, 1, 3 (SXTB16 then
    yields the int16 pairs (0, 1) and (2, 3)). The padding adds at most 3 bytes per channel and
    one channel: the zeros make the kernel's loop uniform (no tail, no lone channel)."""
    rows = np.asarray(weights, dtype=np.int8).reshape(weights.shape[0], -1)
    out, n = rows.shape
    padded = np.zeros((out + out % 2, -(-n // 4) * 4), dtype=np.int8)
    padded[:out, :n] = rows
    groups = padded.reshape(len(padded) // 2, 2, -1, 4)[:, :, :, [0, 2, 1, 3]]
    return groups.transpose(0, 2, 1, 3).reshape(-1)      # pair, group, channel, byte


def depthwise_quad_layout(weights: np.ndarray) -> np.ndarray:
    """DEPTHWISE_CONV_2D 3x3 weights ([1][3][3][channels], channels a multiple of four) in the
    order edgecnn_depthwise_conv_s8.c's 3x3 kernel reads them: per four channels, the nine
    taps, each as two little-endian int16 pairs, channels (0, 2) then (1, 3) — the halves
    SMLABB/SMLATT take against SXTB16's split of four input bytes, so that the kernel does not
    widen weights at run time (twice the bytes of the model's weights, 18 per channel)."""
    taps = np.asarray(weights, dtype=np.int8).reshape(9, -1, 4)     # tap, quad, channel
    widened = np.ascontiguousarray(taps[:, :, [0, 2, 1, 3]], dtype="<i2").view(np.int8)
    return widened.reshape(9, -1, 8).transpose(1, 0, 2).reshape(-1)


def fully_connected_weight_layout(weights: np.ndarray) -> np.ndarray:
    """FULLY_CONNECTED weights ([out][in]) in the order edgecnn_fully_connected_s8.c's folded
    path reads them: rows in blocks of four, each block group by group (four inputs of row 0,
    of row 1, of row 2, of row 3), then the block's n % 4 last inputs row by row; the rows past
    the last block as they are. The same bytes, reordered."""
    rows = np.asarray(weights, dtype=np.int8).reshape(weights.shape[0], -1)
    out, n = rows.shape
    full, blocks = n & ~3, out // 4
    parts = []
    for b in range(blocks):
        block = rows[4 * b:4 * b + 4]
        parts.append(block[:, :full].reshape(4, -1, 4).transpose(1, 0, 2).reshape(-1))
        parts.append(block[:, full:].reshape(-1))
    parts.append(rows[4 * blocks:].reshape(-1))
    return np.concatenate(parts)


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
    "EdgecnnAffineQuantizeParams": ("count", "scale", "zero_point"),
    "EdgecnnConvParams": (
        "in_h", "in_w", "in_c", "out_h", "out_w", "out_c", "k_h", "k_w", "stride_h", "stride_w",
        "dilation_h", "dilation_w", "pad_h", "pad_w", "depth_multiplier", "input_offset",
        "output_offset", "act_min", "act_max", "weights", "bias", "multiplier", "shift",
        "folded_bias", "quad_taps", "requant", "narrow_window"),
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
    "EdgecnnMeanParams": ("in_dims", "out_steps", "out_count", "sum_offset", "output_offset",
                          "multiplier", "shift"),
    "EdgecnnHardSwishParams": ("count", "input_zero_point", "output_zero_point",
                               "output_multiplier", "output_exponent", "reluish_multiplier",
                               "reluish_exponent"),
    "EdgecnnActivationParams": ("count", "input_zero_point", "input_range_radius",
                                "input_multiplier", "input_left_shift"),
    "EdgecnnStridedSliceParams": ("in_dims", "start", "stop", "stride"),
    "EdgecnnLeakyReluParams": ("count", "input_zero_point", "output_zero_point",
                               "identity_multiplier", "identity_shift", "alpha_multiplier",
                               "alpha_shift"),
}


def _fields(params_type: str, values) -> tuple[tuple[str, str], ...]:
    """(field, C value) pairs of ``params_type`` for its designated initialiser."""
    names = PARAM_FIELDS[params_type]
    assert len(names) == len(values), params_type
    return tuple(zip(names, map(str, values), strict=True))


def _q(t: Tensor) -> tuple[float, int]:
    return (t.scales[0] if t.scales else 0.0), (t.zero_points[0] if t.zero_points else 0)


def _c_array(values) -> str:
    """A fixed-size int32 field's initialiser: {1, 2, 3}."""
    return "{" + ", ".join(str(int(v)) for v in values) + "}"


def _arr(name: str, ctype: str, values) -> ConstArray:
    return ConstArray(name, ctype, tuple(int(v) for v in np.asarray(values).reshape(-1)))



@dataclass(frozen=True)
class LayerChoice:
    """What the memory planner chose for one layer: its output written over an input that dies
    there (``in_place``: the elementwise kernels go index by index; the 3x3 depthwise kernel
    keeps two input rows in its scratch), and a convolution's window of int8 inputs instead of
    int16 (``narrow_window``: half the scratch, where the window sets the peak)."""

    in_place: bool = False
    narrow_window: bool = False


LowerFn = Callable[[TfliteModel, Operator, dict[int, int], LayerChoice], Layer]
ScratchFn = Callable[[TfliteModel, Operator, LayerChoice], int]
# the positions of the inputs the output may be written over, best first (the planner takes
# one that dies at this layer and is as large as the output)
InPlaceFn = Callable[[TfliteModel, Operator], tuple[int, ...]]


@dataclass(frozen=True)
class Kernel:
    """A builtin operator the native runtime runs: its lowering on the host, and the C entry
    (``edgecnn_native_<family>`` in edgecnn_native_ops.c) and kernel file that run it."""

    builtin: str
    options: str            # the builtin options type it carries ("NONE" is accepted too)
    family: str
    # its files in firmware/kernels/ (the family's file first: the wrapper that picks a
    # variant; the variants' files and their shared internal headers after it); (): nothing
    # runs (RESHAPE)
    source: tuple[str, ...]
    lower: LowerFn
    scratch: ScratchFn
    in_place: InPlaceFn

    @property
    def invoke(self) -> str:
        return f"edgecnn_native_{self.family}" if self.source else "NULL"


KERNELS: dict[str, Kernel] = {}


def lowers(builtin: str, options: str, family: str, source: str | tuple[str, ...] | None, *,
           scratch: ScratchFn | None = None, in_place: InPlaceFn | None = None
           ) -> Callable[[LowerFn], LowerFn]:
    """Register the decorated function as the lowering of ``builtin``."""
    def register(fn: LowerFn) -> LowerFn:
        if builtin in KERNELS:
            raise ValueError(f"{builtin} has a kernel already")
        files = (source,) if isinstance(source, str) else tuple(source or ())
        KERNELS[builtin] = Kernel(builtin, options, family, files, fn, scratch or _no_scratch,
                                  in_place or _never_in_place)
        return fn
    return register


def kernel_sources() -> tuple[str, ...]:
    """The kernel files (firmware/kernels/) a native build compiles, and their internal
    headers."""
    return ("edgecnn_fixedpoint.c",) + tuple(sorted({f for k in KERNELS.values()
                                                      for f in k.source}))


def _site(m: TfliteModel, op: Operator, offsets: dict[int, int]):
    """What every lowering reads first: the builtin, its options, the tensors, the first input
    and the output with their scale and zero point, the layer's C name prefix, and the arena
    offsets of the first input and the output."""
    T = m.tensors
    x, y = T[op.inputs[0]], T[op.outputs[0]]
    in_scale, in_zp = _q(x)
    out_scale, out_zp = _q(y)
    return (op.opcode.name, op.options, T, x, y, in_scale, in_zp, out_scale, out_zp,
            f"l{op.index}", offsets.get(op.inputs[0], -1), offsets[op.outputs[0]])


def _conv_scratch(m: TfliteModel, op: Operator, choice: LayerChoice) -> int:
    """edgecnn_conv_s8_scratch_bytes(): two pixels' windows of int16 (narrow: int8) inputs,
    each a multiple of 4 values."""
    w = m.tensors[op.inputs[1]].shape
    return (2 if choice.narrow_window else 4) * ((w[1] * w[2] * w[3] + 3) & ~3)


def _depthwise_scratch(m: TfliteModel, op: Operator, choice: LayerChoice) -> int:
    """The general kernel: one int32 sum per output channel; the 3x3 kernel: a row of the
    input's zero point (in_c bytes), and in place two input rows after it."""
    _, _, in_w, in_c = m.tensors[op.inputs[0]].shape
    out_c = m.tensors[op.outputs[0]].shape[-1]
    if choice.in_place:
        return ((in_c + 3) & ~3) + 2 * in_w * in_c
    return 4 * out_c


def _no_scratch(m: TfliteModel, op: Operator, choice: LayerChoice) -> int:
    return 0


def _never_in_place(m: TfliteModel, op: Operator) -> tuple[int, ...]:
    return ()


def _elementwise_in_place(m: TfliteModel, op: Operator) -> tuple[int, ...]:
    """Kernels that read element i of each input before they write element i of the output,
    and nothing else there: any non-constant input of the output's size."""
    T = m.tensors
    size = T[op.outputs[0]].nbytes
    return tuple(k for k, i in enumerate(op.inputs)
                 if i >= 0 and not T[i].is_constant and T[i].nbytes == size)


def _quad_taps(m: TfliteModel, op: Operator) -> bool:
    """DEPTHWISE_CONV_2D runs on edgecnn's 3x3 kernel: 3x3, one output channel per input
    channel in fours, or a channel multiplier that is a multiple of four."""
    w = m.tensors[op.inputs[1]].shape
    in_c, out_c = m.tensors[op.inputs[0]].shape[-1], m.tensors[op.outputs[0]].shape[-1]
    mult = out_c // in_c
    return w[1] == w[2] == 3 and ((mult == 1 and in_c % 4 == 0) or mult % 4 == 0)


def _depthwise_in_place(m: TfliteModel, op: Operator) -> tuple[int, ...]:
    """The 3x3 kernel with stride 1, no dilation and one output per input channel writes its
    output over its input: output row y lands on input rows up to y, and the kernel reads
    rows y - 1 and y from the two it saved in its scratch before overwriting them."""
    o = op.options
    x, y = m.tensors[op.inputs[0]], m.tensors[op.outputs[0]]
    ok = (_quad_taps(m, op) and x.shape[-1] == y.shape[-1] and x.nbytes >= y.nbytes
          and o.get("strideH", 1) == o.get("strideW", 1) == 1
          and (o.get("dilationHFactor", 1) or 1) == (o.get("dilationWFactor", 1) or 1) == 1)
    return (0,) if ok else ()


@lowers("CONV_2D", "Conv2DOptions", "conv",
        ("edgecnn_conv_s8.c", "edgecnn_conv_1x1_s8.c", "edgecnn_conv_window.h"),
        scratch=_conv_scratch)
@lowers("DEPTHWISE_CONV_2D", "DepthwiseConv2DOptions", "depthwise_conv",
        ("edgecnn_depthwise_conv_s8.c", "edgecnn_depthwise_conv_3x3_s8.c",
         "edgecnn_depthwise_output.h"), scratch=_depthwise_scratch, in_place=_depthwise_in_place)
def _lower_convolution(m: TfliteModel, op: Operator, offsets: dict[int, int],
                       choice: LayerChoice) -> Layer:
    """CONV_2D and DEPTHWISE_CONV_2D: per-channel multipliers, CONV_2D's weights in the DSP
    loop's order and its bias folded."""
    (name, o, T, x, y, in_scale, in_zp, out_scale, out_zp, prefix, in1,
     out) = _site(m, op, offsets)
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
    # depthwise 3x3, one output per input channel in fours, or a channel multiplier that is
    # a multiple of four: edgecnn's 3x3 kernel
    quads = name == "DEPTHWISE_CONV_2D" and _quad_taps(m, op)
    stored = (conv_weight_layout(weights) if name == "CONV_2D" else
              depthwise_quad_layout(weights) if quads else weights)
    arrays = [_arr(f"{prefix}_weights", "int8_t", stored)]
    # the bias the kernel adds: CONV_2D and the 3x3 kernel sum raw products (the offset folded
    # into the bias), the general depthwise kernel adds the offset to each input
    fold = name == "CONV_2D" or quads
    bias_values = b.values() if b is not None else None
    if fold:
        bias_values = folded_bias(weights if name == "CONV_2D" else weights.reshape(-1, out_c).T,
                                  bias_values, -in_zp)
    table = requant_table(bias_values, ms, out_zp, out_c)
    if table is not None:
        arrays.append(_arr(f"{prefix}_requant", "int32_t", table))
        bias = folded = multiplier = shift = "NULL"
    else:
        arrays += [_arr(f"{prefix}_multiplier", "int32_t", [q for q, _ in ms]),
                   _arr(f"{prefix}_shift", "int32_t", [s for _, s in ms])]
        multiplier, shift = f"{prefix}_multiplier", f"{prefix}_shift"
        if fold:
            bias, folded = "NULL", f"{prefix}_folded_bias"
            arrays.append(_arr(folded, "int32_t", bias_values))
        else:
            bias, folded = _bias_arrays(arrays, prefix, weights, b, -in_zp, fold=False)
    fields = (in_h, in_w, in_c, out_h, out_w, out_c, k_h, k_w, sh, sw, dh, dw,
              _padding(o.get("padding", 0), sh, dh, in_h, k_h, out_h),
              _padding(o.get("padding", 0), sw, dw, in_w, k_w, out_w), mult, -in_zp, out_zp,
              act[0], act[1], f"{prefix}_weights", bias, multiplier, shift, folded, int(quads),
              f"{prefix}_requant" if table is not None else "NULL",
              int(choice.narrow_window))
    return Layer(op.index, name, "EdgecnnConvParams",
                 _fields("EdgecnnConvParams", fields),
                 tuple(arrays), in1, -1, "", out)


@lowers("FULLY_CONNECTED", "FullyConnectedOptions", "fully_connected",
        "edgecnn_fully_connected_s8.c")
def _lower_fully_connected(m: TfliteModel, op: Operator, offsets: dict[int, int],
                           choice: LayerChoice) -> Layer:
    """FULLY_CONNECTED: per tensor (one multiplier) or per channel; symmetric weights fold the
    input offset into the bias."""
    (name, o, T, x, y, in_scale, in_zp, out_scale, out_zp, prefix, in1,
     out) = _site(m, op, offsets)
    w = T[op.inputs[1]]
    b = T[op.inputs[2]] if len(op.inputs) > 2 and op.inputs[2] >= 0 else None
    out_depth, in_depth = w.shape
    batches = x.elements // in_depth
    per_channel = len(w.scales) > 1      # else one multiplier and shift for all rows
    ms = [quantize_multiplier(in_scale * s / out_scale) for s in w.scales]
    act = activation_range(o.get("fusedActivationFunction", 0), out_scale, out_zp)
    w_zp = w.zero_points[0] if w.zero_points else 0
    # symmetric weights (zero point 0): the kernel's folded-bias path, rows in its order
    weights = fully_connected_weight_layout(w.values()) if w_zp == 0 else w.values()
    arrays = [_arr(f"{prefix}_weights", "int8_t", weights),
              _arr(f"{prefix}_multiplier", "int32_t", [q for q, _ in ms]),
              _arr(f"{prefix}_shift", "int32_t", [s for _, s in ms])]
    bias, folded = _bias_arrays(arrays, prefix, w.values(), b, -in_zp, fold=w_zp == 0)
    fields = (batches, in_depth, out_depth, -in_zp, -w_zp, out_zp, act[0], act[1],
              f"{prefix}_weights", bias, f"{prefix}_multiplier", f"{prefix}_shift", folded,
              int(per_channel))
    return Layer(op.index, name, "EdgecnnFullyConnectedParams",
                 _fields("EdgecnnFullyConnectedParams", fields), tuple(arrays), in1, -1,
                 "", out)


@lowers("AVERAGE_POOL_2D", "Pool2DOptions", "average_pool", "edgecnn_pooling_s8.c")
@lowers("MAX_POOL_2D", "Pool2DOptions", "max_pool", "edgecnn_pooling_s8.c")
def _lower_pool(m: TfliteModel, op: Operator, offsets: dict[int, int],
                choice: LayerChoice) -> Layer:
    """AVERAGE_POOL_2D and MAX_POOL_2D."""
    (name, o, T, x, y, in_scale, in_zp, out_scale, out_zp, prefix, in1,
     out) = _site(m, op, offsets)
    _, in_h, in_w, ch = x.shape
    _, out_h, out_w, _ = y.shape
    k_h, k_w = o.get("filterHeight", 1), o.get("filterWidth", 1)
    sh, sw = o.get("strideH", 1), o.get("strideW", 1)
    act = activation_range(o.get("fusedActivationFunction", 0), out_scale, out_zp)
    fields = (in_h, in_w, ch, out_h, out_w, k_h, k_w, sh, sw,
              _padding(o.get("padding", 0), sh, 1, in_h, k_h, out_h),
              _padding(o.get("padding", 0), sw, 1, in_w, k_w, out_w), act[0], act[1])
    return Layer(op.index, name, "EdgecnnPoolParams",
                 _fields("EdgecnnPoolParams", fields), (),
                 in1, -1, "", out)


@lowers("ADD", "AddOptions", "add", "edgecnn_elementwise_s8.c",
        in_place=_elementwise_in_place)
@lowers("SUB", "SubOptions", "add", "edgecnn_elementwise_s8.c",
        in_place=_elementwise_in_place)
@lowers("MUL", "MulOptions", "mul", "edgecnn_elementwise_s8.c",
        in_place=_elementwise_in_place)
def _lower_add_sub_mul(m: TfliteModel, op: Operator, offsets: dict[int, int],
                       choice: LayerChoice) -> Layer:
    """ADD, SUB (one kernel: a common scale, then the sum or the difference) and MUL, with a
    second input of the same shape or one value."""
    (name, o, T, x, y, in_scale, in_zp, out_scale, out_zp, prefix, in1,
     out) = _site(m, op, offsets)
    fields: tuple[object, ...]
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
        return Layer(op.index, name, "EdgecnnMulParams",
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
    return Layer(op.index, name, "EdgecnnAddParams",
                 _fields("EdgecnnAddParams", fields),
                 tuple(arrays), in1, in2, constant2, out)


@lowers("RESIZE_BILINEAR", "ResizeBilinearOptions", "resize_bilinear",
        "edgecnn_resize_concat_s8.c")
def _lower_resize_bilinear(m: TfliteModel, op: Operator, offsets: dict[int, int],
                           choice: LayerChoice) -> Layer:
    """RESIZE_BILINEAR: the 10-bit fixed-point scales of ResizeBilinearInteger."""
    (name, o, T, x, y, in_scale, in_zp, out_scale, out_zp, prefix, in1,
     out) = _site(m, op, offsets)
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
    return Layer(op.index, name, "EdgecnnResizeBilinearParams",
                 _fields("EdgecnnResizeBilinearParams", fields), (), in1, -1, "", out)


@lowers("CONCATENATION", "ConcatenationOptions", "concatenation", "edgecnn_resize_concat_s8.c")
def _lower_concatenation(m: TfliteModel, op: Operator, offsets: dict[int, int],
                         choice: LayerChoice) -> Layer:
    """CONCATENATION: each input's arena offset and the bytes it copies per outer step."""
    (name, o, T, x, y, in_scale, in_zp, out_scale, out_zp, prefix, in1,
     out) = _site(m, op, offsets)
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
    return Layer(op.index, name, "EdgecnnConcatenationParams",
                 _fields("EdgecnnConcatenationParams", fields), tuple(arrays), in1, -1,
                 "", out)


@lowers("SOFTMAX", "SoftmaxOptions", "softmax", "edgecnn_softmax_s8.c",
        in_place=_elementwise_in_place)
def _lower_softmax(m: TfliteModel, op: Operator, offsets: dict[int, int],
                   choice: LayerChoice) -> Layer:
    """SOFTMAX: SoftmaxPrepare's input multiplier, left shift and diff_min."""
    (name, o, T, x, y, in_scale, in_zp, out_scale, out_zp, prefix, in1,
     out) = _site(m, op, offsets)
    depth = x.shape[-1]
    beta = float(o.get("beta", 1.0))
    real = min(beta * in_scale * (1 << (31 - 5)), (1 << 31) - 1.0)
    multiplier, left_shift = quantize_multiplier(real)
    radius = math.floor(((1 << 5) - 1) * (1 << (31 - 5)) / (1 << left_shift))
    fields = (x.elements // depth, depth, multiplier, left_shift, int(-1.0 * radius))
    if out_zp != -128 or abs(out_scale - 1 / 256) > 1e-9:
        raise UnsupportedModelError(f"layer {op.index}: SOFTMAX output must be int8 with "
                                    "scale 1/256 and zero point -128 (TFLM's requirement)")
    return Layer(op.index, name, "EdgecnnSoftmaxParams",
                 _fields("EdgecnnSoftmaxParams", fields),
                 (), in1, -1, "", out)


# layers that change a tensor's shape only: the output is its input's bytes, nothing runs
RESHAPES = ("RESHAPE", "SQUEEZE", "EXPAND_DIMS")


@lowers("RESHAPE", "ReshapeOptions", "reshape", None)
@lowers("SQUEEZE", "SqueezeOptions", "reshape", None)
@lowers("EXPAND_DIMS", "ExpandDimsOptions", "reshape", None)
def _lower_reshape(m: TfliteModel, op: Operator, offsets: dict[int, int],
                   choice: LayerChoice) -> Layer:
    """RESHAPE, SQUEEZE, EXPAND_DIMS: nothing to run, the planner gives the output its input's
    bytes."""
    (name, o, T, x, y, in_scale, in_zp, out_scale, out_zp, prefix, in1,
     out) = _site(m, op, offsets)
    return Layer(op.index, name, "", (), (), in1, -1, "", out)


@lowers("RELU", "NONE", "relu", "edgecnn_elementwise_s8.c",
        in_place=_elementwise_in_place)
def _lower_relu(m: TfliteModel, op: Operator, offsets: dict[int, int],
                choice: LayerChoice) -> Layer:
    """RELU (the input rescaled, clamped from 0)."""
    (name, o, T, x, y, in_scale, in_zp, out_scale, out_zp, prefix, in1,
     out) = _site(m, op, offsets)
    mult, shift = quantize_multiplier(_f32(float(np.float32(in_scale)
                                                 / np.float32(out_scale))))
    fields = (y.elements, in_zp, out_zp, mult, shift, max(-128, out_zp), 127, 1)
    return Layer(op.index, name, "EdgecnnReluParams",
                 _fields("EdgecnnReluParams", fields), (), in1, -1, "", out)


@lowers("QUANTIZE", "NONE", "relu", "edgecnn_elementwise_s8.c",
        in_place=_elementwise_in_place)
def _lower_quantize(m: TfliteModel, op: Operator, offsets: dict[int, int],
                    choice: LayerChoice) -> Layer:
    """int8 QUANTIZE: a rescale, the RELU kernel without a clamp; from a float32 graph input:
    AffineQuantize (edgecnn_quantize_f32.c)."""
    (name, o, T, x, y, in_scale, in_zp, out_scale, out_zp, prefix, in1,
     out) = _site(m, op, offsets)
    if x.dtype == "float32":
        return replace(_affine_layer(op, "EdgecnnAffineQuantizeParams", y, out_scale, out_zp,
                                     in1, out),
                       kernel="quantize_float", invoke="edgecnn_native_quantize_float")
    mult, shift = quantize_multiplier(float(in_scale) / float(out_scale))
    fields = (y.elements, in_zp, out_zp, mult, shift, -128, 127, 1)
    return Layer(op.index, name, "EdgecnnReluParams",
                 _fields("EdgecnnReluParams", fields), (), in1, -1, "", out)


def _affine_layer(op: Operator, params_type: str, int8_side: Tensor, scale: float, zero_point: int,
                  in1: int, out: int) -> Layer:
    """A float edge's layer: the int8 side's float32 scale as an exact C hex literal."""
    literal = float(np.float32(scale)).hex() + "f"
    return Layer(op.index, op.opcode.name, params_type,
                 _fields(params_type, (int8_side.elements, literal, zero_point)), (), in1, -1,
                 "", out)


@lowers("DEQUANTIZE", "NONE", "dequantize", "edgecnn_quantize_f32.c")
def _lower_dequantize(m: TfliteModel, op: Operator, offsets: dict[int, int],
                      choice: LayerChoice) -> Layer:
    """DEQUANTIZE of the int8 output to a float32 graph output (Dequantize: the product in
    double)."""
    (name, o, T, x, y, in_scale, in_zp, out_scale, out_zp, prefix, in1,
     out) = _site(m, op, offsets)
    if x.dtype != "int8" or y.dtype != "float32":
        raise UnsupportedModelError(f"layer {op.index}: DEQUANTIZE from {x.dtype} to {y.dtype} "
                                    "is not supported by the native runtime (int8 to float32 "
                                    "is); build with --runtime tflm")
    return _affine_layer(op, "EdgecnnAffineQuantizeParams", x, in_scale, in_zp, in1, out)


@lowers("RELU6", "NONE", "relu", "edgecnn_elementwise_s8.c",
        in_place=_elementwise_in_place)
def _lower_relu6(m: TfliteModel, op: Operator, offsets: dict[int, int],
                 choice: LayerChoice) -> Layer:
    """RELU6: the input clamped to its own 0 and 6."""
    (name, o, T, x, y, in_scale, in_zp, out_scale, out_zp, prefix, in1,
     out) = _site(m, op, offsets)
    six = _round_half_away(float(np.float32(6.0) / np.float32(in_scale))) + in_zp
    fields = (y.elements, 0, 0, 0, 0, in_zp, max(-128, min(127, six)), 0)
    return Layer(op.index, name, "EdgecnnReluParams",
                 _fields("EdgecnnReluParams", fields), (), in1, -1, "", out)


@lowers("LEAKY_RELU", "LeakyReluOptions", "leaky_relu", "edgecnn_activation_s8.c",
        in_place=_elementwise_in_place)
def _lower_leaky_relu(m: TfliteModel, op: Operator, offsets: dict[int, int],
                      choice: LayerChoice) -> Layer:
    """LEAKY_RELU (int8): LeakyReluPrepare's two multipliers, each quotient computed in float32
    as TFLM computes it (input scale * alpha / output scale; input scale / output scale)."""
    (name, o, T, x, y, in_scale, in_zp, out_scale, out_zp, prefix, in1,
     out) = _site(m, op, offsets)
    f32 = np.float32
    alpha = f32(o.get("alpha", 0.0))
    if not 0 <= alpha:
        raise UnsupportedModelError(f"layer {op.index}: LEAKY_RELU with a negative alpha "
                                    f"({float(alpha):g}) is not supported by the native runtime")
    identity = quantize_multiplier(float(f32(in_scale) / f32(out_scale)))
    slope = quantize_multiplier(float(f32(in_scale) * alpha / f32(out_scale)))
    fields = (y.elements, in_zp, out_zp, identity[0], identity[1], slope[0], slope[1])
    return Layer(op.index, name, "EdgecnnLeakyReluParams",
                 _fields("EdgecnnLeakyReluParams", fields), (), in1, -1, "", out)


@lowers("PAD", "PadOptions", "pad", "edgecnn_pad_s8.c")
@lowers("PADV2", "PadV2Options", "pad", "edgecnn_pad_s8.c")
def _lower_pad(m: TfliteModel, op: Operator, offsets: dict[int, int],
               choice: LayerChoice) -> Layer:
    """PAD and PADV2: 4-D dims, the leading paddings and the padding value."""
    (name, o, T, x, y, in_scale, in_zp, out_scale, out_zp, prefix, in1,
     out) = _site(m, op, offsets)
    pads = T[op.inputs[1]].values().reshape(-1, 2).astype(int)
    lead = 4 - len(x.shape)
    value = (int(T[op.inputs[2]].values().reshape(-1)[0])
             if name == "PADV2" and len(op.inputs) > 2 and op.inputs[2] >= 0 else out_zp)

    fields = (_c_array([1] * lead + list(x.shape)), _c_array([1] * lead + list(y.shape)),
              _c_array([0] * lead + list(pads[:, 0])), value)
    return Layer(op.index, name, "EdgecnnPadParams",
                 _fields("EdgecnnPadParams", fields), (), in1, -1, "", out)



@lowers("LOGISTIC", "NONE", "logistic", "edgecnn_activation_s8.c",
        in_place=_elementwise_in_place)
@lowers("TANH", "NONE", "tanh", "edgecnn_activation_s8.c",
        in_place=_elementwise_in_place)
def _lower_logistic_tanh(m: TfliteModel, op: Operator, offsets: dict[int, int],
                         choice: LayerChoice) -> Layer:
    """LOGISTIC and TANH (int8): LogisticPrepare / TanhPrepare's constants — the input scale
    times 2^27 split by frexp into a Q0.31 multiplier and a left shift (rounded as
    TfLiteRound rounds, half away from zero), and CalculateInputRadius(4, shift, 31)."""
    (name, o, T, x, y, in_scale, in_zp, out_scale, out_zp, prefix, in1,
     out) = _site(m, op, offsets)
    if x.elements != y.elements:
        raise UnsupportedModelError(f"layer {op.index}: {name} input and output differ in size")
    if name == "LOGISTIC" and out_zp != -128:
        raise UnsupportedModelError(f"layer {op.index}: LOGISTIC output zero point must be -128 "
                                    "(TFLM's requirement)")
    q, left_shift = math.frexp(float(in_scale) * float(1 << 27))
    multiplier = _round_half_away(q * (1 << 31))
    if multiplier >= 1 << 31 or left_shift < 0:
        raise UnsupportedModelError(f"layer {op.index}: {name} input scale {in_scale!r} is "
                                    "outside what TFLM's int8 kernel can represent")
    radius = math.floor(1.0 * ((1 << 4) - 1) * (1 << (31 - 4)) / (1 << left_shift))
    fields = (y.elements, in_zp, radius, multiplier, left_shift)
    return Layer(op.index, name, "EdgecnnActivationParams",
                 _fields("EdgecnnActivationParams", fields), (), in1, -1, "", out)


def _mean_scratch(m: TfliteModel, op: Operator, choice: LayerChoice) -> int:
    """edgecnn_mean_s8_scratch_bytes(): one int32 sum per output element."""
    return 4 * m.tensors[op.outputs[0]].elements


def mean_multiplier(in_scale: float, out_scale: float, reduced: int) -> tuple[int, int]:
    """QuantizedMeanOrSum's rescaling of a sum of ``reduced`` elements: QuantizeMultiplier of
    the scale ratio (in double, as PrepareMeanOrSum), then 1/reduced folded into the
    multiplier with floor(log2 reduced) bits of headroom (at most 32, and no more than the
    shift leaves)."""
    multiplier, shift = quantize_multiplier(float(in_scale) / float(out_scale))
    headroom = min(reduced.bit_length() - 1, 32, 31 + shift)
    if headroom < 0:
        raise UnsupportedModelError(f"MEAN's scale ratio {in_scale / out_scale:.3g} is too "
                                    "small for TFLM's int8 kernel")
    return int((multiplier << headroom) // reduced), shift - headroom


@lowers("MEAN", "ReducerOptions", "mean", "edgecnn_reduce_s8.c", scratch=_mean_scratch)
@lowers("REDUCE_MAX", "ReducerOptions", "reduce_max", "edgecnn_reduce_s8.c")
def _lower_mean(m: TfliteModel, op: Operator, offsets: dict[int, int],
                choice: LayerChoice) -> Layer:
    """MEAN or REDUCE_MAX over any constant set of axes of an input of at most 4 dimensions
    (keep_dims or not: the output's elements come in the same order)."""
    (name, o, T, x, y, in_scale, in_zp, out_scale, out_zp, prefix, in1,
     out) = _site(m, op, offsets)
    if name == "REDUCE_MAX" and (_f32(in_scale) != _f32(out_scale) or in_zp != out_zp):
        raise UnsupportedModelError(f"layer {op.index}: REDUCE_MAX with an output quantized "
                                    "unlike its input, which TFLM refuses")
    rank = len(x.shape)
    axes_tensor = T[op.inputs[1]]
    axes = {int(a) + rank if int(a) < 0 else int(a)
            for a in axes_tensor.values().reshape(-1)}
    lead = 4 - rank
    dims = [1] * lead + list(x.shape)
    kept = [d for d in range(rank) if d not in axes]
    steps = [0] * 4
    step = 1
    for d in reversed(kept):
        steps[lead + d] = step
        step *= x.shape[d]
    reduced = int(np.prod([x.shape[d] for d in axes])) if axes else 1
    multiplier, shift = (mean_multiplier(in_scale, out_scale, reduced) if name == "MEAN"
                         else (0, 0))
    sum_offset = (in_zp * reduced + 2 ** 31) % 2 ** 32 - 2 ** 31

    fields = (_c_array(dims), _c_array(steps), y.elements, sum_offset, out_zp, multiplier, shift)
    return Layer(op.index, name, "EdgecnnMeanParams", _fields("EdgecnnMeanParams", fields),
                 (), in1, -1, "", out)


def _int16_multiplier(multiplier: int) -> int:
    """DownScaleInt32ToInt16Multiplier: a Q0.31 multiplier rounded to Q0.15."""
    if multiplier >= (1 << 31) - 1 - (1 << 15):
        return (1 << 15) - 1
    return (multiplier + (1 << 15)) >> 16


@lowers("HARD_SWISH", "NONE", "hard_swish", "edgecnn_activation_s8.c",
        in_place=_elementwise_in_place)
def _lower_hard_swish(m: TfliteModel, op: Operator, offsets: dict[int, int],
                      choice: LayerChoice) -> Layer:
    """HARD_SWISH (int8): HardSwishPrepare's int16 multipliers — the input scale / 128 against
    the output scale and against 3 / 32768, each divided in float32 as TFLM divides them."""
    (name, o, T, x, y, in_scale, in_zp, out_scale, out_zp, prefix, in1,
     out) = _site(m, op, offsets)
    if x.elements != y.elements:
        raise UnsupportedModelError(f"layer {op.index}: HARD_SWISH input and output differ in "
                                    "size")
    hires = np.float32(1.0 / 128.0) * np.float32(in_scale)
    out_m, out_e = quantize_multiplier(float(np.float32(hires / np.float32(out_scale))))
    if out_e > 0:
        raise UnsupportedModelError(f"layer {op.index}: HARD_SWISH output scale {out_scale!r} "
                                    "is below what TFLM's int8 kernel accepts (its "
                                    "multiplier must not shift left)")
    relu_m, relu_e = quantize_multiplier(float(np.float32(
        hires / np.float32(np.float32(3.0) / np.float32(32768.0)))))
    fields = (y.elements, in_zp, out_zp, _int16_multiplier(out_m), out_e,
              _int16_multiplier(relu_m), relu_e)
    return Layer(op.index, name, "EdgecnnHardSwishParams",
                 _fields("EdgecnnHardSwishParams", fields), (), in1, -1, "", out)


def strided_slice_bounds(shape, begin, end, strides, begin_mask: int, end_mask: int,
                         shrink_axis_mask: int) -> list[tuple[int, int, int]]:
    """(start, stop, stride) of each of the five dimensions reference_ops::StridedSlice walks:
    the shape and the indices padded on the left to five dimensions (StridedSlicePadIndices:
    a padded dimension whole), then StridedSliceStartForAxis and StridedSliceEndForAxis —
    a negative index counted from the end, clamped to the dimension, a masked begin or end the
    dimension's first or last, a shrunk axis one element."""
    pad = 5 - len(shape)
    dims = [1] * pad + list(shape)
    begin, end = [0] * pad + list(begin), [1] * pad + list(end)
    strides = [1] * pad + list(strides)
    whole = (1 << pad) - 1
    begin_mask, end_mask = (begin_mask << pad) | whole, (end_mask << pad) | whole
    shrink_axis_mask <<= pad

    def clamp(v: int, size: int, stride: int) -> int:
        lo, hi = (0, size) if stride > 0 else (-1, size - 1)
        return min(max(v, lo), hi)

    bounds = []
    for axis, (size, stride) in enumerate(zip(dims, strides, strict=True)):
        start = begin[axis] + (size if begin[axis] < 0 else 0)
        start = clamp(start, size, stride)
        if begin_mask & (1 << axis):
            start = 0 if stride > 0 else size - 1
        if shrink_axis_mask & (1 << axis):
            stop = start if start >= size else start + 1
        else:
            stop = clamp(end[axis] + (size if end[axis] < 0 else 0), size, stride)
            if end_mask & (1 << axis):
                stop = size if stride > 0 else -1
        bounds.append((start, stop, stride))
    return bounds


def strided_slice_count(bounds: list[tuple[int, int, int]]) -> int:
    """The elements the walk over ``bounds`` writes."""
    count = 1
    for start, stop, stride in bounds:
        count *= max(0, -(-(stop - start) // stride))
    return count


@lowers("STRIDED_SLICE", "StridedSliceOptions", "strided_slice", "edgecnn_slice_s8.c")
def _lower_strided_slice(m: TfliteModel, op: Operator, offsets: dict[int, int],
                         choice: LayerChoice) -> Layer:
    """STRIDED_SLICE with constant begin, end and strides (native.py's checks refuse the
    rest): the walk's bounds per dimension."""
    (name, o, T, x, y, in_scale, in_zp, out_scale, out_zp, prefix, in1,
     out) = _site(m, op, offsets)
    begin, end, strides = (T[i].values().reshape(-1).tolist() for i in op.inputs[1:4])
    bounds = strided_slice_bounds(x.shape, begin, end, strides, o.get("beginMask", 0),
                                  o.get("endMask", 0), o.get("shrinkAxisMask", 0))

    fields = (_c_array([1] * (5 - len(x.shape)) + list(x.shape)),
              _c_array(b[0] for b in bounds), _c_array(b[1] for b in bounds),
              _c_array(b[2] for b in bounds))
    return Layer(op.index, name, "EdgecnnStridedSliceParams",
                 _fields("EdgecnnStridedSliceParams", fields), (), in1, -1, "", out)
