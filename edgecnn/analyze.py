"""Per-layer and whole-model analysis of an int8 .tflite: parameters, MACs, activation memory,
receptive field, flash, and the tensor arena measured by TFLM's recording allocator.

Example:
    >>> import edgecnn
    >>> a = edgecnn.analyze("model.tflite")       # doctest: +SKIP
    >>> a.total_macs, a.arena.host.total            # doctest: +SKIP
    (1234567, 9104)
"""
from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from .tflite_model import Operator, TfliteModel, read_tflite
from .tflm_host import ArenaMeasurement, measure_arena

# Ratio of a 32-bit MCU's size to this 64-bit host's, per recording-allocator category, as the
# pinned boards' TFLM libraries allocate them. Measured with the pinned Arduino library (7948b85)
# built for Cortex-M4 as PlatformIO builds it (ARDUINO defined, no TF_LITE_STATIC_MEMORY) and
# run on an emulated Cortex-M4, against this host's PyPI tflite-micro, for the MLPerf Tiny
# models and edgecnn's zoo:
#   TfLiteEvalTensor: 12 B per tensor there, 24 B here;
#   NodeAndRegistration: 44 B per operator there, 64 B here;
#   quantization data of the persistent tensors: 10 B per allocation there, 16 B here.
# Persistent TfLiteTensor structs are 64 B in both (the libraries are built without
# TF_LITE_STATIC_MEMORY), and kernel op data and the allocator's own structures measured
# smaller there than here: those are kept as measured here, an upper bound.
STRUCT_RATIO_32BIT = {
    "TfLiteEvalTensor data": 12 / 24,
    "NodeAndRegistration struct": 44 / 64,
    "Persistent TfLiteTensor quantization data": 10 / 16,
}
ALIGNMENT = 16


@dataclass
class TensorInfo:
    name: str
    shape: tuple[int, ...]
    dtype: str
    scale: float | None
    zero_point: int | None


@dataclass
class LayerRow:
    index: int
    name: str
    op: str
    version: int
    output_shape: tuple[int, ...]
    params: int
    macs: int
    activation_bytes: int
    receptive_field: tuple[int, ...] | None   # (height, width)
    kernel: tuple[int, int] | None = None
    stride: tuple[int, int] | None = None
    input_shape: tuple[int, ...] = ()
    padding: str | None = None   # 'same' or 'valid' for convolutions and pooling


@dataclass
class ArenaFigures:
    host: ArenaMeasurement
    device_32bit: int          # host figure with 32-bit struct sizes (reference kernels)
    method: str = ("head (activations, planned by TFLM) unchanged; persistent structs scaled to "
                   "the pinned libraries' 32-bit sizes per allocator category (measured); "
                   "everything else kept as measured here (upper bound)")


@dataclass
class Analysis:
    """Everything ``edgecnn analyze`` reports, usable from Python (``edgecnn build`` uses it)."""

    model_path: str
    sha256: str
    flash_bytes: int
    kind: str
    schema_version: int
    inputs: list[TensorInfo]
    outputs: list[TensorInfo]
    layers: list[LayerRow]
    ops: list[tuple[str, int]]
    total_params: int
    total_macs: int
    weight_bytes: int
    float32_weight_bytes: int
    peak_activation_bytes: int
    peak_activation_layer: str
    arena: ArenaFigures | None
    keras: dict | None = None
    notes: list[str] = field(default_factory=list)
    # the model itself, for runtimes that plan from it (not part of the report)
    tflite: TfliteModel | None = field(default=None, repr=False, compare=False)

    def to_dict(self) -> dict:
        d = asdict(replace(self, tflite=None))
        d.pop("tflite")
        if self.arena is not None:
            d["arena"]["host"].pop("raw", None)
        return d

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)


