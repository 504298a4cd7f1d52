"""firmware/kernels/, kernel by kernel: hundreds of single-operator int8 models with
random shapes, strides, padding, dilation, depth multipliers, zero points, per-channel scales
and activations, each run by TFLM's host interpreter and by the C kernel, byte for byte.

The portable variant runs on this computer under AddressSanitizer and UndefinedBehavior-
Sanitizer; the DSP variant (SXTB16/SMLAD, ``__ARM_FEATURE_SIMD32``) runs the same cases on the
emulated Cortex-M4. The models are written with the TFLite schema's object API; the C test
program is written here, not by edgecnn's templates."""
from __future__ import annotations

import math
import subprocess
import time

import flatbuffers
import numpy as np
import pytest
from conftest import require_tool, schema_tensor

from edgecnn.resources import resource_dir
from edgecnn.runtimes.native import lower
from edgecnn.tflite_model import _schema, read_tflite

CASES = {"CONV_2D": 300, "DEPTHWISE_CONV_2D": 300, "FULLY_CONNECTED": 200, "RELU": 60,
         "RELU6": 60, "PAD": 60, "PADV2": 40, "QUANTIZE": 60, "ADD": 60, "SUB": 60, "MUL": 60,
         "LOGISTIC": 40, "TANH": 40, "HARD_SWISH": 60, "MEAN": 80, "AVERAGE_POOL_2D": 80,
         "MAX_POOL_2D": 60, "STRIDED_SLICE": 120, "LEAKY_RELU": 60, "QUANTIZE_FLOAT": 60,
         "DEQUANTIZE": 60, "REDUCE_MAX": 60}
WITH_SCRATCH = ("conv", "depthwise_conv", "fully_connected", "mean")
KERNEL_FUNCTION = {"conv": "edgecnn_conv_s8", "depthwise_conv": "edgecnn_depthwise_conv_s8",
                   "fully_connected": "edgecnn_fully_connected_s8", "relu": "edgecnn_relu_s8",
                   "pad": "edgecnn_pad_s8", "add": "edgecnn_add_s8", "mul": "edgecnn_mul_s8",
                   "logistic": "edgecnn_logistic_s8", "tanh": "edgecnn_tanh_s8",
                   "mean": "edgecnn_mean_s8", "hard_swish": "edgecnn_hard_swish_s8",
                   "average_pool": "edgecnn_average_pool_s8", "max_pool": "edgecnn_max_pool_s8",
                   "strided_slice": "edgecnn_strided_slice_s8",
                   "leaky_relu": "edgecnn_leaky_relu_s8",
                   "quantize_float": "edgecnn_quantize_f32_s8",
                   "dequantize": "edgecnn_dequantize_s8_f32",
                   "reduce_max": "edgecnn_reduce_max_s8"}
# the float edges' kernels take float pointers on one side
INPUT_CAST = {"quantize_float": "(const float*)"}
OUTPUT_CAST = {"dequantize": "(float*)"}
# every int8 input of a one-input lookup-like kernel, once each: exhaustive per case
EVERY_INPUT = ("LOGISTIC", "TANH", "HARD_SWISH")


def _out_size(size: int, k: int, stride: int, dilation: int, same: bool) -> int:
    effective = (k - 1) * dilation + 1
    return math.ceil(size / stride) if same else math.ceil((size - effective + 1) / stride)


