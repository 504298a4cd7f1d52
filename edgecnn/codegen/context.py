"""The template context: typed records, built from the pipeline's artifacts, that the Jinja
templates read by attribute (``board.baud``, ``arena.allocated_bytes``, ``runtime.ops``).
Templates hold data, loops and conditionals only; the program is in ``firmware/``."""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from ..artifacts import TensorSpec, TestVectorSet
from ..boards import Board
from ..mlperf_profiles import (
    INPUT_AS_SENT,
    INPUT_FLOAT32,
    INPUT_UINT8_MINUS_128,
    RESULT_MSE,
    RESULT_SCORES,
    MlperfProfile,
)
from ..runtimes import ArenaPlan
from .carray import c_identifier

# edgecnn's line protocol as the generated firmware speaks it (EDGECNN_PROTOCOL_VERSION in
# firmware/edgecnn_protocol.h; the harness checks a board's id line against it)
PROTOCOL_VERSION = 3
C_TYPES = {"int8": "int8_t", "uint8": "uint8_t"}


@dataclass(frozen=True)
class ProtocolContext:
    name: str                   # "edgecnn" or "mlperf-tiny"
    title: str
    mlperf_model: str | None    # what "profile%" names as the model (MLPerf Tiny only)
    profile: MlperfProfile | None = None   # its input/result conversions (MLPerf Tiny only)
    db_bytes: int = 0           # what "db load N" announces (MLPerf Tiny only)

    @property
    def mlperf_tiny(self) -> bool:
        return self.name == "mlperf-tiny"

    @property
    def input_macro(self) -> str:
        assert self.profile is not None
        return {INPUT_AS_SENT: "EDGECNN_MLPERF_INPUT_AS_SENT",
                INPUT_UINT8_MINUS_128: "EDGECNN_MLPERF_INPUT_UINT8_MINUS_128",
                INPUT_FLOAT32: "EDGECNN_MLPERF_INPUT_FLOAT32"}[self.profile.input_format]

    @property
    def result_macro(self) -> str:
        assert self.profile is not None
        return {RESULT_SCORES: "EDGECNN_MLPERF_RESULT_SCORES",
                RESULT_MSE: "EDGECNN_MLPERF_RESULT_MSE"}[self.profile.result]


PROTOCOL_TITLES = {
    "edgecnn": "edgecnn line protocol (id, selfcheck, bench, infer, profile)",
    "mlperf-tiny": "MLPerf Tiny device-under-test API (MLCommons runner, performance mode)",
}


def protocol_context(name: str, mlperf_model: str | None,
                     profile: MlperfProfile | None = None, db_bytes: int = 0) -> ProtocolContext:
    if name != "mlperf-tiny":
        return ProtocolContext(name, PROTOCOL_TITLES[name], None)
    return ProtocolContext(name, PROTOCOL_TITLES[name], mlperf_model, profile, db_bytes)


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


def _commentable(text: str) -> str:
    """Printable ASCII only, no line breaks, no comment terminators or line continuations."""
    return re.sub(r"[^\x20-\x7e]", "?", text).replace("*/", "* /").replace("\\", "/")


def comment_safe(text: str) -> str:
    """Text for one // comment."""
    return _commentable(text)[:120]


def comment_lines(text: str, width: int = 96) -> list[str]:
    """Longer text for // comments, wrapped into lines."""
    import textwrap

    return textwrap.wrap(_commentable(text)[:2000], width) or [""]