def analyze(model: str | Path | bytes | TfliteModel, keras_model: str | Path | None = None,
            *, measure: bool = True) -> Analysis:
    """Analyze a .tflite model; ``measure=False`` skips the TFLM arena measurement."""
    m = model if isinstance(model, TfliteModel) else read_tflite(model)
    path = "" if isinstance(model, (bytes, bytearray, TfliteModel)) else str(model)
    layers = _layer_rows(m)
    peak, peak_layer = _peak_activation(m)
    const = [t for t in m.tensors if t.is_constant]
    arena = None
    if measure:
        host = measure_arena(m.data)
        arena = ArenaFigures(host, arena_32bit(host))
    notes = []
    if m.kind == "int8-float-io":
        notes.append("full integer inside, float32 at the input and output (QUANTIZE and "
                     "DEQUANTIZE, which TFLM runs): the board is sent 4 bytes per input value; "
                     "`edgecnn quantize` makes int8 edges, a quarter of the bytes")
    elif m.kind != "int8":
        notes.append(f"this is a {m.kind} model: microcontrollers run full-integer int8 models "
                     "far faster and smaller; quantize it with `edgecnn quantize`")
    if any(op.opcode.name == "MEAN" for op in m.operators):
        notes.append("MEAN (global average pooling as a reduction) is computed one step "
                     "differently by the Feb-2023 Arduino TFLM library; AveragePooling2D over "
                     "the whole map converts to AVERAGE_POOL_2D, which matches bit for bit")
    if m.subgraph_count > 1:
        notes.append(f"the model has {m.subgraph_count} subgraphs; only the first is analyzed")
    return Analysis(
        tflite=m, model_path=path, sha256=m.sha256, flash_bytes=m.size, kind=m.kind,
        schema_version=m.schema_version,
        inputs=[_info(m.tensors[i]) for i in m.inputs],
        outputs=[_info(m.tensors[i]) for i in m.outputs],
        layers=layers, ops=[(oc.name, oc.version) for oc in m.used_op_codes],
        total_params=sum(r.params for r in layers), total_macs=sum(r.macs for r in layers),
        weight_bytes=sum(t.nbytes for t in const),
        float32_weight_bytes=sum(t.elements * 4 for t in const),
        peak_activation_bytes=peak, peak_activation_layer=peak_layer, arena=arena,
        keras=_keras_summary(keras_model) if keras_model else None, notes=notes)


def arena_32bit(host: ArenaMeasurement) -> int:
    """The host recording-allocator figure corrected to 32-bit struct sizes (see module docs)."""
    tail = host.tail
    for name, ratio in STRUCT_RATIO_32BIT.items():
        cat = host.categories.get(name)
        if cat:
            tail -= cat["used"] - _align(math.ceil(cat["requested"] * ratio))
    return _align(host.head) + _align(tail)


def _align(n: int) -> int:
    return (n + ALIGNMENT - 1) // ALIGNMENT * ALIGNMENT


def _info(t) -> TensorInfo:
    return TensorInfo(t.name, t.shape, t.dtype, t.scales[0] if t.scales else None,
                      t.zero_points[0] if t.zero_points else None)


def _kernel_and_stride(m: TfliteModel, op: Operator):
    name, o = op.opcode.name, op.options
    if name in ("CONV_2D", "DEPTHWISE_CONV_2D"):
        w = m.tensors[op.inputs[1]].shape  # [out, kh, kw, in] or [1, kh, kw, out]
        dh, dw = o.get("dilationHFactor", 1) or 1, o.get("dilationWFactor", 1) or 1
        stride = (o.get("strideH", 1), o.get("strideW", 1))
        return ((w[1] - 1) * dh + 1, (w[2] - 1) * dw + 1), stride
    if name in ("AVERAGE_POOL_2D", "MAX_POOL_2D", "L2_POOL_2D"):
        return (o.get("filterHeight", 1), o.get("filterWidth", 1)), (o.get("strideH", 1),
                                                                     o.get("strideW", 1))
    return None, None


def _padding(op: Operator) -> str | None:
    if "padding" not in op.options:
        return None
    return "same" if op.options["padding"] == 0 else "valid"  # TFLite Padding enum: SAME=0


def _macs(m: TfliteModel, op: Operator) -> int:
    if not op.outputs:      # ASSIGN_VARIABLE, CALL_ONCE: no output, no arithmetic
        return 0
    out = m.tensors[op.outputs[0]]
    name = op.opcode.name
    if name == "CONV_2D":
        w = m.tensors[op.inputs[1]].shape
        return out.elements * w[1] * w[2] * w[3]
    if name == "DEPTHWISE_CONV_2D":
        w = m.tensors[op.inputs[1]].shape
        return out.elements * w[1] * w[2]
    if name == "FULLY_CONNECTED":
        return out.elements * m.tensors[op.inputs[1]].shape[-1]
    return 0


def _layer_rows(m: TfliteModel) -> list[LayerRow]:
    # receptive field and jump (input pixels between neighbouring outputs) per tensor, (h, w)
    rf: dict[int, tuple[tuple[int, ...], tuple[int, ...]]] = {}
    for i in m.inputs:
        rf[i] = ((1, 1), (1, 1))
    full = m.input_tensor().shape[1:3] if len(m.input_tensor().shape) == 4 else None
    rows = []
    r: tuple[tuple[int, ...], tuple[int, ...]] | None
    for op in m.operators:
        kernel, stride = _kernel_and_stride(m, op)
        sources = [rf[i] for i in op.inputs if i in rf]
        if kernel and sources:
            (rh, rw), (jh, jw) = sources[0]
            r = ((rh + (kernel[0] - 1) * jh, rw + (kernel[1] - 1) * jw),
                 (jh * stride[0], jw * stride[1]))
        elif op.opcode.name == "FULLY_CONNECTED" and full is not None:
            r = (tuple(full), (0, 0))  # every output sees the whole input
        elif sources:
            r = (tuple(max(s[0][k] for s in sources) for k in (0, 1)),
                 tuple(max(s[1][k] for s in sources) for k in (0, 1)))
        else:
            r = None
        if r is not None and full is not None:
            r = ((min(r[0][0], full[0]), min(r[0][1], full[1])), r[1])
        for o in op.outputs:
            if r is not None:
                rf[o] = r
        out = m.tensors[op.outputs[0]] if op.outputs else None
        params = sum(m.tensors[i].elements for i in op.inputs if i >= 0 and m.tensors[i].is_constant
                     and op.opcode.name in ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED",
                                            "TRANSPOSE_CONV", "PRELU", "SVDF"))
        rows.append(LayerRow(op.index, out.name if out else f"({op.opcode.name.lower()})",
                             op.opcode.name, op.opcode.version, out.shape if out else (),
                             params, _macs(m, op), sum(m.tensors[o].nbytes for o in op.outputs),
                             r[0] if r is not None and full is not None else None,
                             kernel, stride, m.tensors[op.inputs[0]].shape if op.inputs else (),
                             _padding(op)))
    return rows


