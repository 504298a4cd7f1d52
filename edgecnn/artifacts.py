"""The typed records that travel between pipeline stages: tensor specifications with their
quantization parameters (derived once, from the flatbuffer), and the self-check test vectors.

Example:
    >>> q = QuantParams(scale=0.5, zero_point=-3)
    >>> q.dequantize([-3, 1]).tolist()
    [0.0, 2.0]
"""
from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .errors import ProjectError


@dataclass(frozen=True)
class QuantParams:
    """Per-tensor affine quantization: real = (q - zero_point) * scale."""

    scale: float
    zero_point: int

    def dequantize(self, q: Sequence[int] | np.ndarray) -> np.ndarray:
        """As a device computes it: float32 (q - zero_point) times the float32 scale."""
        values = np.asarray(q, dtype=np.int64) - self.zero_point
        return values.astype(np.float32) * np.float32(self.scale)

    def quantize(self, x: np.ndarray, dtype: str = "int8") -> np.ndarray:
        info = np.iinfo(dtype)
        return np.clip(np.round(np.asarray(x) / self.scale + self.zero_point),
                       info.min, info.max).astype(dtype)


@dataclass(frozen=True)
class TensorSpec:
    """A model input or output as the firmware sees it."""

    shape: tuple[int, ...]
    dtype: str
    quant: QuantParams | None

    @classmethod
    def of(cls, tensor: Any) -> TensorSpec:
        """From a :class:`edgecnn.tflite_model.Tensor` (first scale and zero point: model
        inputs and outputs are quantized per tensor)."""
        quant = (QuantParams(float(tensor.scales[0]), int(tensor.zero_points[0]))
                 if tensor.scales else None)
        return cls(tuple(int(d) for d in tensor.shape), tensor.dtype, quant)

    @property
    def elements(self) -> int:
        return int(np.prod(self.shape)) if self.shape else 1

    @property
    def nbytes(self) -> int:
        return self.elements * np.dtype(self.dtype).itemsize

    @property
    def integer(self) -> bool:
        return self.dtype in ("int8", "uint8")

    def to_json(self) -> dict[str, Any]:
        return {"shape": list(self.shape), "dtype": self.dtype,
                "scale": self.quant.scale if self.quant else None,
                "zero_point": self.quant.zero_point if self.quant else None}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> TensorSpec:
        quant = (QuantParams(float(d["scale"]), int(d["zero_point"]))
                 if d.get("scale") is not None else None)
        return cls(tuple(int(x) for x in d["shape"]), str(d["dtype"]), quant)


@dataclass(frozen=True)
class TestVector:
    """One self-check input and the output the host reference computed for it."""

    __test__ = False   # not a pytest test class

    label: int                  # -1 when the input is synthetic
    input: tuple[int, ...]
    output: tuple[int, ...]


@dataclass(frozen=True)
class TestVectorSet:
    __test__ = False

    source: str                 # where the inputs came from, in words
    vectors: tuple[TestVector, ...]

    def __len__(self) -> int:
        return len(self.vectors)

    def to_json(self) -> dict[str, Any]:
        return {"source": self.source,
                "vectors": [{"label": v.label, "input": list(v.input), "output": list(v.output)}
                            for v in self.vectors]}

    def write(self, path: Path) -> None:
        path.write_text(json.dumps(self.to_json()) + "\n", encoding="utf-8")

    @classmethod
    def read(cls, path: Path) -> TestVectorSet:
        try:
            raw = json.loads(path.read_text())
            return cls(str(raw["source"]), tuple(
                TestVector(int(v["label"]), tuple(int(x) for x in v["input"]),
                           tuple(int(x) for x in v["output"])) for v in raw["vectors"]))
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise ProjectError(f"{path} is not a test-vector file edgecnn wrote ({e}); rebuild "
                               "the project") from None

    @classmethod
    def empty(cls, source: str = "none") -> TestVectorSet:
        return cls(source, ())
