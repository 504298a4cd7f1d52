"""The template context: typed records, built from the pipeline's artifacts, that the Jinja
templates read by attribute (``board.baud``, ``arena.allocated_bytes``, ``runtime.ops``).
Templates hold data, loops and conditionals only; the program is in ``firmware/``."""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from ..artifacts import TensorSpec, TestVectorSet
from ..boards import Board
from ..fit import ArenaPlan
from .carray import c_identifier

C_TYPES = {"int8": "int8_t", "uint8": "uint8_t"}


@dataclass(frozen=True)
class ProtocolContext:
    name: str                   # "edgecnn" or "mlperf-tiny"
    title: str
    mlperf_model: str | None    # what "profile%" names as the model (MLPerf Tiny only)

    @property
    def mlperf_tiny(self) -> bool:
        return self.name == "mlperf-tiny"


PROTOCOL_TITLES = {
    "edgecnn": "edgecnn line protocol (id, selfcheck, bench, infer, profile)",
    "mlperf-tiny": "MLPerf Tiny device-under-test API (MLCommons runner, performance mode)",
}


def protocol_context(name: str, mlperf_model: str | None) -> ProtocolContext:
    return ProtocolContext(name, PROTOCOL_TITLES[name],
                           mlperf_model if name == "mlperf-tiny" else None)


@dataclass(frozen=True)
class ModelContext:
    name: str                   # for comments (printable ASCII)
    array_name: str             # C identifier of the model array
    data: bytes
    sha256: str
    operator_count: int
    input: TensorSpec
    output: TensorSpec

    @property
    def bytes(self) -> int:
        return len(self.data)

    @property
    def input_ctype(self) -> str:
        return C_TYPES.get(self.input.dtype, "int8_t")

    @property
    def output_ctype(self) -> str:
        return C_TYPES.get(self.output.dtype, "int8_t")


@dataclass(frozen=True)
class FirmwareContext:
    version: str
    board: Board
    runtime: Any                # the runtime's own context (e.g. runtimes.tflm.TflmContext)
    protocol: ProtocolContext
    model: ModelContext
    arena: ArenaPlan
    vectors: TestVectorSet
    arduino_sketch: str | None = None

    def as_mapping(self) -> dict[str, Any]:
        return {f: getattr(self, f) for f in self.__dataclass_fields__}


def model_context(name: str, data: bytes, sha256: str, operators: int, input: TensorSpec,
                  output: TensorSpec) -> ModelContext:
    return ModelContext(comment_safe(name), f"{c_identifier(name)}_tflite", data, sha256,
                        max(1, operators), input, output)


def comment_safe(text: str) -> str:
    """Text for a // comment: printable ASCII only, no line breaks, no comment terminators."""
    text = re.sub(r"[^\x20-\x7e]", "?", text)
    return text.replace("*/", "* /").replace("\\", "/")[:120]