def _finish(s, tensors, buffers, op: str, inputs, options=None, options_type=None) -> bytes:
    op_t = s.OperatorT()
    op_t.opcodeIndex, op_t.inputs, op_t.outputs = 0, list(inputs), [len(tensors) - 1]
    if options is not None:
        op_t.builtinOptionsType, op_t.builtinOptions = options_type, options
    code = s.OperatorCodeT()
    code.builtinCode = code.deprecatedBuiltinCode = getattr(s.BuiltinOperator, op)
    code.version = 1
    graph = s.SubGraphT()
    graph.tensors, graph.inputs, graph.outputs, graph.operators = (
        tensors, [0], [len(tensors) - 1], [op_t])
    model = s.ModelT()
    model.version, model.operatorCodes, model.subgraphs, model.buffers = 3, [code], [graph], \
        buffers
    builder = flatbuffers.Builder(4096)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def elementwise_case(op: str, rng: np.random.Generator) -> tuple[bytes, tuple[int, ...]]:
    """RELU / RELU6 / int8 QUANTIZE on a random 1- to 4-D int8 tensor, or PAD / PADV2 with random int32
    paddings (TFLM reads them as int32) and, for PADV2, a random padding value."""
    s = _schema()
    INT8 = s.TensorType.INT8
    rank = int(rng.integers(1, 5))
    shape = tuple(int(d) for d in rng.integers(1, 7, rank))
    in_scale, in_zp = float(rng.uniform(0.005, 0.2)), int(rng.integers(-128, 128))
    buffers = [s.BufferT() for _ in range(4)]
    if op in ("ADD", "SUB", "MUL"):   # the second input a constant: the full shape or one value
        other = shape if rng.random() < 0.6 else (1,)
        buffers[1].data = list(rng.integers(-128, 128, int(np.prod(other))).astype(np.int8)
                               .view(np.uint8))
        tensors = [schema_tensor(s, "input", shape, INT8, 0, [in_scale], in_zp),
                   schema_tensor(s, "input2", other, INT8, 1, [float(rng.uniform(0.005, 0.2))],
                           int(rng.integers(-128, 128))),
                   schema_tensor(s, "output", shape, INT8, 2, [float(rng.uniform(0.01, 0.4))],
                           int(rng.integers(-128, 128)))]
        options = {"ADD": s.AddOptionsT, "SUB": s.SubOptionsT, "MUL": s.MulOptionsT}[op]()
        options.fusedActivationFunction = int(rng.choice([0, 1, 3]))   # NONE, RELU, RELU6
        kind = getattr(s.BuiltinOptions, f"{op.title()}Options")
        return _finish(s, tensors, buffers, op, [0, 1], options, kind), shape
    if op in EVERY_INPUT:
        # the scales converters write around a sigmoid or tanh, and wider ones that saturate
        # more of the input range; the output as TFLite quantizes them (1/256 from -128, 1/128
        # around 0)
        in_scale = float(np.exp(rng.uniform(np.log(0.002), np.log(0.5))))
        out_q = (([1 / 256], -128) if op == "LOGISTIC" else ([1 / 128], 0) if op == "TANH" else
                 # HARD_SWISH: any output quantization whose multiplier shifts right
                 ([float(in_scale * rng.uniform(0.3, 3.0))], int(rng.integers(-128, 128))))
        tensors = [schema_tensor(s, "input", (2, 128), INT8, 0, [in_scale], in_zp),
                   schema_tensor(s, "output", (2, 128), INT8, 1, *out_q)]
        return _finish(s, tensors, buffers, op, [0]), (2, 128)
    if op in ("RELU", "RELU6", "QUANTIZE", "LEAKY_RELU"):
        out_scale = in_scale if rng.random() < 0.3 else float(rng.uniform(0.005, 0.2))
        out_zp = in_zp if out_scale == in_scale else int(rng.integers(-128, 128))
        tensors = [schema_tensor(s, "input", shape, INT8, 0, [in_scale], in_zp),
                   schema_tensor(s, "output", shape, INT8, 1, [out_scale], out_zp)]
        if op == "LEAKY_RELU":        # the slopes Keras users pick, and steeper ones
            options = s.LeakyReluOptionsT()
            options.alpha = float(rng.choice([0.01, 0.1, 0.2, 0.3, rng.uniform(0, 1.5)]))
            return _finish(s, tensors, buffers, op, [0], options,
                           s.BuiltinOptions.LeakyReluOptions), shape
        return _finish(s, tensors, buffers, op, [0]), shape
    pads = rng.integers(0, 4, (rank, 2))
    buffers[1].data = list(pads.astype(np.int32).reshape(-1).view(np.uint8))
    out_shape = tuple(int(d + a + b) for d, (a, b) in zip(shape, pads, strict=True))
    tensors = [schema_tensor(s, "input", shape, INT8, 0, [in_scale], in_zp),
               schema_tensor(s, "paddings", (rank, 2), s.TensorType.INT32, 1)]
    inputs = [0, 1]
    if op == "PADV2":
        buffers[2].data = list(np.array([rng.integers(-128, 128)], np.int8).view(np.uint8))
        tensors.append(schema_tensor(s, "value", (1,), INT8, 2, [in_scale], in_zp))
        inputs.append(2)
        options, options_type = s.PadV2OptionsT(), s.BuiltinOptions.PadV2Options
    else:
        options, options_type = s.PadOptionsT(), s.BuiltinOptions.PadOptions
    tensors.append(schema_tensor(s, "output", out_shape, INT8, 3, [in_scale], in_zp))
    return _finish(s, tensors, buffers, op, inputs, options, options_type), shape


