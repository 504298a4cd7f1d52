"""edgecnn's own runtime: the int8 graph lowered on the host to plain C99 data (weights, biases,
per-channel multipliers and shifts, one parameter struct per layer, arena offsets) that a small
dispatcher (``firmware/edgecnn_runtime_native.cpp``) runs, each layer through its kernel's
entry (``firmware/edgecnn_native_ops.c``, ``firmware/kernels/``): no flatbuffer, no
interpreter, no allocation. The kernels and their lowerings are registered in
``native_kernels.py``; this module checks a model, plans its memory and lowers it.

Every quantization constant is computed here exactly as TFLM computes it at Prepare time (the
same float32/double conversions, ``QuantizeMultiplier``'s frexp and round-half-away), so that
the kernels reproduce TFLM's reference kernels bit for bit. Tensor memory is planned statically
over tensor lifetimes (a greedy first fit, largest first; RESHAPE shares its input's bytes,
elementwise layers and the 3x3 depthwise kernel write over an input that dies there, and a
convolution whose window sets the peak gets an int8 window).

Example:
    >>> plan = lower(read_tflite("kws_ref_model.tflite"))     # doctest: +SKIP
    >>> plan.arena_bytes                                        # doctest: +SKIP
    16000
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from ..errors import UnsupportedModelError
from ..tflite_model import Operator, Tensor, TfliteModel
from .base import ArenaPlan, HostBuild, PlanPart
from .native_kernels import (  # noqa: F401  (re-exported: the lowering's pieces)
    KERNELS,
    PARAM_FIELDS,
    RESHAPES,
    ConstArray,
    Layer,
    LayerChoice,
    conv_weight_layout,
    folded_bias,
    kernel_sources,
    strided_slice_bounds,
    strided_slice_count,
)
from .native_quant import activation_range, quantize_multiplier  # noqa: F401

if TYPE_CHECKING:
    from ..boards import Board

SUPPORTED = tuple(KERNELS)        # the builtins with a registered kernel (native_kernels.py)
ALIGN = 16


# --- the lowered graph ---------------------------------------------------------------------------

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
    in_place: list[int] = field(default_factory=list)   # layers writing over an input
    narrow_windows: list[int] = field(default_factory=list)  # convolutions with int8 windows

    @property
    def total_bytes(self) -> int:
        """The arena the firmware needs: the plan's peak, every scratch buffer inside it."""
        return self.arena_bytes


def unsupported_ops(m: TfliteModel) -> list[str]:
    return sorted({op.opcode.name for op in runtime_graph(m).operators
                   if op.opcode.name not in SUPPORTED})


def runtime_graph(m: TfliteModel) -> TfliteModel:
    """The model as the firmware runs it: without the layers that only compute a RESHAPE's new
    shape (SHAPE, STRIDED_SLICE, PACK... on int32, as Keras exports write them for a dynamic
    batch). The shape they compute is the RESHAPE output tensor's own static shape, which the
    native RESHAPE (its input's bytes, nothing to run) already has, so they run nowhere."""
    readers: dict[int, list[tuple[Operator, int]]] = {}
    for op in m.operators:
        for k, t in enumerate(op.inputs):
            if t >= 0:
                readers.setdefault(t, []).append((op, k))
    shape_only: set[int] = set()
    changed = True
    while changed:
        changed = False
        for op in reversed(m.operators):
            if op.index in shape_only or op.opcode.name == "RESHAPE":
                continue
            if op.outputs and all(
                    m.tensors[t].dtype == "int32" and t not in m.outputs and readers.get(t)
                    and all((r.opcode.name == "RESHAPE" and k == 1) or r.index in shape_only
                            for r, k in readers[t]) for t in op.outputs):
                shape_only.add(op.index)
                changed = True
    if not shape_only:
        return m
    computed = {t for op in m.operators if op.index in shape_only for t in op.outputs}
    operators = [replace(op, inputs=op.inputs[:1]) if op.opcode.name == "RESHAPE"
                 and len(op.inputs) > 1 and op.inputs[1] in computed else op
                 for op in m.operators if op.index not in shape_only]
    return replace(m, operators=operators)