def _peak_activation(m: TfliteModel) -> tuple[int, str]:
    """Largest sum of live activation tensors at any op (no buffer sharing): a lower bound
    that a perfect planner could reach, to set beside TFLM's measured head."""
    first, last = {}, {}
    for i in m.inputs:
        first[i] = -1
    n = len(m.operators)
    for op in m.operators:
        for t in op.inputs:
            if t >= 0 and not m.tensors[t].is_constant:
                last[t] = op.index
        for t in op.outputs:
            first.setdefault(t, op.index)
    for t in m.outputs:
        last[t] = n
    peak, where = 0, ""
    for op in m.operators:
        live = sum(m.tensors[t].nbytes for t in first
                   if first[t] <= op.index <= last.get(t, first[t]))
        if live > peak:
            peak, where = live, (m.tensors[op.outputs[0]].name if op.outputs
                                 else op.opcode.name)
    return peak, where


def _keras_summary(path) -> dict:
    from .quantize import load_keras_model

    model = load_keras_model(path)
    return {"path": str(path), "params": int(model.count_params()),
            "trainable_params": int(sum(int(w.numpy().size) for w in model.trainable_weights)),
            "layers": len(model.layers), "input_shape": list(model.input_shape[1:])}


def format_table(a: Analysis) -> str:
    """The human-readable report printed by ``edgecnn analyze``."""
    lines = [f"model      {a.model_path or '(bytes)'}  sha256 {a.sha256[:16]}…  {a.kind}",
             f"input      {_tensor_text(a.inputs[0])}",
             f"output     {_tensor_text(a.outputs[0])}", ""]
    header = f"{'#':>3} {'op':<22} {'output shape':<16} {'params':>9} {'MACs':>11} " \
             f"{'act bytes':>10} {'RF':>7}  name"
    lines += [header, "-" * len(header)]
    for r in a.layers:
        rf = f"{r.receptive_field[0]}x{r.receptive_field[1]}" if r.receptive_field else "-"
        shape = "x".join(str(d) for d in r.output_shape)
        lines.append(f"{r.index:>3} {r.op + ' v' + str(r.version):<22} {shape:<16} "
                     f"{r.params:>9,} {r.macs:>11,} {r.activation_bytes:>10,} {rf:>7}  "
                     f"{_short(r.name)}")
    lines += ["", f"parameters        {a.total_params:,}",
              f"MACs              {a.total_macs:,}",
              f"flash (.tflite)   {a.flash_bytes:,} B",
              f"weights           {a.weight_bytes:,} B as stored; {a.float32_weight_bytes:,} B "
              f"as float32 ({a.float32_weight_bytes / max(1, a.weight_bytes):.1f}x)",
              f"peak activations  {a.peak_activation_bytes:,} B (live tensors, no sharing; at "
              f"{_short(a.peak_activation_layer)})",
              "ops               " + ", ".join(f"{n} v{v}" for n, v in a.ops)]
    if a.arena:
        h = a.arena.host
        lines += [f"tensor arena      {h.total:,} B measured by TFLM's recording allocator on this "
                  f"64-bit host (head {h.head:,} + tail {h.tail:,}): an upper bound for "
                  "32-bit MCUs",
                  f"arena, 32-bit     {a.arena.device_32bit:,} B derived ({a.arena.method})"]
    if a.keras:
        lines.append(f"keras             {a.keras['params']:,} parameters in {a.keras['layers']} "
                     f"layers ({a.keras['path']})")
    lines += [f"note: {n}" for n in a.notes]
    return "\n".join(lines)


def _tensor_text(t: TensorInfo) -> str:
    q = f" scale {t.scale:.6g} zero point {t.zero_point}" if t.scale is not None else ""
    return f"{'x'.join(str(d) for d in t.shape)} {t.dtype}{q}"


def _short(name: str, width: int = 48) -> str:
    name = name.split(";")[0]
    return name if len(name) <= width else "…" + name[-(width - 1):]