def mean_case(rng: np.random.Generator, op: str = "MEAN") -> tuple[bytes, tuple[int, ...]]:
    """MEAN (or REDUCE_MAX) of a random 1- to 4-D int8 tensor over a random set of axes
    (negative ones too, as converters may write them), with or without keep_dims; the output's
    quantization the input's in a third of the MEAN cases (the global average pooling of Keras
    converts so), random otherwise; REDUCE_MAX's always the input's (TFLM requires it)."""
    s = _schema()
    INT8 = s.TensorType.INT8
    rank = int(rng.integers(1, 5))
    shape = tuple(int(d) for d in rng.integers(1, 9, rank))
    if rank == 4 and rng.random() < 0.4:
        axes = [1, 2]                          # a global average pooling
    else:
        axes = sorted(set(int(a) for a in rng.integers(0, rank, int(rng.integers(1, rank + 1)))))
    written = [a - rank if rng.random() < 0.3 else a for a in axes]
    keep = bool(rng.random() < 0.5)
    out_shape = tuple((1 if d in axes else n) for d, n in enumerate(shape) if keep or d not in axes)
    in_scale, in_zp = float(rng.uniform(0.005, 0.2)), int(rng.integers(-128, 128))
    out_scale, out_zp = ((in_scale, in_zp) if op == "REDUCE_MAX" or rng.random() < 0.33 else
                         (float(rng.uniform(0.002, 0.2)), int(rng.integers(-128, 128))))
    buffers = [s.BufferT() for _ in range(3)]
    buffers[1].data = list(np.array(written, np.int32).view(np.uint8))
    tensors = [schema_tensor(s, "input", shape, INT8, 0, [in_scale], in_zp),
               schema_tensor(s, "axes", (len(written),), s.TensorType.INT32, 1),
               schema_tensor(s, "output", out_shape, INT8, 2, [out_scale], out_zp)]
    options = s.ReducerOptionsT()
    options.keepDims = keep
    return _finish(s, tensors, buffers, op, [0, 1], options,
                   s.BuiltinOptions.ReducerOptions), shape


def pool_case(op: str, rng: np.random.Generator) -> tuple[bytes, tuple[int, ...]] | None:
    """AVERAGE_POOL_2D / MAX_POOL_2D: random windows, strides, SAME/VALID padding, channel
    counts (in fours and not), a fused activation; the output quantized as the input (TFLM's
    int8 pooling requires it)."""
    s = _schema()
    in_h, in_w, ch = int(rng.integers(1, 12)), int(rng.integers(1, 12)), int(rng.integers(1, 14))
    k_h, k_w = int(rng.integers(1, 5)), int(rng.integers(1, 5))
    if rng.random() < 0.2:
        k_h, k_w = in_h, in_w                 # a global pooling, as classifier heads end
    stride_h, stride_w = int(rng.integers(1, 4)), int(rng.integers(1, 4))
    same = bool(rng.random() < 0.5)
    out_h = _out_size(in_h, k_h, stride_h, 1, same)
    out_w = _out_size(in_w, k_w, stride_w, 1, same)
    if out_h < 1 or out_w < 1:
        return None
    scale, zp = float(rng.uniform(0.005, 0.2)), int(rng.integers(-128, 128))
    tensors = [schema_tensor(s, "input", (1, in_h, in_w, ch), s.TensorType.INT8, 0, [scale], zp),
               schema_tensor(s, "output", (1, out_h, out_w, ch), s.TensorType.INT8, 1, [scale],
                             zp)]
    options = s.Pool2DOptionsT()
    options.padding = s.Padding.SAME if same else s.Padding.VALID
    options.strideH, options.strideW = stride_h, stride_w
    options.filterHeight, options.filterWidth = k_h, k_w
    options.fusedActivationFunction = int(rng.choice([0, 1, 3]))   # NONE, RELU, RELU6
    return _finish(s, tensors, [s.BufferT() for _ in range(3)], op, [0], options,
                   s.BuiltinOptions.Pool2DOptions), (1, in_h, in_w, ch)


def slice_case(rng: np.random.Generator) -> tuple[bytes, tuple[int, ...]] | None:
    """STRIDED_SLICE of a random 1- to 4-D tensor: begin and end anywhere (negative, past the
    ends), strides forwards and backwards, begin and end masks, shrunk axes (an index); an
    index for every dimension, as converters write them (TFLM reads one per dimension). The
    output's shape is numpy's for the same slice."""
    s = _schema()
    rank = int(rng.integers(1, 5))                  # TFLM's kernel takes at most 4
    shape = tuple(int(d) for d in rng.integers(1, 7, rank))
    n = rank
    begin, end, strides, index = [], [], [], []
    begin_mask = end_mask = shrink = 0
    for axis in range(n):
        size = shape[axis]
        if rng.random() < 0.2:                       # an index: the axis shrinks
            b = int(rng.integers(-size, size))
            begin.append(b), end.append(b + 1), strides.append(1)
            shrink |= 1 << axis
            index.append(b)
            continue
        b, e = (int(v) for v in rng.integers(-size - 2, size + 3, 2))
        stride = int(rng.choice([1, 1, 2, 3, -1, -2]))
        begin.append(b), end.append(e), strides.append(stride)
        masked_b, masked_e = rng.random() < 0.25, rng.random() < 0.25
        begin_mask |= int(masked_b) << axis
        end_mask |= int(masked_e) << axis
        index.append(slice(None if masked_b else b, None if masked_e else e, stride))
    out_shape = np.empty(shape)[tuple(index)].shape
    if 0 in out_shape or not out_shape:
        return None
    in_scale, zp = float(rng.uniform(0.005, 0.2)), int(rng.integers(-128, 128))
    buffers = [s.BufferT() for _ in range(5)]
    for k, values in enumerate((begin, end, strides), start=1):
        buffers[k].data = list(np.array(values, np.int32).view(np.uint8))
    tensors = [schema_tensor(s, "input", shape, s.TensorType.INT8, 0, [in_scale], zp),
               *(schema_tensor(s, name, (n,), s.TensorType.INT32, k)
                 for k, name in enumerate(("begin", "end", "strides"), start=1)),
               schema_tensor(s, "output", out_shape, s.TensorType.INT8, 4, [in_scale], zp)]
    options = s.StridedSliceOptionsT()
    options.beginMask, options.endMask, options.shrinkAxisMask = begin_mask, end_mask, shrink
    return _finish(s, tensors, buffers, "STRIDED_SLICE", [0, 1, 2, 3], options,
                   s.BuiltinOptions.StridedSliceOptions), shape


