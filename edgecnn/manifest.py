"""``edgecnn.json``: what a generated project is, read and written only here.

The manifest is versioned (``schema``): a project written by an edgecnn with another schema is
refused with a message to rebuild it, never half-read.

Example:
    >>> from edgecnn.manifest import read_manifest
    >>> m = read_manifest("nano33_edge_cnn")          # doctest: +SKIP
    >>> m.board.name, m.model.input.quant.scale       # doctest: +SKIP
    ('nano33ble', 0.003921568859368563)
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .artifacts import TensorSpec
from .errors import ProjectError
from .fsutil import plain_relative
from .mlperf_profiles import MlperfProfile, recorded_profile

MANIFEST = "edgecnn.json"
GENERATOR = "edgecnn"
SCHEMA = 4      # 3: MLPerf Tiny projects record their benchmark profile; 4: the arena plan's
#                 parts are labelled by the runtime


@dataclass(frozen=True)
class BoardEntry:
    name: str
    title: str
    mcu: str
    clock_hz: int
    env: str
    baud: int
    usb_ids: tuple[str, ...]
    reset_on_open: str
    target: str = "device"          # "device" or "emulator"


@dataclass(frozen=True)
class OpEntry:
    name: str
    version: int


@dataclass(frozen=True)
class ModelEntry:
    name: str
    sha256: str
    bytes: int
    kind: str
    ops: tuple[OpEntry, ...]
    input: TensorSpec
    output: TensorSpec
    labels: tuple[str, ...] = ()
    input_scale: float | None = None
    float_accuracy: float | None = None
    int8_accuracy: float | None = None
    params: int | None = None
    macs: int | None = None


@dataclass(frozen=True)
class PartEntry:
    label: str
    bytes: int


@dataclass(frozen=True)
class ArenaEntry:
    """The runtime's memory plan (runtimes.ArenaPlan), as the build made it."""

    allocated_bytes: int
    device_need_bytes: int
    parts: tuple[PartEntry, ...]
    kernel_scratch_bytes: int
    margin: float
    kernels: str
    method: str


@dataclass(frozen=True)
class FirmwareEntry:
    protocol: str                   # "edgecnn" or "mlperf-tiny"
    protocol_version: int           # of edgecnn's line protocol
    runtime: str                    # "tflm"
    operators: int
    op_events: bool                 # the runtime reports per-operator timings ("profile")
    mlperf_model: str | None = None
    # MLPerf Tiny: what the firmware does with "db" bytes and prints as m-results
    # (edgecnn.mlperf_profiles), and the bytes "db load N" takes
    mlperf_input: str | None = None
    mlperf_result: str | None = None
    mlperf_db_bytes: int | None = None

    def mlperf_profile(self) -> MlperfProfile | None:
        """The MLPerf Tiny profile the firmware was built with (None for edgecnn's protocol)."""
        if self.protocol != "mlperf-tiny" or self.mlperf_input is None:
            return None
        return recorded_profile(self.mlperf_model or "model", self.mlperf_input,
                                self.mlperf_result or "scores")


@dataclass(frozen=True)
class VectorsEntry:
    count: int
    source: str


@dataclass(frozen=True)
class LibraryEntry:
    name: str
    version: str
    lib_deps: tuple[str, ...]


@dataclass
class Manifest:
    edgecnn_version: str
    created: str
    board: BoardEntry
    model: ModelEntry
    arena: ArenaEntry
    firmware: FirmwareEntry
    test_vectors: VectorsEntry
    tflm: LibraryEntry
    platformio_platform: str
    host_versions: dict[str, str | None]
    fit: dict[str, Any]             # the fit report, for people (FitReport.to_dict())
    # operators the board's library computes differently from the host reference, built anyway
    # with --force: the device's outputs will not match the host's for these
    not_bit_exact: list[dict[str, Any]] = field(default_factory=list)
    files: dict[str, str] = field(default_factory=dict)   # generated path -> SHA-256
    schema: int = SCHEMA
    generator: str = GENERATOR

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["model"]["input"] = self.model.input.to_json()
        d["model"]["output"] = self.model.output.to_json()
        return {"generator": d.pop("generator"), "schema": d.pop("schema"), **d}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Manifest:
        m = dict(d["model"])
        model = ModelEntry(**{**m, "ops": tuple(OpEntry(**o) for o in m["ops"]),
                              "input": TensorSpec.from_json(m["input"]),
                              "output": TensorSpec.from_json(m["output"]),
                              "labels": tuple(m.get("labels") or ())})
        board = dict(d["board"])
        tflm = dict(d["tflm"])
        return cls(
            edgecnn_version=d["edgecnn_version"], created=d["created"],
            board=BoardEntry(**{**board, "usb_ids": tuple(board["usb_ids"])}),
            model=model, arena=ArenaEntry(**{**d["arena"], "parts": tuple(
                PartEntry(**p) for p in d["arena"]["parts"])}),
            firmware=FirmwareEntry(**d["firmware"]),
            test_vectors=VectorsEntry(**d["test_vectors"]),
            tflm=LibraryEntry(**{**tflm, "lib_deps": tuple(tflm["lib_deps"])}),
            platformio_platform=d["platformio_platform"], host_versions=d["host_versions"],
            fit=d["fit"], not_bit_exact=list(d.get("not_bit_exact", [])),
            files=dict(d.get("files", {})), schema=d["schema"], generator=d["generator"])

    def write(self, folder: Path) -> None:
        (folder / MANIFEST).write_text(json.dumps(self.to_json(), indent=2) + "\n",
                                       encoding="utf-8")


def raw_manifest(folder: Path) -> dict[str, Any] | None:
    """The manifest as JSON when ``folder`` holds one edgecnn wrote (any schema), else None."""
    try:
        d = json.loads((Path(folder) / MANIFEST).read_text())
    except (OSError, ValueError):
        return None
    return d if isinstance(d, dict) and d.get("generator") == GENERATOR else None


def read_manifest(folder: str | Path) -> Manifest:
    """The manifest of a project ``edgecnn build`` wrote; ``ProjectError`` when there is none,
    or when it was written with another schema."""
    folder = Path(folder)
    d = raw_manifest(folder)
    if d is None:
        raise ProjectError(f"{folder} has no {MANIFEST} written by edgecnn; build one with "
                           "`edgecnn build --board BOARD --out DIR`")
    if d.get("schema") != SCHEMA:
        raise ProjectError(f"{folder / MANIFEST} has schema {d.get('schema', 1)}, this edgecnn "
                           f"reads schema {SCHEMA}: rebuild the project with "
                           "`edgecnn build ... --force` (your own files are kept)")
    try:
        manifest = Manifest.from_json(d)
    except (KeyError, TypeError, ValueError) as e:
        raise ProjectError(f"{folder / MANIFEST} is damaged ({type(e).__name__}: {e}); rebuild "
                           "the project with `edgecnn build ... --force`") from None
    for rel in manifest.files:
        if not plain_relative(rel):
            raise ProjectError(f"{folder / MANIFEST} names {str(rel)[:80]!r}, which is not a "
                               "file inside the project: the manifest was edited or damaged; "
                               "build the project again into a new folder")
    return manifest
