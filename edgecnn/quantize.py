"""Full-integer int8 quantization with a representative data set, and accuracy measured with
the TFLite Micro kernels themselves.

Example:
    >>> from edgecnn import quantize
    >>> q = quantize("model.keras", out="model.tflite")    # doctest: +SKIP
    >>> q.meta.float_accuracy, q.meta.int8_accuracy          # doctest: +SKIP
    (0.912, 0.910)
"""
from __future__ import annotations

import os
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .console import captured, import_tensorflow, track
from .data import Dataset, load_dataset
from .errors import DatasetError, ModelFileError, ShapeMismatchError
from .fsutil import atomic_write_bytes, check_writable_outputs, require_file
from .metadata import ModelMeta
from .tflite_model import read_tflite
from .tflm_host import HostInterpreter

SELF_CHECK_SAMPLES = 8
REPRESENTATIVE_SAMPLES = 300   # calibration images drawn from the training split


@dataclass
class QuantizedModel:
    tflite: bytes
    meta: ModelMeta
    path: Path | None = None


def load_keras_model(path: str | Path):
    """Load a ``.keras`` file, turning every way it can be broken into ``ModelFileError``."""
    path = require_file(path, "a Keras model")
    if path.stat().st_size == 0:
        raise ModelFileError(f"Keras model {path} is empty")
    if path.suffix == ".keras" and not zipfile.is_zipfile(path):
        raise ModelFileError(f"{path} is not a Keras 3 .keras archive (it is not a zip file)")
    import_tensorflow()
    import keras

    try:
        return keras.models.load_model(path, compile=False)
    except Exception as exc:  # Keras raises many types for broken archives
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelFileError(f"cannot load Keras model {path}: {first[:200]}") from None


def quantize_input(x: np.ndarray, scale: float, zero_point: int, dtype=np.int8) -> np.ndarray:
    info = np.iinfo(dtype)
    return np.clip(np.round(x / scale + zero_point), info.min, info.max).astype(dtype)


def dataset_for(meta: ModelMeta | None) -> Dataset:
    """Reload the data set a model was trained on, from its metadata."""
    if meta is None:
        raise DatasetError("no metadata (model.json) beside the model says which data it was "
                           "trained on; pass --dataset NAME or --data DIR")
    if meta.data_dir:
        size = (meta.image_size[0], meta.image_size[1]) if meta.image_size else None
        return load_dataset(data_dir=meta.data_dir, image_size=size,
                            grayscale=meta.grayscale)
    return load_dataset(meta.dataset or "fashion_mnist")


def quantize(model, dataset: Dataset | None = None, *, out: str | Path | None = None,
             representative_samples: int = REPRESENTATIVE_SAMPLES,
             evaluate_samples: int | None = None,
             meta: ModelMeta | None = None, force: bool = False) -> QuantizedModel:
    """Convert a Keras model (object or ``.keras`` path) to a full-integer int8 ``.tflite``.

    Inputs and outputs are int8. The representative data set is drawn from the training split;
    float accuracy comes from Keras and int8 accuracy from the TFLM host interpreter, both on
    the test split (all of it unless ``evaluate_samples`` is given). An existing ``out`` is
    replaced only with ``force``; its ``.json`` (the model's metadata) is completed.
    """
    if out is not None:
        # The .json beside OUT is the model's metadata, which quantizing completes (training
        # wrote it for the same stem); the .tflite is what must not be replaced unasked.
        check_writable_outputs([Path(out)], force,
                               inputs=[model] if isinstance(model, (str, Path)) else [])
    import_tensorflow()
    if isinstance(model, (str, Path)):
        meta = meta or ModelMeta.beside(model)
        model = load_keras_model(model)
    meta = meta or ModelMeta()
    dataset = dataset or dataset_for(meta if meta.dataset or meta.data_dir else None)
    expected = tuple(int(d) for d in model.input_shape[1:])
    if expected != dataset.input_shape:
        raise ShapeMismatchError(f"the model expects input {expected} but {dataset.name} "
                                 f"gives {dataset.input_shape}; quantize with the data set "
                                 "the model was trained on")
    tflite = _convert(model, dataset, representative_samples)
    m = read_tflite(tflite)
    inp, outp = m.input_tensor(), m.output_tensor()
    meta.class_names = meta.class_names or list(dataset.class_names)
    meta.input_shape = list(dataset.input_shape)
    meta.input_scale = dataset.input_scale
    meta.dataset = meta.dataset or (None if dataset.name.startswith("folder:") else dataset.name)
    meta.quantization = {"input": {"scale": inp.scales[0], "zero_point": inp.zero_points[0],
                                   "dtype": inp.dtype, "shape": list(inp.shape)},
                         "output": {"scale": outp.scales[0], "zero_point": outp.zero_points[0],
                                    "dtype": outp.dtype, "shape": list(outp.shape)}}
    n = len(dataset.x_test) if evaluate_samples is None else min(evaluate_samples,
                                                                  len(dataset.x_test))
    x_test, y_test = dataset.x_test[:n], dataset.y_test[:n]
    float_pred = np.argmax(model.predict(x_test, batch_size=256, verbose=0), axis=-1)
    int8_pred = int8_predictions(tflite, x_test)
    meta.float_accuracy = float(np.mean(float_pred == y_test))
    meta.int8_accuracy = float(np.mean(int8_pred == y_test))
    meta.int8_agreement = float(np.mean(float_pred == int8_pred))
    meta.test_samples = int(n)
    q_inputs = quantize_input(x_test[:SELF_CHECK_SAMPLES], inp.scales[0], inp.zero_points[0])
    meta.samples = [{"label": int(y), "input": q.reshape(-1).tolist(), "source": "test split"}
                    for q, y in zip(q_inputs, y_test[:SELF_CHECK_SAMPLES], strict=True)]
    result = QuantizedModel(tflite, meta)
    if out is not None:
        out = Path(out)
        atomic_write_bytes(out, tflite)
        meta.save(out.with_suffix(".json"))
        result.path = out
    return result