def float_edge_case(op: str, rng: np.random.Generator) -> tuple[bytes, tuple[int, ...]]:
    """QUANTIZE from float32 to int8, or DEQUANTIZE from int8 to float32, on a random 1- to
    4-D tensor; a third of the scales powers of two (so that inputs half-way between two
    steps divide exactly, and TfLiteRound's halves are tested)."""
    s = _schema()
    rank = int(rng.integers(1, 5))
    shape = tuple(int(d) for d in rng.integers(1, 9, rank))
    scale = (2.0 ** -int(rng.integers(1, 9)) if rng.random() < 0.35
             else float(rng.uniform(0.002, 0.3)))
    zp = int(rng.integers(-128, 128))
    int8 = schema_tensor(s, "int8", shape, s.TensorType.INT8, 0, [scale], zp)
    real = schema_tensor(s, "float", shape, s.TensorType.FLOAT32, 0)
    buffers = [s.BufferT()]
    if op == "QUANTIZE_FLOAT":
        return _finish(s, [real, int8], buffers, "QUANTIZE", [0]), shape
    return _finish(s, [int8, real], buffers, "DEQUANTIZE", [0]), shape


def float_input(model, rng: np.random.Generator, shape) -> np.ndarray:
    """Inputs for a QUANTIZE from float32: over the int8 range and beyond it (clamped), and
    a quarter of them exactly half-way between two steps."""
    out = model.tensors[model.operators[0].outputs[0]]
    scale, zp = float(out.scales[0]), int(out.zero_points[0])
    steps = rng.uniform(-160 - zp, 160 - zp, shape)
    halves = rng.integers(-140 - zp, 140 - zp, shape) + 0.5
    steps = np.where(rng.random(shape) < 0.25, halves, steps)
    return (steps * scale).astype(np.float32)


