"""``edgecnn build``: from data or a ready model to a complete PlatformIO project.

Example:
    >>> import edgecnn
    >>> r = edgecnn.build("nano33", model="model.tflite", out="nano33_project")  # doctest: +SKIP
    >>> r.fit.fits, r.arena.allocated_bytes                                      # doctest: +SKIP
    (True, 17152)
"""
from __future__ import annotations

import datetime as _dt
import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from . import __version__
from .analyze import Analysis, analyze
from .artifacts import TensorSpec, TestVectorSet
from .boards import Board, load_board
from .codegen.carray import c_identifier
from .codegen.context import (
    PROTOCOL_VERSION,
    FirmwareContext,
    ProtocolContext,
    model_context,
    protocol_context,
)
from .codegen.project import (
    Updated,
    check_destination,
    install_project,
    render_project,
    write_files,
    write_manifest,
)
from .errors import FitError, ModelFileError, OptionError
from .fit import FitReport, check_fit, require_fit
from .fsutil import require_file, staging_dir
from .manifest import (
    ArenaEntry,
    BoardEntry,
    FirmwareEntry,
    LibraryEntry,
    Manifest,
    ModelEntry,
    OpEntry,
    PartEntry,
    VectorsEntry,
)
from .metadata import ModelMeta
from .mlperf_profiles import mlperf_profile
from .modelsource import obtain_model
from .runtimes import ArenaPlan, Compatibility, Runtime, runtime_for
from .testvectors import make_test_vectors
from .tflite_model import TfliteModel, read_tflite

PROTOCOLS = ("edgecnn", "mlperf-tiny")
MLPERF_MODEL_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,32}\Z")


@dataclass
class BuildResult:
    project: Path
    board: Board
    analysis: Analysis
    arena: ArenaPlan
    fit: FitReport
    manifest: Manifest
    warnings: list[str] = field(default_factory=list)
    installed: Updated | None = None

    @property
    def flash_command(self) -> str:
        return f"pio run -d {self.project} -e {self.board.env_name} -t upload"