def int8_predictions(tflite: bytes, x_float: np.ndarray) -> np.ndarray:
    """The int8 model's predicted class for each float input (quantized with the model's input
    parameters, run with TFLM's host kernels)."""
    inp = read_tflite(tflite).input_tensor()
    out = run_int8(tflite, x_float, inp.scales[0], inp.zero_points[0])
    return np.argmax(out.reshape(len(x_float), -1), axis=-1)


PARALLEL_FROM = 2000   # samples: below this, starting worker processes costs more than it saves
CHUNK = 500


def run_int8(tflite: bytes, x_float: np.ndarray, scale: float, zero_point: int) -> np.ndarray:
    """Quantize float inputs and run each through the TFLM host interpreter.

    TFLM's reference kernels run one sample at a time and hold the GIL, so a large set is
    split over worker processes, one per core (10,000 Fashion-MNIST images: 12 s -> 7 s on 2
    cores). Outputs are in input order and identical to a single interpreter's."""
    interpreter = HostInterpreter(tflite)   # also the check that the model opens at all
    q = quantize_input(x_float, scale, zero_point, interpreter.input_dtype)
    label = f"int8 inference on {len(q):,} images"
    workers = min(os.cpu_count() or 1, 8)
    if len(q) < PARALLEL_FROM or workers < 2:
        return np.stack([interpreter.run(sample[None]) for sample in track(q, label)])
    import concurrent.futures as cf
    import multiprocessing as mp

    chunks = [q[i:i + CHUNK] for i in range(0, len(q), CHUNK)]
    results: list = [None] * len(chunks)
    # fork: the children run only the TFLM interpreter and NumPy, never TensorFlow, whose
    # thread pools they inherit unused; spawn would re-run the caller's main script.
    with cf.ProcessPoolExecutor(workers, mp_context=mp.get_context("fork")) as pool:
        futures = {pool.submit(_run_chunk, tflite, c): i for i, c in enumerate(chunks)}
        for future in track(cf.as_completed(futures), label, total=len(futures)):
            results[futures[future]] = future.result()
    return np.concatenate(results)


def _run_chunk(tflite: bytes, samples: np.ndarray) -> np.ndarray:
    interpreter = _worker_interpreter(tflite)
    return np.stack([interpreter.run(sample[None]) for sample in samples])


_WORKER_CACHE: dict = {}


def _worker_interpreter(tflite: bytes) -> HostInterpreter:
    key = hash(tflite)
    if key not in _WORKER_CACHE:
        _WORKER_CACHE.clear()
        # no second probe: a forked worker inherits the parent's record of the probed model
        _WORKER_CACHE[key] = HostInterpreter(tflite)
    return _WORKER_CACHE[key]


def _convert(model, dataset: Dataset, samples: int) -> bytes:
    import_tensorflow()
    import keras
    import tensorflow as tf

    # A batch-1 wrapper keeps the graph static: Flatten becomes one RESHAPE (or is folded into
    # FULLY_CONNECTED) instead of SHAPE/STRIDED_SLICE/PACK that a dynamic batch produces.
    inputs = keras.Input(tuple(model.input_shape[1:]), batch_size=1, name="input")
    fixed = keras.Model(inputs, model(inputs), name=model.name)
    rng = np.random.default_rng(0)
    idx = rng.choice(len(dataset.x_train), size=min(samples, len(dataset.x_train)), replace=False)
    rep = dataset.x_train[idx].astype(np.float32)

    def representative():
        for sample in rep:
            yield [sample[None]]

    # From the traced function, not from_keras_model: with Keras 3 that writes the model out
    # as a SavedModel first, half of a conversion's time (seen here: 0.4 s against 0.9 s for
    # edge_cnn_gap), the same graph and bytes otherwise. The module holds the variables the
    # converter freezes into constants.
    function = tf.function(lambda x: fixed(x, training=False)).get_concrete_function(
        tf.TensorSpec((1, *fixed.input_shape[1:]), tf.float32, name="input"))
    variables = tf.Module()
    variables.held = [v.value for v in fixed.variables]
    converter = tf.lite.TFLiteConverter.from_concrete_functions([function], variables)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = representative
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_input_type = tf.int8
    converter.inference_output_type = tf.int8
    # One scale per dense weight tensor: TF >= 2.16 quantizes FULLY_CONNECTED per output
    # channel, which the TFLM libraries pinned for the boards (2022-2023) compute with the first
    # channel's scale only. Per-tensor dense weights run bit-exactly on every board edgecnn knows.
    converter._experimental_disable_per_channel_quantization_for_dense_layers = True
    # The converter prints the exported signature, calibration statistics and warnings from
    # Python and C++: kept in the log file, not shown between edgecnn's own lines.
    with captured("TFLite conversion to full-integer int8") as log:
        try:
            return bytes(converter.convert())
        except Exception as exc:
            raise ModelFileError(f"the TFLite converter could not make a full-integer model: "
                                 f"{str(exc).strip().splitlines()[-1][:300]} (its output: {log})"
                                 ) from None