def random_case(op: str, rng: np.random.Generator) -> tuple[bytes, tuple[int, ...]] | None:
    """A one-operator int8 model of ``op`` and its input shape, or None for a draw whose
    output would be empty."""
    if op in ("RELU", "RELU6", "QUANTIZE", "LEAKY_RELU", "PAD", "PADV2", "ADD", "SUB", "MUL",
              *EVERY_INPUT):
        return elementwise_case(op, rng)
    if op in ("QUANTIZE_FLOAT", "DEQUANTIZE"):
        return float_edge_case(op, rng)
    if op in ("MEAN", "REDUCE_MAX"):
        return mean_case(rng, op)
    if op in ("AVERAGE_POOL_2D", "MAX_POOL_2D"):
        return pool_case(op, rng)
    if op == "STRIDED_SLICE":
        return slice_case(rng)
    s = _schema()
    INT8, INT32 = s.TensorType.INT8, s.TensorType.INT32
    in_scale = float(rng.uniform(0.005, 0.1))
    in_zp, out_zp = int(rng.integers(-128, 128)), int(rng.integers(-128, 128))
    activation = int(rng.choice([s.ActivationFunctionType.NONE, s.ActivationFunctionType.RELU,
                                 s.ActivationFunctionType.RELU6]))
    if op == "FULLY_CONNECTED":
        batches, n, out_c = int(rng.integers(1, 4)), int(rng.integers(1, 70)), int(
            rng.integers(1, 21))
        in_shape, w_shape, out_shape = (batches, n), (out_c, n), (batches, out_c)
        w_scales, axis, taps = [float(rng.uniform(0.002, 0.05))], 0, n
    else:
        in_h, in_w = int(rng.integers(1, 10)), int(rng.integers(1, 10))
        k_h, k_w = int(rng.integers(1, 5)), int(rng.integers(1, 5))
        if rng.random() < 0.25:
            k_h = k_w = 1                    # pointwise: the kernel's in-place path
        stride_h, stride_w = int(rng.integers(1, 4)), int(rng.integers(1, 4))
        if k_h == k_w == 1 and rng.random() < 0.6:
            stride_h = stride_w = 1
        dil_h, dil_w = int(rng.choice([1, 1, 2])), int(rng.choice([1, 1, 2]))
        same = bool(rng.random() < 0.6)
        out_h = _out_size(in_h, k_h, stride_h, dil_h, same)
        out_w = _out_size(in_w, k_w, stride_w, dil_w, same)
        if out_h < 1 or out_w < 1:
            return None
        in_c = int(rng.integers(1, 13))
        if op == "DEPTHWISE_CONV_2D":
            multiplier = int(rng.choice([1, 1, 1, 2, 3]))
            if rng.random() < 0.35:          # the 3x3 kernel's shape: four channels at a time
                k_h = k_w = 3
                multiplier, in_c = 1, int(rng.choice([4, 8, 12]))
                if rng.random() < 0.35:      # or a multiplier in fours (keyword models' first)
                    multiplier, in_c = int(rng.choice([4, 8])), int(rng.integers(1, 4))
                elif rng.random() < 0.6:     # MobileNet's: stride 1, no dilation (in place)
                    stride_h = stride_w = dil_h = dil_w = 1
                out_h = _out_size(in_h, k_h, stride_h, dil_h, same)
                out_w = _out_size(in_w, k_w, stride_w, dil_w, same)
                if out_h < 1 or out_w < 1:
                    return None
            out_c = in_c * multiplier
            w_shape, axis, taps = (1, k_h, k_w, out_c), 3, k_h * k_w
        else:
            out_c = int(rng.integers(1, 13))
            w_shape, axis, taps = (out_c, k_h, k_w, in_c), 0, k_h * k_w * in_c
        in_shape, out_shape = (1, in_h, in_w, in_c), (1, out_h, out_w, out_c)
        w_scales = [float(v) for v in rng.uniform(0.002, 0.05, out_c)]
    # an output scale that keeps most results inside int8, so that saturation is not all
    out_scale = float(in_scale * np.mean(w_scales) * 60 * math.sqrt(taps) * rng.uniform(0.5, 2))
    draw = rng.random()
    if draw < 0.08:     # multipliers of 1 or more: a left shift (the kernels' general path)
        out_scale = float(in_scale * min(w_scales) * rng.uniform(0.2, 1.0))
    elif draw < 0.12:   # a right shift beyond the requantization table's 23 bits
        out_scale = float(in_scale * max(w_scales) * 2.0 ** rng.uniform(24, 30))
    weights = rng.integers(-127, 128, int(np.prod(w_shape))).astype(np.int8)
    bias = rng.integers(-3000, 3000, out_c).astype(np.int32)
    buffers = [s.BufferT() for _ in range(5)]
    buffers[1].data = list(weights.view(np.uint8))
    buffers[2].data = list(bias.view(np.uint8))
    bias_scales = [in_scale * w for w in (w_scales if len(w_scales) > 1 else w_scales * out_c)]
    tensors = [schema_tensor(s, "input", in_shape, INT8, 0, [in_scale], in_zp),
               schema_tensor(s, "weights", w_shape, INT8, 1, w_scales, 0, axis),
               schema_tensor(s, "bias", (out_c,), INT32, 2, bias_scales if len(w_scales) > 1
                       else [bias_scales[0]]),
               schema_tensor(s, "output", out_shape, INT8, 3, [out_scale], out_zp)]
    if op == "FULLY_CONNECTED":
        options = s.FullyConnectedOptionsT()
        options.fusedActivationFunction = activation
        options_type = s.BuiltinOptions.FullyConnectedOptions
    else:
        options = (s.Conv2DOptionsT() if op == "CONV_2D" else s.DepthwiseConv2DOptionsT())
        options.padding = s.Padding.SAME if same else s.Padding.VALID
        options.strideH, options.strideW = stride_h, stride_w
        options.dilationHFactor, options.dilationWFactor = dil_h, dil_w
        options.fusedActivationFunction = activation
        if op == "DEPTHWISE_CONV_2D":
            options.depthMultiplier = multiplier
            options_type = s.BuiltinOptions.DepthwiseConv2DOptions
        else:
            options_type = s.BuiltinOptions.Conv2DOptions
    return _finish(s, tensors, buffers, op, [0, 1, 2], options, options_type), in_shape


def tflm_output(model: bytes, x: np.ndarray) -> np.ndarray:
    """TFLM's own host interpreter (PyPI tflite-micro), called directly."""
    from tflite_micro import runtime

    interpreter = runtime.Interpreter.from_bytes(model, arena_size=1 << 20)
    interpreter.set_input(x, 0)
    interpreter.invoke()
    return np.asarray(interpreter.get_output(0))