def _end(m: TfliteModel) -> int:
    """A step after the last layer (layer indices are the model's, with gaps where
    runtime_graph left layers out): graph outputs live until then."""
    return m.operators[-1].index + 1 if m.operators else 0


def _check(m: TfliteModel) -> None:
    bad = unsupported_ops(m)
    if bad:
        raise UnsupportedModelError(
            f"the native runtime has no kernel for {', '.join(bad)} (it runs "
            f"{', '.join(SUPPORTED)}); build with --runtime tflm")
    # float32 only at a full-integer model's edges: a graph input read by QUANTIZE alone, a
    # graph output written by DEQUANTIZE
    edges = m.kind == "int8-float-io"
    for t in (m.input_tensor(), m.output_tensor()):
        if t.dtype != "int8" and not (edges and t.dtype == "float32"):
            raise UnsupportedModelError(f"the native runtime needs int8 input and output "
                                        f"tensors (or float32 ones quantized and dequantized "
                                        f"at the edges), not {t.dtype}; quantize with "
                                        "`edgecnn quantize` or build with --runtime tflm")
    float_edges = set(m.inputs) | set(m.outputs) if edges else set()
    for op in m.operators:
        for i in (*op.inputs, *op.outputs):
            # (PAD's paddings too: TFLM reads them as int32 whatever their type)
            if i >= 0 and m.tensors[i].dtype not in ("int8", "int32") and \
                    not (i in float_edges and m.tensors[i].dtype == "float32"):
                raise UnsupportedModelError(f"layer {op.index} ({op.opcode.name}) has a "
                                            f"{m.tensors[i].dtype} tensor; the native runtime "
                                            "runs full-integer int8 models")


_SPATIAL = {"CONV_2D", "DEPTHWISE_CONV_2D", "AVERAGE_POOL_2D", "MAX_POOL_2D", "RESIZE_BILINEAR"}


def _validate_strided_slice(op: Operator, T, refuse) -> None:
    """STRIDED_SLICE as TFLM runs it: constant int32 begin, end and strides, one index for
    every dimension of an input of at most four (TFLM's limits; it reads one index per input
    dimension, as converters write them), no zero stride, no ellipsis, new axis or offset, and
    an output of the elements the slice walks."""
    opts = op.options
    if len(op.inputs) < 4 or any(i < 0 or not T[i].is_constant or T[i].dtype != "int32"
                                 for i in op.inputs[1:4]):
        raise refuse(op, "its begin, end and strides are not int32 constants")
    shape = T[op.inputs[0]].shape
    begin, end, strides = (T[i].values().reshape(-1).tolist() for i in op.inputs[1:4])
    if len(shape) > 4 or not len(begin) == len(end) == len(strides) == len(shape):
        raise refuse(op, f"begin {begin}, end {end} and strides {strides} do not fit a "
                         f"{len(shape)}-D input of at most 4 dimensions (TFLM's limit)")
    if 0 in strides:
        raise refuse(op, f"a stride is 0 ({strides})")
    for key in ("ellipsisMask", "newAxisMask", "offset"):
        if opts.get(key):
            raise refuse(op, f"{key} is set, which the native kernel does not implement")
    bounds = strided_slice_bounds(shape, begin, end, strides, opts.get("beginMask", 0),
                                  opts.get("endMask", 0), opts.get("shrinkAxisMask", 0))
    count = strided_slice_count(bounds)
    if count != T[op.outputs[0]].elements:
        raise refuse(op, f"output {T[op.outputs[0]].shape} is not the {count} elements the "
                         f"slice takes from {shape}")


