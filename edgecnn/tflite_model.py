"""Read a .tflite flatbuffer without TensorFlow, using the schema that ships with tflite-micro.

Example:
    >>> from edgecnn.tflite_model import read_tflite
    >>> m = read_tflite("model.tflite")            # doctest: +SKIP
    >>> [op.name for op in m.op_codes]              # doctest: +SKIP
    ['CONV_2D', 'MAX_POOL_2D', 'FULLY_CONNECTED', 'SOFTMAX']
"""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import numpy as np

from .errors import ModelFileError
from .fsutil import require_file

TFLITE_IDENTIFIER = b"TFL3"
TFLITE_SCHEMA_VERSION = 3
# TensorType enum values of the TFLite schema that a microcontroller model may use.
TENSOR_TYPES = {0: ("float32", 4), 1: ("float16", 2), 2: ("int32", 4), 3: ("uint8", 1),
                4: ("int64", 8), 5: ("string", 0), 6: ("bool", 1), 7: ("int16", 2),
                9: ("int8", 1), 10: ("float64", 8), 16: ("uint32", 4), 17: ("int4", 1)}


@cache
def _schema():
    from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema
    return schema


@cache
def builtin_names() -> dict[int, str]:
    return {v: k for k, v in vars(_schema().BuiltinOperator).items()
            if not k.startswith("_") and isinstance(v, int)}


@dataclass
class Tensor:
    index: int
    name: str
    shape: tuple[int, ...]
    dtype: str
    itemsize: int
    scales: tuple[float, ...]
    zero_points: tuple[int, ...]
    is_constant: bool
    data: bytes | None = field(default=None, repr=False)   # a constant's bytes

    def values(self) -> np.ndarray:
        """A constant's values, shaped (``ModelFileError`` when the tensor has no data)."""
        if self.data is None:
            raise ModelFileError(f"tensor {self.name!r} has no constant data")
        flat = np.frombuffer(self.data, dtype=np.dtype(self.dtype))
        if flat.size != self.elements:
            raise ModelFileError(f"tensor {self.name!r} holds {flat.size} values, its shape "
                                 f"{self.shape} needs {self.elements}")
        return flat.reshape(self.shape)

    @property
    def elements(self) -> int:
        return int(np.prod(self.shape)) if self.shape else 1

    @property
    def nbytes(self) -> int:
        return self.elements * self.itemsize


@dataclass
class OpCode:
    name: str
    version: int
    custom: str | None = None


@dataclass
class Operator:
    index: int
    opcode: OpCode
    inputs: tuple[int, ...]   # -1 marks an absent optional input
    outputs: tuple[int, ...]
    options: dict = field(default_factory=dict)
    options_type: str = "NONE"   # the schema's BuiltinOptions name, e.g. "Conv2DOptions"


@dataclass
class TfliteModel:
    """The facts of a .tflite file that edgecnn needs, in plain Python types."""

    data: bytes
    schema_version: int
    description: str
    op_codes: list[OpCode]
    tensors: list[Tensor]
    operators: list[Operator]
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]
    subgraph_count: int

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()

    @property
    def size(self) -> int:
        return len(self.data)

    def input_tensor(self, i: int = 0) -> Tensor:
        return self.tensors[self.inputs[i]]

    def output_tensor(self, i: int = 0) -> Tensor:
        return self.tensors[self.outputs[i]]

    @property
    def used_op_codes(self) -> list[OpCode]:
        """Op codes the graph uses, in order of first use, one per builtin."""
        seen, out = set(), []
        for op in self.operators:
            key = (op.opcode.name, op.opcode.custom)
            if key not in seen:
                seen.add(key)
                out.append(op.opcode)
        return out

    @property
    def kind(self) -> str:
        """'int8' (full integer), 'int8-float-io' (full integer inside, float32 input and
        output converted by QUANTIZE and DEQUANTIZE at the edges, which TFLM runs), 'float'
        (float32 activations) or 'hybrid' (int8 weights, float32 activations)."""
        edges = self._float_edges()
        io = [self.tensors[i].dtype for i in (*self.inputs, *self.outputs) if i not in edges]
        act_types = {self.tensors[o].dtype for op in self.operators for o in op.outputs
                     if o not in edges}
        weight_types = {self.tensors[i].dtype for op in self.operators for i in op.inputs
                        if i >= 0 and self.tensors[i].is_constant}
        if "float32" in act_types or "float32" in io:
            return "hybrid" if weight_types & {"int8", "uint8"} else "float"
        return "int8-float-io" if edges else "int8"

    def _float_edges(self) -> set[int]:
        """float32 graph inputs read only by QUANTIZE, and float32 graph outputs written by
        DEQUANTIZE: the edges of a full-integer model with float I/O."""
        edges = set()
        for t in self.inputs:
            readers = [op for op in self.operators if t in op.inputs]
            if self.tensors[t].dtype == "float32" and readers and all(
                    op.opcode.name == "QUANTIZE" for op in readers):
                edges.add(t)
        for t in self.outputs:
            writers = [op for op in self.operators if t in op.outputs]
            if self.tensors[t].dtype == "float32" and len(writers) == 1 and \
                    writers[0].opcode.name == "DEQUANTIZE":
                edges.add(t)
        return edges