def _c_array(ctype: str, name: str, values) -> str:
    body = (",".join(float(v).hex() + "f" for v in values) if ctype == "float" else
            ",".join(str(int(v)) for v in values)) or "0"
    # word-aligned as the generated model's arrays are (the DSP kernels' LDRD needs it)
    return f"static const {ctype} {name}[] __attribute__((aligned(4))) = {{{body}}};\n"


def _scratch_check(layer, i: int, planned: int, in_place: bool) -> str:
    """The kernel's own *_scratch_bytes() against what the host planned for the case."""
    if layer.kernel == "conv":
        says = f"edgecnn_conv_s8_scratch_bytes(&c{i}_params)"
    elif layer.kernel == "depthwise_conv":
        says = f"edgecnn_depthwise_conv_s8_scratch_bytes(&c{i}_params, {int(in_place)})"
    elif layer.kernel == "mean":
        says = f"edgecnn_mean_s8_scratch_bytes(&c{i}_params)"
    else:
        return ""
    return f"  failed += scratch_agrees({i}, {says}, {planned});\n"


def c_test_program(cases) -> str:
    """One C program that runs every case's kernel and prints each mismatching case."""
    parts = ['#include <stdio.h>\n#include <stdlib.h>\n#include <string.h>\n',
             '#include "edgecnn_kernels.h"\n', "int edgecnn_test_putchar(int c);\n"]
    calls = []
    for i, (layer, scratch, x, expected) in enumerate(cases):
        rename = {a.name: f"c{i}_{a.name}" for a in layer.arrays}
        for a in layer.arrays:
            parts.append(_c_array(a.ctype, rename[a.name], a.values))
        fields = ", ".join(f".{name} = {rename.get(value, value)}" for name, value in layer.fields)
        parts.append(f"static const {layer.params_type} c{i}_params = {{{fields}}};\n")
        parts.append(_c_array("float" if x.dtype == np.float32 else "int8_t", f"c{i}_input", x))
        # the expected output as bytes (a float32 output's own bytes: compared bit for bit)
        expected = np.ascontiguousarray(expected).view(np.int8).reshape(-1)
        parts.append(_c_array("int8_t", f"c{i}_expected", expected))
        # where the plan writes the output over the input, the kernel gets one buffer for both,
        # holding the input: as the firmware's arena does
        in_place = layer.input1 == layer.output
        source = "out" if in_place else f"c{i}_input"
        calls.append(f"  failed += run_case({i}, {len(expected)}, {scratch}, "
                     f"{f'c{i}_input' if in_place else 'NULL'}, {len(x)});\n"
                     + _scratch_check(layer, i, scratch, in_place)
                     + f"  {KERNEL_FUNCTION[layer.kernel]}(&c{i}_params, "
                     f"{INPUT_CAST.get(layer.kernel, '')}{source}, "
                     + (f"{rename[layer.constant2]}, " if layer.constant2 else "")
                     + f"{OUTPUT_CAST.get(layer.kernel, '')}out"
                     + (", scratch" if layer.kernel in WITH_SCRATCH else "") + ");\n"
                     f"  failed += check({i}, c{i}_expected, {len(expected)}, "
                     f"{max(len(expected), len(x)) if in_place else len(expected)});\n")
    parts.append("""
static float out_words[16384]; /* float: a DEQUANTIZE writes float32 (int8_t may alias it) */
static int8_t* const out = (int8_t*)out_words;
static int32_t scratch_words[16384];
static void* scratch = scratch_words;
static void say(const char* s) { while (*s) edgecnn_test_putchar(*s++); }
static void say_int(int v) { char b[16]; int n = 0; if (v < 0) { edgecnn_test_putchar('-');
  v = -v; } do { b[n++] = (char)('0' + v % 10); v /= 10; } while (v); while (n)
  edgecnn_test_putchar(b[--n]); }
static int run_case(int i, int n, int scratch_bytes, const int8_t* in_place, int in_bytes) {
  (void)i; memset(out, 0x5a, (size_t)(n > in_bytes ? n : in_bytes) + 16);
  if (in_place) memcpy(out, in_place, (size_t)in_bytes);
  if (scratch_bytes > (int)sizeof(scratch_words)) { say("scratch too small\\n"); return 1; }
  return 0; }
static int scratch_agrees(int i, int kernel_says, int planned) {
  if (((kernel_says + 15) & ~15) == planned) return 0;
  say("SCRATCH case "); say_int(i); say(": the kernel says "); say_int(kernel_says);
  say(", the host planned "); say_int(planned); say("\\n"); return 1; }
static int check(int i, const int8_t* expected, int n, int guard) {
  for (int k = 0; k < n; ++k) {
    if (out[k] != expected[k]) {
      say("MISMATCH case "); say_int(i); say(" at "); say_int(k); say(": got ");
      say_int(out[k]); say(", TFLM "); say_int(expected[k]); say("\\n");
      return 1; } }
  for (int k = guard; k < guard + 16; ++k) {
    if (out[k] != 0x5a) {
      say("WRITE PAST THE OUTPUT case "); say_int(i); say(" at "); say_int(k); say("\\n");
      return 1; } }
  return 0; }
int main(void) {
  int failed = 0;
""")
    parts.extend(calls)
    parts.append('  say("DONE failed="); say_int(failed); say("\\n");\n  return 0;\n}\n')
    return "".join(parts)


