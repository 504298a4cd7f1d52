"""``edgecnn build``: from data or a ready model to a complete PlatformIO project.

Example:
    >>> import edgecnn
    >>> r = edgecnn.build("nano33", model="model.tflite", out="nano33_project")  # doctest: +SKIP
    >>> r.fit.fits, r.arena.allocated_bytes                                      # doctest: +SKIP
    (True, 17152)
"""
from __future__ import annotations

import datetime as _dt
import json
import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import __version__
from .analyze import Analysis, analyze
from .boards import ArenaPlan, Board, FitReport, check_fit, load_board, plan_arena, require_fit
from .codegen.carray import byte_rows, c_identifier, int_rows
from .codegen.project import (
    GENERATOR,
    Installed,
    check_destination,
    install_project,
    render_project,
    write_files,
    write_manifest,
)
from .compatibility import Compatibility, check_model
from .errors import FitError, ModelFileError
from .fsutil import require_file, staging_dir
from .harness.protocol import PROTOCOL_VERSION
from .metadata import ModelMeta
from .tflite_model import TfliteModel, read_tflite
from .tflm import HostInterpreter

MAX_VECTOR_BYTES = 32 * 1024   # flash spent on self-check inputs
MAX_VECTORS = 8


@dataclass
class BuildResult:
    project: Path
    board: Board
    analysis: Analysis
    arena: ArenaPlan
    fit: FitReport
    manifest: dict
    warnings: list[str] = field(default_factory=list)
    installed: Installed | None = None

    @property
    def flash_command(self) -> str:
        return f"pio run -d {self.project} -e {self.board.env_name} -t upload"


def build(board: str | Board, model: str | Path | None = None, out: str | Path | None = None,
          *, force: bool = False, arduino: bool = False, arena_bytes: int | None = None,
          dataset: str = "fashion_mnist", arch: str = "edge_cnn", epochs: int = 12,
          train_samples: int | None = None, seed: int = 0, verbose: int = 0,
          retrain: bool = False, log: Callable[[str], None] = lambda s: None) -> BuildResult:
    """Build a PlatformIO project for ``board``.

    ``model`` is a ``.tflite`` (used as is), a ``.keras`` (quantized first) or ``None`` (train
    ``arch`` on ``dataset`` first, or reuse the model a build with the same settings trained:
    see :mod:`edgecnn.cache`; ``retrain`` trains anyway). Everything is written to a
    temporary folder beside ``out``
    and moved into place only when complete.
    """
    board = board if isinstance(board, Board) else load_board(board)
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
        tflite, meta = _obtain_model(model_path, staged / "model", dataset=dataset, arch=arch,
                                     epochs=epochs, train_samples=train_samples, seed=seed,
                                     verbose=verbose, log=log, retrain=retrain)
        m = read_tflite(tflite)
        compatibility = check_model(m, board, force=force)
        warnings = list(compatibility.warnings)
        log("analyzing the model and measuring its arena with TFLite Micro ...")
        analysis = analyze(m)
        analysis.model_path = str(model_path) if model_path else f"{arch} trained on {dataset}"
        arena = plan_arena(analysis, board)
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
        vectors, vectors_source = _test_vectors(m, meta)
        manifest = _manifest(board, m, analysis, arena, fit, meta, vectors_source, len(vectors),
                             name, compatibility)
        context = _context(board, m, analysis, arena, vectors, vectors_source, name)
        # The exact bytes compiled into the firmware: the harness and the virtual board read them.
        (staged / "model").mkdir(exist_ok=True)
        (staged / "model" / "model.tflite").write_bytes(tflite)
        (staged / "model" / "test_vectors.json").write_text(
            json.dumps({"source": vectors_source, "vectors": vectors}) + "\n")
        if meta is not None:
            meta.save(staged / "model" / "model.json")
        files = render_project(context, arduino_sketch=c_identifier(name) if arduino else None)
        write_files(staged, files)
        write_manifest(staged, manifest)
        installed = install_project(staged, out, force)
    finally:
        if staged.exists():
            shutil.rmtree(staged, ignore_errors=True)
    return BuildResult(out, board, analysis, arena, fit, manifest, warnings, installed)