def build(board: str | Board, model: str | Path | None = None, out: str | Path | None = None,
          *, force: bool = False, arduino: bool = False, arena_bytes: int | None = None,
          dataset: str = "fashion_mnist", arch: str = "edge_cnn", epochs: int = 12,
          train_samples: int | None = None, seed: int = 0, verbose: int = 0,
          retrain: bool = False, runtime: str | None = None, protocol: str = "edgecnn",
          mlperf_model: str | None = None,
          log: Callable[[str], None] = lambda s: None) -> BuildResult:
    """Build a PlatformIO project for ``board``.

    ``model`` is a ``.tflite`` (used as is), a ``.keras`` (quantized first) or ``None`` (train
    ``arch`` on ``dataset`` first, or reuse the model a build with the same settings trained:
    see :mod:`edgecnn.cache`; ``retrain`` trains anyway). ``runtime`` is one the board lists
    (default: its first); ``protocol`` is ``edgecnn`` or ``mlperf-tiny`` (the MLCommons DUT
    API, ``mlperf_model`` being what it reports as the model; default the model's name).
    Everything is written to a temporary folder beside ``out`` and moved into place only when
    complete.
    """
    board = board if isinstance(board, Board) else load_board(board)
    rt = runtime_for(board, runtime)
    if protocol not in PROTOCOLS:
        raise OptionError(f"unknown protocol {protocol!r}; edgecnn speaks {', '.join(PROTOCOLS)}")
    if mlperf_model is not None and not MLPERF_MODEL_NAME.match(mlperf_model):
        raise OptionError(f"--mlperf-model {mlperf_model!r}: use 1-32 letters, digits, '_', '.' "
                          "or '-' (the runner knows kws01, vww01, ad01, ic01)")
    if mlperf_model is not None and protocol != "mlperf-tiny":
        raise OptionError(f"--mlperf-model {mlperf_model} names the model of the MLPerf Tiny "
                          "protocol: add --protocol mlperf-tiny, or leave --mlperf-model out")
    model_path = Path(model) if model is not None else None
    if model_path is not None and model_path.suffix not in (".tflite", ".keras"):
        raise ModelFileError(f"{model_path} is neither a .tflite nor a .keras model")
    if model_path is not None:
        require_file(model_path, "a model file")
    name = model_path.stem if model_path else arch
    out = Path(out) if out else Path.cwd() / f"{board.name}_{c_identifier(name)}"
    check_destination(out, force)   # fail before any slow work
    staged = staging_dir(out)
    try:
        tflite, meta = obtain_model(model_path, staged / "model", dataset=dataset, arch=arch,
                                    epochs=epochs, train_samples=train_samples, seed=seed,
                                    verbose=verbose, log=log, retrain=retrain)
        m = read_tflite(tflite)
        compatibility = rt.check(m, board, force=force)
        warnings = list(compatibility.warnings)
        log(f"analyzing the model and planning its memory for {rt.title} ...")
        analysis = analyze(m)
        analysis.model_path = str(model_path) if model_path else f"{arch} trained on {dataset}"
        arena = rt.plan_memory(analysis, board)
        if arena_bytes:
            if arena_bytes < arena.device_need_bytes:
                message = (f"--arena {arena_bytes:,} is below the {arena.device_need_bytes:,} B "
                           f"this model needs on {board.name} ({arena.method}): AllocateTensors "
                           "would fail on the board")
                if not force:
                    raise FitError(message + "; leave --arena out to use the measured size, or "
                                             "pass --force to build it anyway")
                warnings.append(message)
            arena.allocated_bytes = int(-(-arena_bytes // 16) * 16)
        fit = check_fit(analysis, board, arena)
        require_fit(fit, force)
        if not fit.fits:
            warnings.append(fit.failure_message().replace(". Use --force to build anyway", ""))
        io = TensorSpec.of(m.input_tensor()), TensorSpec.of(m.output_tensor())
        benchmark = mlperf_profile(mlperf_model or c_identifier(name))
        if protocol == "mlperf-tiny":
            benchmark.check(*io)
        vectors = make_test_vectors(*io, meta, rt.reference(m.data))
        wire = protocol_context(protocol, benchmark.model, benchmark,
                                benchmark.db_bytes(io[0]))
        runtime_context = rt.template_context(board, analysis)
        manifest = make_manifest(board, rt, m, io, analysis, arena, fit, meta, vectors, name,
                                 compatibility, wire, runtime_context.op_events)
        context = FirmwareContext(
            __version__, board, runtime_context, wire,
            model_context(name, m.data, m.sha256, len(m.operators), *io), arena, vectors,
            arduino_sketch=c_identifier(name) if arduino else None)
        # The exact bytes compiled into the firmware: the harness and the virtual board read them.
        (staged / "model").mkdir(exist_ok=True)
        (staged / "model" / "model.tflite").write_bytes(tflite)
        vectors.write(staged / "model" / "test_vectors.json")
        if meta is not None:
            meta.save(staged / "model" / "model.json")
        write_files(staged, render_project(context, rt))
        write_manifest(staged, manifest)
        installed = install_project(staged, out, force)
    finally:
        if staged.exists():
            shutil.rmtree(staged, ignore_errors=True)
    return BuildResult(out, board, analysis, arena, fit, manifest, warnings, installed)


def make_manifest(board: Board, rt: Runtime, m: TfliteModel, io: tuple[TensorSpec, TensorSpec],
                  analysis: Analysis, arena: ArenaPlan, fit: FitReport, meta: ModelMeta | None,
                  vectors: TestVectorSet, name: str, compatibility: Compatibility,
                  wire: ProtocolContext, op_events: bool) -> Manifest:
    from importlib.metadata import PackageNotFoundError, version

    def pkg(name: str) -> str | None:
        try:
            return version(name)
        except PackageNotFoundError:
            return None

    return Manifest(
        edgecnn_version=__version__,
        created=_dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        board=BoardEntry(board.name, board.title, board.mcu, board.clock_hz, board.env_name,
                         board.baud, tuple(board.usb_ids), board.reset_on_open, board.target),
        model=ModelEntry(
            name=name, sha256=m.sha256, bytes=m.size, kind=m.kind,
            ops=tuple(OpEntry(n, v) for n, v in analysis.ops), input=io[0], output=io[1],
            labels=tuple(meta.class_names) if meta else (),
            input_scale=meta.input_scale if meta else None,
            float_accuracy=meta.float_accuracy if meta else None,
            int8_accuracy=meta.int8_accuracy if meta else None,
            params=analysis.total_params, macs=analysis.total_macs),
        arena=ArenaEntry(arena.allocated_bytes, arena.device_need_bytes,
                         tuple(PartEntry(p.label, p.bytes) for p in arena.parts),
                         arena.scratch_bytes, arena.margin, arena.kernels, arena.method),
        firmware=FirmwareEntry(
            wire.name, PROTOCOL_VERSION, rt.name, len(m.operators), op_events, wire.mlperf_model,
            wire.profile.input_format if wire.profile else None,
            wire.profile.result if wire.profile else None,
            wire.db_bytes if wire.profile else None),
        test_vectors=VectorsEntry(len(vectors), vectors.source),
        tflm=LibraryEntry(*rt.library_entry(board)),
        platformio_platform=board.platformio.platform if board.platformio else "none",
        host_versions={"tflite-micro": pkg("tflite-micro"),
                       "tensorflow": pkg("tensorflow-cpu") or pkg("tensorflow")},
        fit=fit.to_dict(), not_bit_exact=compatibility.to_dict())