@pytest.fixture(scope="module")
def cases():
    """(lowered layer, scratch bytes, input, TFLM's output) for every case."""
    rng = np.random.default_rng(20261129)
    out = []
    for op, count in CASES.items():
        made = 0
        while made < count:
            drawn = random_case(op, rng)
            if drawn is None:
                continue
            model, shape = drawn
            # every other case with the planner's memory savings off: an output of its own,
            # the int16 convolution window (a lone convolution's window always sets the peak)
            saving = len(out) % 2 == 0
            model_t = read_tflite(model)
            plan = lower(model_t, in_place=saving, narrow_windows=saving)
            if model_t.input_tensor().dtype == "float32":
                x = float_input(model_t, rng, shape)
            else:
                x = (rng.permutation(np.arange(-128, 128)).reshape(shape) if op in EVERY_INPUT
                     else rng.integers(-128, 128, shape)).astype(np.int8)
            expected = tflm_output(model, x)
            assert len(plan.layers) == 1, op
            out.append((plan.layers[0], plan.scratch_bytes, x.reshape(-1),
                        expected.reshape(-1)))
            made += 1
    return out


HOST_MAIN = "#include <stdio.h>\nint edgecnn_test_putchar(int c) { return putchar(c); }\n"


def test_the_cases_cover_every_path(cases):
    kinds = {layer.kernel for layer, *_ in cases}
    assert kinds == set(KERNEL_FUNCTION)
    convs = [layer for layer, *_ in cases if layer.kernel == "conv"]
    # pointwise (in place) and windowed convolutions, with and without padding
    fields = [dict(layer.fields) for layer in convs]
    assert sum(1 for f in fields if f["k_h"] == f["k_w"] == "1") >= 10
    assert sum(1 for f in fields if (f["pad_h"], f["pad_w"]) != ("0", "0")) >= 10
    multipliers = {dict(layer.fields)["depth_multiplier"] for layer, *_ in cases
                   if layer.kernel == "depthwise_conv"}
    # the 3x3 kernel, with pixels inside and on the border, strided and dilated
    quads = [dict(layer.fields) for layer, *_ in cases
             if layer.kernel == "depthwise_conv" and dict(layer.fields)["quad_taps"] == "1"]
    assert len(quads) >= 50
    assert any(f["pad_h"] != "0" for f in quads) and any(f["stride_h"] != "1" for f in quads)
    assert any(f["dilation_w"] != "1" for f in quads)
    assert sum(1 for f in quads if f["depth_multiplier"] in ("4", "8")) >= 15
    assert {"1", "2", "3"} <= multipliers
    # the requantization table (every channel shifting right by 1..23) and the general path
    tables = [dict(layer.fields)["requant"] != "NULL" for layer, *_ in cases
              if layer.kernel in ("conv", "depthwise_conv")]
    assert sum(tables) >= 400 and len(tables) - sum(tables) >= 30
    # int8 and int16 convolution windows; outputs written over their input (the 3x3
    # depthwise kernel and the elementwise ones) and beside it
    narrow = [f["narrow_window"] for f in fields]
    assert narrow.count("1") >= 100 and narrow.count("0") >= 100
    in_place = [layer.kernel for layer, *_ in cases if layer.input1 == layer.output]
    assert in_place.count("depthwise_conv") >= 20
    assert all(in_place.count(k) >= 10 for k in ("add", "mul", "relu", "logistic",
                                                  "hard_swish", "leaky_relu"))
    assert sum(1 for f in quads if f["stride_h"] == f["stride_w"] == "1"
               and f["depth_multiplier"] == "1") - in_place.count("depthwise_conv") >= 20


def kernel_files(fw) -> list[str]:
    """Every kernel file, one per family (and the shared fixed point)."""
    files = sorted(str(f) for f in (fw / "kernels").glob("*.c"))
    assert len(files) >= 9
    return files