def _obtain_model(model_path, workdir: Path, *, dataset, arch, epochs, train_samples, seed,
                  verbose, log, retrain=False):
    """Return (tflite bytes, metadata or None), training and/or quantizing as needed.

    A model trained here is kept in the trained-model cache (:mod:`edgecnn.cache`) and reused
    by the next build with the same data, architecture, settings and versions, unless
    ``retrain``."""
    if model_path is not None and model_path.suffix == ".tflite":
        return read_tflite(model_path).data, ModelMeta.beside(model_path)
    from .quantize import REPRESENTATIVE_SAMPLES, quantize

    workdir.mkdir(parents=True, exist_ok=True)
    if model_path is None:
        from .cache import ModelCache, TrainingKey
        from .data import load_dataset
        from .train import TrainConfig, train

        ds = load_dataset(dataset)
        if train_samples:
            ds = ds.subset(train_samples)
        config = TrainConfig(epochs=epochs, seed=seed, verbose=verbose)
        cache = ModelCache()
        key = TrainingKey.for_run(ds, arch, config, REPRESENTATIVE_SAMPLES)
        if not retrain:
            cached, problem = cache.lookup(key)
            if problem:
                log(f"warning: {problem}")
            if cached is not None:
                cached.copy_into(workdir)
                t = cached.meta.training
                log(f"reusing {arch} trained on {ds.name} ({t.get('epochs_run')} epochs, "
                    f"{t.get('seconds')} s) from the cache: {cached.path} "
                    "(--retrain trains it again)")
                log(f"int8 test accuracy (TFLite Micro kernels) {cached.meta.int8_accuracy:.4f}")
                return cached.tflite, cached.meta
        log(f"training {arch} on {ds.name} ({len(ds.x_train)} samples, up to {epochs} epochs) ...")
        result = train(arch, ds, config, out=workdir / "model.keras")
        log(f"float test accuracy {result.meta.float_accuracy:.4f}; quantizing to int8 ...")
        q = quantize(result.model, ds, out=workdir / "model.tflite", meta=result.meta)
        if cache.store(key, workdir) is None:
            log(f"warning: could not keep the trained model in the cache {cache.root} "
                "(not writable?); the next build trains again")
    else:
        log(f"quantizing {model_path} to int8 ...")
        q = quantize(model_path, out=workdir / "model.tflite")
    log(f"int8 test accuracy (TFLite Micro kernels) {q.meta.int8_accuracy:.4f}")
    return q.tflite, q.meta