def _validate(m: TfliteModel) -> None:
    """Refuse, with the operator and the reason, a graph the kernels would compute wrongly:
    the lowering reads shapes, options and scales as a converter writes them, so a file that
    breaks those rules must not become firmware (TFLM catches some of them only in debug
    builds)."""

    def refuse(op: Operator, why: str) -> UnsupportedModelError:
        return UnsupportedModelError(f"layer {op.index} ({op.opcode.name}): {why}; the model is "
                                     "not valid for the native runtime")

    if not m.operators:
        raise UnsupportedModelError("the model has no operators: there is nothing to run")
    written = {t for t in m.inputs}
    for op in m.operators:
        T = m.tensors
        # the options the builtin carries ("NONE": defaults, as TFLM's parsers take them when
        # a converter writes none)
        want = KERNELS[op.opcode.name].options
        if want != "NONE" and op.options_type not in (want, "NONE"):
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
            if any(d < 1 for d in t.shape) and op.opcode.name not in RESHAPES:
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
        if name in RESHAPES and T[op.inputs[0]].elements != T[op.outputs[0]].elements:
            raise refuse(op, "it changes the number of elements")
        if name in ("ADD", "MUL", "SUB") and len(op.inputs) < 2:
            raise refuse(op, "it needs two inputs")
        if name in ("RELU", "RELU6", "QUANTIZE", "LOGISTIC", "TANH", "HARD_SWISH",
                    "LEAKY_RELU") and \
                T[op.inputs[0]].elements != T[op.outputs[0]].elements:
            raise refuse(op, "its input and output differ in size")
        if name in ("MEAN", "REDUCE_MAX"):
            x_shape, y_shape = T[op.inputs[0]].shape, T[op.outputs[0]].shape
            axes = T[op.inputs[1]] if len(op.inputs) > 1 and op.inputs[1] >= 0 else None
            if axes is None or not axes.is_constant or axes.dtype != "int32":
                raise refuse(op, "its axes are not an int32 constant")
            resolved = {int(a) + len(x_shape) if int(a) < 0 else int(a)
                        for a in axes.values().reshape(-1)}
            if len(x_shape) > 4 or not resolved <= set(range(len(x_shape))):
                raise refuse(op, f"axes {sorted(resolved)} do not fit a {len(x_shape)}-D input "
                                 "of at most 4 dimensions")
            kept = math.prod(d for i, d in enumerate(x_shape) if i not in resolved)
            if T[op.outputs[0]].elements != kept:
                raise refuse(op, f"output {y_shape} is not {x_shape} reduced over "
                                 f"{sorted(resolved)}")
        if name == "STRIDED_SLICE":
            _validate_strided_slice(op, T, refuse)
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


@dataclass
class _MemoryPlan:
    offsets: dict[int, int]          # tensor -> arena offset
    scratch_at: dict[int, int]       # layer -> its scratch's arena offset
    peak: int
    choices: dict[int, LayerChoice]  # layer -> what the planner chose for it
    scratch: dict[int, int]          # layer -> its scratch bytes


def _shared_bytes(m: TfliteModel, in_place: bool) -> tuple[dict[int, int], set[int]]:
    """Tensors that share another's bytes (tensor -> the tensor that owns them), and the layers
    that write their output over an input. RESHAPE always shares; with ``in_place`` a layer
    whose kernel allows it (``Kernel.in_place``) writes over an input that dies there — no later
    layer and no graph output reads it, nor anything sharing its bytes — and is at least as
    large as the output."""
    alias: dict[int, int] = {}

    def root(t: int) -> int:
        return alias.get(t, t)

    last_read: dict[int, int] = {}
    for op in m.operators:
        for t in op.inputs:
            if t >= 0:
                last_read[t] = op.index
    for t in m.outputs:
        last_read[t] = _end(m)
    members: dict[int, list[int]] = {}        # owner -> the tensors sharing its bytes
    in_place_layers: set[int] = set()
    for op in m.operators:
        out = op.outputs[0]
        if op.opcode.name in RESHAPES:
            alias[out] = root(op.inputs[0])
        elif in_place and len(op.outputs) == 1:
            for position in KERNELS[op.opcode.name].in_place(m, op):
                owner = root(op.inputs[position])
                group = members.get(owner, [owner])
                others = [t for k, t in enumerate(op.inputs) if k != position and t >= 0]
                if all(last_read.get(t, -1) <= op.index for t in group) and \
                        not any(root(t) == owner for t in others) and \
                        m.tensors[owner].nbytes >= m.tensors[out].nbytes:
                    alias[out] = owner
                    in_place_layers.add(op.index)
                    break
        if out in alias:
            members.setdefault(alias[out], [alias[out]]).append(out)
    return alias, in_place_layers


