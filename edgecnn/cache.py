"""Trained models, kept once: a second ``edgecnn build`` for another board trains nothing.

An entry is keyed by everything that determines the trained and quantized model: the data
(a hash of its arrays and class names), the architecture and its parameters, the training and
quantization settings, the seed, and the versions of edgecnn, TensorFlow, Keras and
tflite-micro, plus a hash of edgecnn's own recipe sources (so a changed recipe never reuses an
old model). Entries live under ``$EDGECNN_CACHE_DIR`` or the user's cache directory
(``platformdirs.user_cache_dir("edgecnn")``), one folder per key::

    models/<key>/model.keras  model.tflite  model.json  model.history.json  key.json

Example:
    >>> from edgecnn.cache import cache_root
    >>> cache_root().name in ("edgecnn", "cache") or True
    True
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from dataclasses import asdict, dataclass, field, fields
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import numpy as np

from . import __version__
from .data import Dataset
from .metadata import ModelMeta
from .tflite_model import read_tflite
from .userdirs import cache_root

ENTRY_FILES = ("model.keras", "model.tflite", "model.json", "model.history.json")
# The modules whose code decides what a given key trains to.
_RECIPE_MODULES = ("zoo.py", "train.py", "quantize.py", "data.py")


def data_fingerprint(ds: Dataset) -> str:
    """A hash of every split's pixels and labels and of the facts that travel with the data."""
    h = hashlib.sha256()
    h.update(json.dumps([ds.name, list(ds.class_names), ds.input_scale,
                         list(ds.augmentations)]).encode())
    for array in (ds.x_train, ds.y_train, ds.x_val, ds.y_val, ds.x_test, ds.y_test):
        a = np.ascontiguousarray(array)
        h.update(f"{a.dtype}{a.shape}".encode())
        h.update(a.data.cast("B"))
    return h.hexdigest()


def _recipe_fingerprint() -> str:
    here = Path(__file__).parent
    h = hashlib.sha256()
    for name in _RECIPE_MODULES:
        h.update(name.encode())
        h.update((here / name).read_bytes())
    return h.hexdigest()[:16]


def _pkg(name: str) -> str | None:
    try:
        return version(name)
    except PackageNotFoundError:
        return None


@dataclass(frozen=True)
class TrainingKey:
    """Everything that decides a trained, quantized model; its digest names the entry."""

    data: str
    arch: str
    # every TrainConfig field but verbosity (architecture parameters among them), as reprs
    training: tuple = ()
    representative_samples: int = 0
    versions: dict = field(default_factory=dict)

    @classmethod
    def for_run(cls, ds: Dataset, arch: str, config, representative_samples: int) -> TrainingKey:
        """The key of training ``arch`` on ``ds`` with ``config`` (a TrainConfig): derived from
        all of its fields, so a setting added to TrainConfig is part of the key by itself."""
        settings = {f.name: getattr(config, f.name) for f in fields(config) if f.name != "verbose"}
        settings["arch_params"] = sorted((k, repr(v)) for k, v in config.arch_params.items())
        return cls(
            data=data_fingerprint(ds), arch=arch,
            training=tuple(sorted((k, repr(v)) for k, v in settings.items())),
            representative_samples=representative_samples,
            versions={"edgecnn": __version__, "recipe": _recipe_fingerprint(),
                      "tensorflow": _pkg("tensorflow-cpu") or _pkg("tensorflow"),
                      "keras": _pkg("keras"), "tflite-micro": _pkg("tflite-micro")})

    def to_dict(self) -> dict:
        d = asdict(self)
        d["training"] = [list(p) for p in self.training]
        return d

    @property
    def digest(self) -> str:
        return hashlib.sha256(json.dumps(self.to_dict(), sort_keys=True).encode()).hexdigest()[:24]


@dataclass
class CachedModel:
    """One complete entry: the files of a trained and quantized model."""

    path: Path
    key: TrainingKey
    tflite: bytes
    meta: ModelMeta

    @property
    def keras_path(self) -> Path:
        return self.path / "model.keras"

    def copy_into(self, folder: Path) -> None:
        """Copy the entry's model files into ``folder`` (a build's model/ folder)."""
        folder.mkdir(parents=True, exist_ok=True)
        for name in ENTRY_FILES:
            shutil.copyfile(self.path / name, folder / name)


class ModelCache:
    """The trained-model cache under ``root`` (default: :func:`cache_root`)."""

    def __init__(self, root: str | Path | None = None):
        self.root = Path(root) if root is not None else cache_root()

    def entry_path(self, key: TrainingKey) -> Path:
        return self.root / "models" / key.digest

    def lookup(self, key: TrainingKey) -> tuple[CachedModel | None, str | None]:
        """The complete entry for ``key``, or (None, why not) when there is none or it is
        damaged: a damaged entry is removed so that the next store replaces it."""
        path = self.entry_path(key)
        if not path.is_dir():
            return None, None
        try:
            recorded = json.loads((path / "key.json").read_text())
            if recorded.get("key") != key.to_dict():
                raise ValueError("its key.json describes another model")
            tflite = (path / "model.tflite").read_bytes()
            if hashlib.sha256(tflite).hexdigest() != recorded.get("tflite_sha256"):
                raise ValueError("model.tflite does not match the hash recorded with it")
            read_tflite(tflite)
            meta = ModelMeta.load(path / "model.json")
            for name in ENTRY_FILES:
                if not (path / name).is_file():
                    raise ValueError(f"{name} is missing")
        except Exception as exc:  # any damage at all means: train again
            shutil.rmtree(path, ignore_errors=True)
            return None, f"the cached model in {path} was damaged ({exc}); training again"
        return CachedModel(path, key, tflite, meta), None

    def store(self, key: TrainingKey, folder: Path) -> Path | None:
        """Copy a finished run's files from ``folder`` into the cache, atomically: a reader
        sees a complete entry or none. Returns None (and caches nothing) when the cache folder
        cannot be written: a cache must never fail a build."""
        path = self.entry_path(key)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            staged = Path(tempfile.mkdtemp(prefix=f".{key.digest}.", suffix=".tmp",
                                           dir=path.parent))
            try:
                for name in ENTRY_FILES:
                    shutil.copyfile(folder / name, staged / name)
                tflite = (staged / "model.tflite").read_bytes()
                (staged / "key.json").write_text(json.dumps(
                    {"key": key.to_dict(),
                     "tflite_sha256": hashlib.sha256(tflite).hexdigest()}, indent=2) + "\n")
                if path.exists():         # another build stored the same key meanwhile
                    return path
                os.replace(staged, path)
            finally:
                shutil.rmtree(staged, ignore_errors=True)
        except OSError:
            return None
        return path