def _test_vectors(m: TfliteModel, meta: ModelMeta | None):
    inp, outp = m.input_tensor(), m.output_tensor()
    if inp.dtype not in ("int8", "uint8") or outp.dtype not in ("int8", "uint8"):
        return [], "none (the self-check needs int8 or uint8 input and output tensors)"
    count = max(1, min(MAX_VECTORS, MAX_VECTOR_BYTES // max(1, inp.nbytes)))
    info = np.iinfo(inp.dtype)
    usable = [s for s in (meta.samples if meta else [])
              if len(s["input"]) == inp.elements
              and all(info.min <= v <= info.max for v in s["input"])][:count]
    samples = [np.asarray(s["input"], dtype=np.int64) for s in usable]
    labels = [int(s["label"]) for s in usable]
    if samples and meta is not None:
        source = f"{len(samples)} real samples from the {meta.dataset or 'image folder'} test split"
    else:
        # A model from elsewhere comes without data: deterministic pseudo-random inputs still
        # prove the device computes what the host computes, bit for bit.
        rng = np.random.default_rng(0)
        samples = [rng.integers(info.min, info.max + 1, inp.elements) for _ in range(count)]
        labels = [-1] * count
        source = (f"{count} synthetic inputs (uniform random {inp.dtype}, seed 0): no data set "
                  "came with this model, so labels are -1")
    interpreter = HostInterpreter(m.data)
    vectors = []
    for x, label in zip(samples, labels, strict=True):
        y = interpreter.run(x.astype(inp.dtype).reshape(inp.shape)).reshape(-1)
        vectors.append({"label": label, "input": x.tolist(), "output": y.astype(int).tolist()})
    return vectors, source


def _manifest(board, m, analysis, arena, fit, meta, vectors_source, n_vectors, name,
              compatibility: Compatibility) -> dict:
    from importlib.metadata import PackageNotFoundError, version

    def pkg(name):
        try:
            return version(name)
        except PackageNotFoundError:
            return None

    io = lambda t: {"shape": list(t.shape), "dtype": t.dtype,  # noqa: E731
                    "scale": t.scales[0] if t.scales else None,
                    "zero_point": t.zero_points[0] if t.zero_points else None}
    return {
        "generator": GENERATOR, "edgecnn_version": __version__,
        "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "board": {"name": board.name, "title": board.title, "mcu": board.mcu,
                  "clock_hz": board.clock_hz, "env": board.env_name, "baud": board.baud,
                  "usb_ids": list(board.usb_ids), "reset_on_open": board.reset_on_open},
        "model": {"name": name, "sha256": m.sha256, "bytes": m.size, "kind": m.kind,
                  "ops": [{"name": n, "version": v} for n, v in analysis.ops],
                  "input": io(m.input_tensor()), "output": io(m.output_tensor()),
                  "labels": list(meta.class_names) if meta else [],
                  "input_scale": meta.input_scale if meta else None,
                  "float_accuracy": meta.float_accuracy if meta else None,
                  "int8_accuracy": meta.int8_accuracy if meta else None,
                  "params": analysis.total_params, "macs": analysis.total_macs},
        "arena": {"allocated_bytes": arena.allocated_bytes,
                  "device_need_bytes": arena.device_need_bytes,
                  "host_measured_bytes": arena.host_bytes,
                  "host_32bit_bytes": arena.host_32bit_bytes,
                  "kernel_scratch_bytes": arena.scratch_bytes, "margin": arena.margin,
                  "kernels": arena.kernels, "method": arena.method},
        "fit": fit.to_dict(),
        # Operators the board's library computes differently from the host reference, built
        # anyway with --force: the device's outputs will not match the host's for these.
        "not_bit_exact": compatibility.to_dict(),
        "test_vectors": {"count": n_vectors, "source": vectors_source},
        "firmware": {"protocol": PROTOCOL_VERSION, "operators": len(m.operators),
                     "profiler": board.tflm.op_profiler},
        "libraries": {"tflm": {"name": board.tflm.library, "version": board.tflm.version,
                               "lib_deps": list(board.tflm.lib_deps)},
                      "platformio_platform": board.platformio.platform,
                      "host": {"tflite-micro": pkg("tflite-micro"),
                               "tensorflow": pkg("tensorflow-cpu") or pkg("tensorflow")}},
    }


def _context(board, m, analysis, arena, vectors, vectors_source, name) -> dict:
    inp, outp = m.input_tensor(), m.output_tensor()
    ctype = {"int8": "int8_t", "uint8": "uint8_t"}
    cycle_flag = {"dwt": "-DEDGECNN_CYCLES_DWT", "ccount": "-DEDGECNN_CYCLES_CCOUNT",
                  "none": "-DEDGECNN_CYCLES_NONE"}[board.cycle_counter]
    return {
        "edgecnn_version": __version__,
        "board_name": board.name, "board_title": board.title, "board_mcu": board.mcu,
        "board_core": board.core, "clock_hz": board.clock_hz,
        "clock_mhz": board.clock_hz // 1_000_000, "baud": board.baud,
        "reset_on_open": board.reset_on_open, "env_name": board.env_name,
        "pio_platform": board.platformio.platform, "pio_board": board.platformio.board,
        "pio_framework": board.platformio.framework,
        "lib_ldf_mode": board.platformio.lib_ldf_mode, "lib_deps": list(board.tflm.lib_deps),
        "build_flags": [cycle_flag, *board.platformio.build_flags],
        "tflm_version": board.tflm.version, "tflm_header": board.tflm.header,
        "tflm_api": board.tflm.api, "kernels": board.tflm.kernels,
        "tflm_library": board.tflm.library,
        "profiler": board.tflm.op_profiler,
        "operator_count": max(1, len(m.operators)),
        "ops": [{"name": n, "method": board.tflm.ops[n]} for n, _ in analysis.ops],
        "arena_bytes": arena.allocated_bytes, "arena_host": arena.host_bytes,
        "arena_32bit": arena.host_32bit_bytes, "arena_scratch": arena.scratch_bytes,
        "arena_need": arena.device_need_bytes, "arena_margin_pct": round(arena.margin * 100),
        "arena_method": arena.method,
        "model_name_comment": _comment_safe(name), "array_name": f"{c_identifier(name)}_tflite",
        "model_bytes": m.size, "model_sha256": m.sha256, "model_rows": byte_rows(m.data),
        "vectors_source": _comment_safe(vectors_source),
        "input_ctype": ctype.get(inp.dtype, "int8_t"),
        "output_ctype": ctype.get(outp.dtype, "int8_t"),
        "output_field": outp.dtype if outp.dtype in ctype else "int8",
        "input_bytes": inp.nbytes, "output_bytes": outp.nbytes,
        "vectors": [{"label": v["label"], "input_rows": int_rows(v["input"]),
                     "output_row": ", ".join(str(x) for x in v["output"])} for v in vectors],
    }


def _comment_safe(text: str) -> str:
    """Text for a // comment: printable ASCII only, no line breaks, no comment terminators."""
    text = re.sub(r"[^\x20-\x7e]", "?", text)
    return text.replace("*/", "* /").replace("\\", "/")[:120]