def read_tflite(source: str | Path | bytes) -> TfliteModel:
    """Parse a .tflite file (path or bytes); raise ``ModelFileError`` when it is not one."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        data, label = bytes(source), "model bytes"
    else:
        path = require_file(source, "a .tflite model")
        data, label = _read_model_file(path), str(path)
    if len(data) == 0:
        raise ModelFileError(f"{label} is empty; expected a .tflite flatbuffer")
    if len(data) < 16 or data[4:8] != TFLITE_IDENTIFIER:
        raise ModelFileError(f"{label} is not a TFLite model (no 'TFL3' identifier); "
                             "pass a .tflite file written by the TFLite converter")
    try:
        return _parse(data)
    except ModelFileError:
        raise
    except Exception as exc:  # the generated flatbuffer reader raises many kinds
        raise ModelFileError(f"{label} is truncated or corrupt: the flatbuffer cannot be "
                             f"read ({type(exc).__name__})") from None


MAX_FLATBUFFER_BYTES = 2**31 - 1   # a flatbuffer's offsets are 32-bit signed


def _read_model_file(path: Path) -> bytes:
    """The file's bytes, after its first 8 bytes showed a TFLite identifier and its size fits a
    flatbuffer: a wrong file of gigabytes is refused without reading it."""
    with open(path, "rb") as f:
        head = f.read(8)
        if len(head) == 8 and head[4:8] != TFLITE_IDENTIFIER:
            return head                      # refused by the identifier check, with its name
        size = os.fstat(f.fileno()).st_size
        if size > MAX_FLATBUFFER_BYTES:
            raise ModelFileError(f"{path} is {size:,} bytes, more than a TFLite flatbuffer can "
                                 "hold (2 GiB): it is not a .tflite model")
        return head + f.read()


def _parse(data: bytes) -> TfliteModel:
    schema = _schema()
    model = schema.ModelT.InitFromObj(schema.Model.GetRootAsModel(data, 0))
    if not model.subgraphs:
        raise ModelFileError("the model has no subgraph")
    names = builtin_names()
    option_names = {v: k for k, v in vars(schema.BuiltinOptions).items()
                    if not k.startswith("_") and isinstance(v, int)}
    op_codes = []
    for oc in model.operatorCodes or []:
        code = max(oc.builtinCode, oc.deprecatedBuiltinCode)
        custom = oc.customCode.decode() if oc.customCode else None
        op_codes.append(OpCode(names.get(code, f"UNKNOWN_{code}"), int(oc.version or 1), custom))
    buffers = model.buffers or []
    sg = model.subgraphs[0]
    tensors = []
    for i, t in enumerate(sg.tensors or []):
        dtype, itemsize = TENSOR_TYPES.get(t.type, (f"type{t.type}", 1))
        q = t.quantization
        scales = tuple(float(s) for s in (q.scale if q is not None and q.scale is not None else ()))
        zps = _ints(q.zeroPoint) if q is not None else ()
        buf = buffers[t.buffer] if t.buffer < len(buffers) else None
        has_data = buf is not None and ((buf.data is not None and len(buf.data) > 0)
                                        or (buf.size or 0) > 0)
        shape = _ints(t.shape)
        raw = None
        if buf is not None and buf.data is not None and len(buf.data) > 0:
            raw = bytes(buf.data)
        elif buf is not None and (buf.size or 0) > 0 and (buf.offset or 0) > 1:
            raw = bytes(data[buf.offset:buf.offset + buf.size])   # stored after the flatbuffer
        tensors.append(Tensor(i, (t.name or b"").decode(errors="replace"), shape, dtype,
                              itemsize, scales, zps, bool(has_data), raw))
    operators = []
    for i, op in enumerate(sg.operators or []):
        if op.opcodeIndex >= len(op_codes):
            raise ModelFileError("an operator refers to a missing op code")
        opts = {}
        if op.builtinOptions is not None:
            opts = {k: v for k, v in vars(op.builtinOptions).items()
                    if isinstance(v, (int, float, bool))}
        operators.append(Operator(i, op_codes[op.opcodeIndex],
                                  _ints(op.inputs), _ints(op.outputs),
                                  opts, option_names.get(int(op.builtinOptionsType or 0),
                                                         f"UNKNOWN_{op.builtinOptionsType}")))
    description = (model.description or b"").decode(errors="replace")
    inputs, outputs = _ints(sg.inputs), _ints(sg.outputs)
    _check_structure(tensors, operators, inputs, outputs)
    return TfliteModel(data, int(model.version), description, op_codes, tensors, operators,
                       inputs, outputs, len(model.subgraphs))


def _ints(values) -> tuple[int, ...]:
    """A flatbuffer vector (a NumPy array or None when absent) as a tuple of ints."""
    return tuple(int(x) for x in (values if values is not None else ()))


# Weight-tensor ranks that edgecnn's analysis relies on (input 1 of these operators).
_WEIGHT_RANKS = {"CONV_2D": 4, "DEPTHWISE_CONV_2D": 4, "FULLY_CONNECTED": 2}


def _check_structure(tensors, operators, inputs, outputs) -> None:
    """Every index in range and every shape plausible: a corrupt file is refused here, in one
    line, instead of failing somewhere later in the analysis."""
    n = len(tensors)
    if not inputs or not outputs:
        raise ModelFileError("the model's main subgraph has no input or no output tensor")
    for kind, indices in (("input", inputs), ("output", outputs)):
        bad = [i for i in indices if not 0 <= i < n]
        if bad:
            raise ModelFileError(f"the model's {kind} refers to tensor {bad[0]}, but it has "
                                 f"{n} tensors: the file is corrupt")
    for t in tensors:
        if any(d < -1 for d in t.shape) or len(t.shape) > 8:
            raise ModelFileError(f"tensor {t.index} ({t.name[:40]}) has an impossible shape "
                                 f"{list(t.shape)}: the file is corrupt")
    for op in operators:
        if any(not -1 <= i < n for i in op.inputs) or any(not 0 <= o < n for o in op.outputs):
            raise ModelFileError(f"operator {op.index} ({op.opcode.name}) refers to a tensor "
                                 f"that does not exist ({n} tensors): the file is corrupt")
        rank = _WEIGHT_RANKS.get(op.opcode.name)
        if rank is not None:
            if len(op.inputs) < 2 or op.inputs[1] < 0 or not op.outputs:
                raise ModelFileError(f"operator {op.index} ({op.opcode.name}) has no weight "
                                     "tensor: the file is corrupt")
            shape = tensors[op.inputs[1]].shape
            if len(shape) != rank:
                raise ModelFileError(f"operator {op.index} ({op.opcode.name}) has weights of "
                                     f"shape {list(shape)}, not {rank}-D: the file is corrupt")
