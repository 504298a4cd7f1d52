"""Per-tensor re-quantization of dense weights in a ready int8 ``.tflite``.

TensorFlow >= 2.16 quantizes FULLY_CONNECTED weights per output channel; the TFLM libraries
pinned for the boards apply one scale per weight tensor. For a model with no Keras source
(a third-party ``.tflite``) this rewrites each per-channel dense weight tensor with one scale,
``s = max(s_c)``: ``w' = round(w * s_c / s)`` and ``bias' = round(bias * s_c / s)`` (the bias
scale is input scale x weight scale). The model then computes the same on the host and on the
boards; its accuracy is that of the new model, which ``edgecnn build`` verifies as any other.

Example:
    >>> data, layers = per_tensor_dense(open("model.tflite", "rb").read())   # doctest: +SKIP
    >>> [(l.layer, l.channels) for l in layers]                               # doctest: +SKIP
    [('dense', 64), ('logits', 10)]
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import ModelFileError, UnsupportedModelError
from .tflite_model import read_tflite


@dataclass(frozen=True)
class RequantizedLayer:
    op_index: int
    layer: str
    channels: int
    scale: float          # the one scale the weights now have (the largest channel scale)


def per_tensor_dense(source: bytes) -> tuple[bytes, list[RequantizedLayer]]:
    """Return the model bytes with every per-channel FULLY_CONNECTED weight tensor made
    per-tensor, and what changed. A model without such layers comes back unchanged."""
    import flatbuffers

    from .tflite_model import _schema

    read_tflite(source)   # a clear error for anything that is not a readable .tflite
    schema = _schema()
    model = schema.ModelT.InitFromObj(schema.Model.GetRootAsModel(source, 0))
    names = {v: k for k, v in vars(schema.BuiltinOperator).items() if isinstance(v, int)}
    changed = []
    for graph in model.subgraphs or []:
        for index, op in enumerate(graph.operators or []):
            code = model.operatorCodes[op.opcodeIndex]
            if names.get(max(code.builtinCode, code.deprecatedBuiltinCode)) != "FULLY_CONNECTED":
                continue
            inputs = list(op.inputs)
            weights = graph.tensors[inputs[1]]
            q = weights.quantization
            if q is None or q.scale is None or len(q.scale) <= 1:
                continue
            if weights.type != schema.TensorType.INT8:
                raise UnsupportedModelError(
                    f"FULLY_CONNECTED operator {index} has per-channel weights of a type other "
                    "than int8; edgecnn can re-quantize int8 weights only")
            scales = np.asarray(q.scale, dtype=np.float64)
            shape = tuple(int(d) for d in weights.shape)
            w = _buffer_array(model, weights.buffer, np.int8, shape, "weights")
            target = float(scales.max())
            ratio = (scales / target).reshape(-1, *([1] * (len(shape) - 1)))
            new_w = np.clip(np.round(w * ratio), -127, 127).astype(np.int8)
            weights.buffer = _new_buffer(model, new_w.tobytes())
            q.scale, q.zeroPoint, q.quantizedDimension = [target], [0], 0
            if len(inputs) > 2 and inputs[2] >= 0:
                bias = graph.tensors[inputs[2]]
                if bias.buffer and _has_data(model, bias.buffer):
                    b = _buffer_array(model, bias.buffer, np.int32, (len(scales),), "bias")
                    new_b = np.round(b * (scales / target)).astype(np.int64)
                    bias.buffer = _new_buffer(model, np.clip(new_b, -2**31, 2**31 - 1)
                                              .astype("<i4").tobytes())
                    if bias.quantization is not None and bias.quantization.scale is not None:
                        input_scale = _input_scale(graph, inputs[0])
                        bias.quantization.scale = [input_scale * target]
                        bias.quantization.zeroPoint = [0]
                        bias.quantization.quantizedDimension = 0
            name = weights.name.decode(errors="replace") if weights.name else ""
            out_name = graph.tensors[op.outputs[0]].name
            changed.append(RequantizedLayer(
                index, (out_name.decode(errors="replace") if out_name else name).split(";")[0],
                len(scales), target))
    if not changed:
        return bytes(source), []
    builder = flatbuffers.Builder(len(source) + 1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    data = bytes(builder.Output())
    read_tflite(data)
    return data, changed


def _has_data(model, index: int) -> bool:
    buf = model.buffers[index]
    return buf.data is not None and len(buf.data) > 0


def _buffer_array(model, index: int, dtype, shape, what: str) -> np.ndarray:
    buf = model.buffers[index]
    if buf.data is None or len(buf.data) == 0:
        raise ModelFileError(f"the dense {what} are not stored in the model's buffers "
                             "(external or offset buffers are not supported)")
    array = np.frombuffer(bytes(bytearray(buf.data)), dtype=np.dtype(dtype).newbyteorder("<"))
    if array.size != int(np.prod(shape)):
        raise ModelFileError(f"the dense {what} buffer does not match its tensor's shape")
    return array.reshape(shape).astype(dtype)


def _new_buffer(model, data: bytes) -> int:
    """Append a buffer (never edit one in place: another tensor may share it)."""
    from .tflite_model import _schema

    buf = _schema().BufferT()
    buf.data = np.frombuffer(data, dtype=np.uint8).copy()
    model.buffers.append(buf)
    return len(model.buffers) - 1


def _input_scale(graph, tensor_index: int) -> float:
    q = graph.tensors[tensor_index].quantization
    if q is None or not q.scale:
        raise UnsupportedModelError("a dense layer's input has no quantization scale; this is "
                                    "not a full-integer model")
    return float(q.scale[0])


def requantize_file(model: str | Path, out: str | Path | None = None, *,
                    force: bool = False) -> tuple[Path, list[RequantizedLayer]]:
    """Write ``MODEL_per_tensor.tflite`` (or ``out``) beside ``model``; never replace a file
    without ``force``. The model's ``.json`` metadata is copied with its int8 accuracy cleared
    (it belonged to the old weights)."""
    from .errors import OutputExistsError
    from .fsutil import atomic_write_bytes
    from .metadata import ModelMeta

    source = Path(model)
    data, layers = per_tensor_dense(read_tflite(source).data)
    target = Path(out) if out else source.with_name(source.stem + "_per_tensor.tflite")
    if target.resolve() == source.resolve():
        raise OutputExistsError("--out must differ from the model: edgecnn never replaces the "
                                "original")
    for path in (target, target.with_suffix(".json")):
        if path.exists() and not force:
            raise OutputExistsError(f"{path} exists; pass --force to replace it, or --out "
                                    "another file")
    atomic_write_bytes(target, data)
    meta = ModelMeta.beside(source)
    if meta is not None:
        meta.int8_accuracy = meta.int8_agreement = None
        meta.save(target.with_suffix(".json"))
    return target, layers
