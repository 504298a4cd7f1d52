"""Where a build's model comes from: a ready ``.tflite``, a ``.keras`` model quantized here, or
a model trained here (and kept in the trained-model cache, :mod:`edgecnn.cache`)."""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from .metadata import ModelMeta
from .tflite_model import read_tflite


def obtain_model(model_path: Path | None, workdir: Path, *, dataset: str, arch: str, epochs: int,
                 train_samples: int | None, seed: int, verbose: int,
                 log: Callable[[str], None], retrain: bool = False
                 ) -> tuple[bytes, ModelMeta | None]:
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