def _plan_memory(m: TfliteModel, in_place: bool, narrow: frozenset[int]) -> _MemoryPlan:
    """Arena offsets for every activation tensor and every layer's kernel scratch, and the
    peak: greedy first fit over lifetimes, largest first. A scratch buffer lives during its
    layer only, so it goes where no tensor of that layer is (often a gap another layer's
    tensor leaves), not after the plan. ``narrow``: the convolutions given an int8 window."""
    alias, in_place_layers = _shared_bytes(m, in_place)

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
        last[root(t)] = _end(m)
    size_of = {t: m.tensors[t].nbytes for t in first}
    for t, r in alias.items():                 # an owner holds the largest of its sharers
        size_of[r] = max(size_of[r], m.tensors[t].nbytes)
    choices: dict[int, LayerChoice] = {}
    scratch: dict[int, int] = {}
    for op in m.operators:          # scratch of layer i: key -(i + 1), alive at i only
        choice = LayerChoice(op.index in in_place_layers, op.index in narrow)
        choices[op.index] = choice
        scratch[op.index] = KERNELS[op.opcode.name].scratch(m, op, choice)
        if scratch[op.index]:
            key = -(op.index + 1)
            first[key] = last[key] = op.index
            size_of[key] = scratch[op.index]
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
    return _MemoryPlan(offsets, scratch_at, peak, choices, scratch)


# A convolution's narrow window (int8 inputs, widened in the loop) costs that layer about 17 %
# more instructions: it is taken only where it lowers the arena's peak by at least this share.
NARROW_WINDOW_SAVING = 1 / 16


def _plan(m: TfliteModel, in_place: bool, narrow_windows: bool) -> _MemoryPlan:
    """The plan with every output written over a dying input where a kernel allows it, and a
    convolution's window narrowed to int8 where that lowers the peak by at least
    NARROW_WINDOW_SAVING (the int16 window stays wherever the peak is set elsewhere)."""
    best = _plan_memory(m, in_place, frozenset())
    if narrow_windows:
        convs = sorted((op for op in m.operators if op.opcode.name == "CONV_2D"),
                       key=lambda op: -best.scratch[op.index])
        for op in convs:
            trial = _plan_memory(m, in_place, frozenset(
                i for i, c in best.choices.items() if c.narrow_window) | {op.index})
            if trial.peak <= best.peak * (1 - NARROW_WINDOW_SAVING):
                best = trial
    return best