def test_portable_kernels_equal_tflm_under_sanitizers(cases, tmp_path):
    require_tool("gcc")
    (tmp_path / "cases.c").write_text(c_test_program(cases))
    (tmp_path / "main.c").write_text(HOST_MAIN)
    exe = tmp_path / "kernels"
    fw = resource_dir("firmware")
    subprocess.run(["gcc", "-std=c99", "-O1", "-g", "-fsanitize=address,undefined",
                    "-fno-sanitize-recover=all", "-Wall", "-Wextra", "-Werror",
                    f"-I{fw}", f"-I{fw / 'kernels'}", str(tmp_path / "cases.c"),
                    str(tmp_path / "main.c"), *kernel_files(fw), "-o", str(exe)], check=True)
    proc = subprocess.run([str(exe)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip().endswith("DONE failed=0"), proc.stdout[-2000:]
    assert "MISMATCH" not in proc.stdout


EMULATOR_MAIN = """#include <stdint.h>
#define UART0_DATA (*(volatile uint32_t*)0x40004000u)
#define UART0_STATE (*(volatile uint32_t*)0x40004004u)
#define UART0_CTRL (*(volatile uint32_t*)0x40004008u)
#define UART0_BAUDDIV (*(volatile uint32_t*)0x40004010u)
int edgecnn_test_putchar(int c) {
  UART0_BAUDDIV = 16u; UART0_CTRL = 1u;
  while (UART0_STATE & 1u) {}
  UART0_DATA = (uint32_t)(uint8_t)c; return c; }
"""


def test_dsp_kernels_equal_tflm_on_the_emulated_cortex_m4(cases, tmp_path):
    for tool in ("arm-none-eabi-gcc", "qemu-system-arm"):
        require_tool(tool)
    (tmp_path / "cases.c").write_text(c_test_program(cases))
    (tmp_path / "main.c").write_text(EMULATOR_MAIN)
    fw = resource_dir("firmware")
    target = fw / "targets" / "mps2_an386"
    elf = tmp_path / "kernels.elf"
    cpu = ["-mcpu=cortex-m4", "-mthumb", "-mfloat-abi=hard", "-mfpu=fpv4-sp-d16"]
    probe = subprocess.run(["arm-none-eabi-gcc", *cpu, "-dM", "-E", "-x", "c", "/dev/null"],
                           capture_output=True, text=True, check=True).stdout
    assert "__ARM_FEATURE_SIMD32 1" in probe       # the DSP variant is the one compiled
    subprocess.run(["arm-none-eabi-gcc", *cpu, "-std=c99", "-O2", "-Wall", "-Wextra", "-Werror",
                    "-ffunction-sections", "-fdata-sections", "-Wl,--gc-sections",
                    f"-I{fw}", f"-I{fw / 'kernels'}", str(tmp_path / "cases.c"),
                    str(tmp_path / "main.c"), *kernel_files(fw), str(target / "startup.c"),
                    "-T", str(target / "link.ld"), "--specs=nano.specs", "--specs=nosys.specs",
                    "-o", str(elf)], check=True)
    qemu = subprocess.Popen(["qemu-system-arm", "-M", "mps2-an386", "-nographic", "-monitor",
                             "none", "-serial", "stdio", "-kernel", str(elf)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines = []
    deadline = time.monotonic() + 300
    try:
        for line in qemu.stdout:
            lines.append(line.strip())
            if line.startswith("DONE") or time.monotonic() > deadline:
                break
    finally:
        qemu.kill()
        qemu.wait()
    assert lines and lines[-1] == "DONE failed=0", "\n".join(lines[-20:])


def _one_index(model):
    """begin, end and strides of one element each, for a 2-D or larger input"""
    graph = model.subgraphs[0]
    for k in (1, 2, 3):
        graph.tensors[k].shape = [1]
        model.buffers[k].data = model.buffers[k].data[:4]


@pytest.mark.parametrize("mutation, message", [
    (lambda m: setattr(m.subgraphs[0].operators[0].builtinOptions, "ellipsisMask", 1),
     "ellipsisMask is set"),
    (lambda m: setattr(m.subgraphs[0].operators[0].builtinOptions, "newAxisMask", 1),
     "newAxisMask is set"),
    (lambda m: setattr(m.buffers[3], "data", [0] * len(m.buffers[3].data)), "a stride is 0"),
    (_one_index, "do not fit"),
    (lambda m: setattr(m.subgraphs[0].tensors[4], "shape", [99]), "is not the"),
])
def test_a_strided_slice_the_kernel_cannot_run_is_refused_by_name(mutation, message):
    from edgecnn.errors import UnsupportedModelError

    s = _schema()
    rng = np.random.default_rng(7)
    drawn = None
    while drawn is None or len(drawn[1]) < 2:
        drawn = slice_case(rng)
    model = s.ModelT.InitFromPackedBuf(drawn[0], 0)
    mutation(model)
    builder = flatbuffers.Builder(4096)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    with pytest.raises(UnsupportedModelError, match=rf"STRIDED_SLICE\): .*{message}"):
        lower(read_tflite(bytes(builder.Output())))