def lower(m: TfliteModel, *, in_place: bool = True, narrow_windows: bool = True) -> NativePlan:
    """The model as native layers, or ``UnsupportedModelError`` naming what is missing.
    ``in_place`` and ``narrow_windows`` (the planner's two memory savings, see :func:`_plan`)
    are on by default; turned off, every layer writes a tensor of its own and every
    convolution keeps its int16 window (the kernel tests run both)."""
    full = m
    m = runtime_graph(m)
    _check(m)
    _validate(m)
    planned = _plan(m, in_place, narrow_windows)
    offsets = planned.offsets
    layers = []
    weight_bytes = 0
    for op in m.operators:
        kernel = KERNELS[op.opcode.name]
        lowered = kernel.lower(m, op, offsets, planned.choices[op.index])
        # a lowering may name another entry of its kernel file (QUANTIZE from float32)
        layer = replace(lowered, kernel=lowered.kernel or kernel.family,
                        invoke=lowered.invoke if lowered.kernel else kernel.invoke,
                        scratch=planned.scratch_at.get(op.index, -1))
        weight_bytes += sum(len(a.values) * (1 if a.ctype == "int8_t" else 4)
                            for a in layer.arrays)
        layers.append(layer)
    inp, out = m.input_tensor(), m.output_tensor()
    scratch, where = max(((planned.scratch[op.index], f"{op.index} {op.opcode.name}")
                          for op in m.operators), default=(0, ""))
    scratch = -(-scratch // ALIGN) * ALIGN
    kept = {op.index for op in m.operators}
    left_out = [op for op in full.operators if op.index not in kept]
    notes = ([f"layers {', '.join(f'{op.index} {op.opcode.name}' for op in left_out)} only "
              "compute a RESHAPE's new shape, which the model states: they run nowhere"]
             if left_out else [])
    return NativePlan(layers, planned.peak, offsets, inp, out, offsets[m.inputs[0]],
                      offsets[m.outputs[0]], weight_bytes, scratch, where if scratch else "",
                      notes=notes,
                      in_place=sorted(i for i, c in planned.choices.items() if c.in_place),
                      narrow_windows=sorted(i for i, c in planned.choices.items()
                                            if c.narrow_window))


def plan_summary(plan: NativePlan) -> dict:
    """The memory plan as plain data (``edgecnn analyze --runtime native --json``)."""
    return {"arena_bytes": plan.arena_bytes, "scratch_bytes": plan.scratch_bytes,
            "scratch_layer": plan.scratch_layer, "total_bytes": plan.total_bytes,
            "weight_bytes": plan.weight_bytes, "notes": list(plan.notes),
            "layers": [{"index": layer.index, "op": layer.op, "input": layer.input1,
                        "input2": layer.input2, "output": layer.output,
                        "in_place": layer.index in plan.in_place,
                        "narrow_window": layer.index in plan.narrow_windows}
                       for layer in plan.layers]}


def format_plan(plan: NativePlan) -> str:
    """The memory plan as a table: where every layer reads and writes in the arena."""
    lines = [f"{'#':>3} {'op':<18} {'input @':>8} {'input2 @':>9} {'output @':>9}", "-" * 51]
    for layer in plan.layers:
        in2 = "-" if layer.input2 < 0 and not layer.constant2 else (
            "const" if layer.constant2 else f"{layer.input2:,}")
        note = ("  in place" if layer.index in plan.in_place else
                "  int8 window" if layer.index in plan.narrow_windows else "")
        lines.append(f"{layer.index:>3} {layer.op:<18} {layer.input1:>8,} {in2:>9} "
                     f"{layer.output:>9,}{note}")
    lines.append(f"native arena: {plan.total_bytes:,} B, the static plan's peak: tensors and "
                 "each layer's kernel scratch placed where that layer's tensors are not"
                 + (f" (largest scratch {plan.scratch_bytes:,} B, layer {plan.scratch_layer})"
                    if plan.scratch_layer else "")
                 + f"; weights and constants {plan.weight_bytes:,} B")
    lines.extend(plan.notes)
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
                                "first; RESHAPE, elementwise layers and 3x3 depthwise "
                                "convolutions in place where their input dies), each layer's "
                                "kernel scratch placed in "
                                "it as a tensor alive during that layer: the exact bytes the "
                                "firmware uses")

    def _plan(self, analysis) -> NativePlan:
        if analysis.tflite is None:
            raise UnsupportedModelError("the native runtime plans from the model itself; "
                                        "analyze the .tflite, not a Keras model")
        return self.lowered(analysis.tflite)

    def firmware_sources(self, board: Board) -> tuple[str, ...]:
        return ("edgecnn_runtime_native.cpp", "edgecnn_native.h", "edgecnn_native_ops.c",
                "edgecnn_kernels.h", "kernels/edgecnn_fixedpoint.h",
                *(f"kernels/{name}" for name in kernel_sources()))

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
