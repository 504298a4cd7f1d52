"""Shared fixtures: real data, tiny models trained once per session, the MLPerf Tiny models."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
# Trained models and logs of the tests go to a folder of their own, never the user's cache.
os.environ.setdefault("EDGECNN_CACHE_DIR", tempfile.mkdtemp(prefix="edgecnn-test-cache-"))

REPO = Path(__file__).resolve().parents[1]
SHARED_MODELS = Path(os.environ.get("EDGECNN_SHARED_MODELS", REPO.parent / "shared" / "models"))
MLPERF_MODELS = {
    # file: (bytes, input shape, ops) as published in shared/models/README.md
    "kws_ref_model.tflite": (53_936, (1, 49, 10, 1),
                             ["CONV_2D", "DEPTHWISE_CONV_2D", "AVERAGE_POOL_2D", "RESHAPE",
                              "FULLY_CONNECTED", "SOFTMAX"]),
    "pretrainedResnet_quant.tflite": (98_496, (1, 32, 32, 3),
                                      ["CONV_2D", "ADD", "AVERAGE_POOL_2D", "RESHAPE",
                                       "FULLY_CONNECTED", "SOFTMAX"]),
    "ad01_int8.tflite": (276_976, (1, 640), ["FULLY_CONNECTED"]),
}


# .ci/run sets this: in CI the MLPerf Tiny models are always there, so their absence fails.
REQUIRE_SHARED = os.environ.get("EDGECNN_REQUIRE_SHARED_MODELS") == "1"


def shared_model(name: str) -> Path:
    """An MLPerf Tiny model. In CI the reference file (their absence fails there); on a clone
    without them, a stand-in of the same topology (input, operators in the same order, per-tensor
    dense weights) made here with untrained weights, so that the tests still run; tests of facts
    only the reference file has ask ``reference_model``."""
    path = SHARED_MODELS / name
    if path.is_file():
        return path
    if REQUIRE_SHARED:
        pytest.fail(_missing(path))
    return _stand_in(name)


def reference_model(name: str) -> Path:
    """The MLPerf Tiny reference file itself: skip (fail in CI) when it is not here."""
    path = SHARED_MODELS / name
    if not path.is_file():
        if REQUIRE_SHARED:
            pytest.fail(_missing(path))
        pytest.skip(_missing(path))
    return path


def is_reference(path: Path) -> bool:
    return Path(path).parent == SHARED_MODELS


def _missing(path: Path) -> str:
    return (f"{path} is missing: put the MLPerf Tiny reference models "
            f"({', '.join(MLPERF_MODELS)}) in ../shared/models beside the repository, "
            "or name their folder in EDGECNN_SHARED_MODELS")


_STAND_INS: dict[str, Path] = {}


def _stand_in(name: str) -> Path:
    """Keras models of the reference topologies, converted to full int8 with random
    calibration data, dense layers re-quantized per tensor as the reference files are."""
    if name in _STAND_INS:
        return _STAND_INS[name]
    from edgecnn.console import import_tensorflow
    from edgecnn.requantize import per_tensor_dense

    import_tensorflow()
    import keras
    import numpy as np
    import tensorflow as tf

    from edgecnn.zoo import resnet8

    keras.utils.set_random_seed(0)
    shape = MLPERF_MODELS[name][1][1:]
    inputs = keras.Input(shape, batch_size=1)     # static: Flatten is one RESHAPE
    layers = keras.layers
    if name.startswith("kws"):
        x = layers.Conv2D(16, (10, 4), strides=2, padding="same", activation="relu")(inputs)
        for _ in range(2):
            x = layers.DepthwiseConv2D(3, padding="same", activation="relu")(x)
            x = layers.Conv2D(16, 1, activation="relu")(x)
        x = layers.AveragePooling2D(pool_size=tuple(x.shape[1:3]))(x)
        x = layers.Flatten()(x)
        outputs = layers.Dense(12, activation="softmax")(x)
    elif name.startswith("pretrainedResnet"):
        outputs = resnet8(inputs, 10, filters=(8, 16, 32))
    else:
        x = inputs
        for units in (128, 8, 128):
            x = layers.Dense(units, activation="relu")(x)
        outputs = layers.Dense(640)(x)
    model = keras.Model(inputs, outputs)
    rng = np.random.default_rng(0)
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = lambda: (
        [rng.random((1, *shape), dtype=np.float32)] for _ in range(32))
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_input_type = converter.inference_output_type = tf.int8
    data, _ = per_tensor_dense(converter.convert())
    folder = Path(tempfile.mkdtemp(prefix="edgecnn-stand-ins-"))
    path = folder / name
    path.write_bytes(data)
    _STAND_INS[name] = path
    return path


def schema_tensor(s, name, shape, ttype, buffer, scales=None, zero_point=0, axis=0):
    """A tensor of the TFLite schema's object API (``s``: the generated schema module), with
    int8 quantization when ``scales`` are given: for tests that write models by hand."""
    t = s.TensorT()
    t.name, t.shape, t.type, t.buffer = name.encode(), list(shape), ttype, buffer
    if scales is not None:
        q = s.QuantizationParametersT()
        q.scale, q.zeroPoint = [float(v) for v in scales], [zero_point] * len(scales)
        q.quantizedDimension = axis
        t.quantization = q
    return t


def require_tool(tool: str) -> None:
    """Fail (not skip): CI installs every tool the tests use."""
    if shutil.which(tool) is None:
        pytest.fail(f"{tool} is not installed (.ci/run installs it with apt)")


def run_cli(*args, cwd=None, timeout=600):
    """Run the real console entry point in a subprocess, as a user would."""
    return subprocess.run([sys.executable, "-m", "edgecnn.cli", *map(str, args)], cwd=cwd,
                          capture_output=True, text=True, timeout=timeout)


def assert_one_line_error(proc, *fragments):
    assert proc.returncode == 2, (proc.returncode, proc.stdout, proc.stderr)
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert lines and lines[-1].startswith("edgecnn: error: "), proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr
    for fragment in fragments:
        assert fragment in lines[-1], lines[-1]


@pytest.fixture(scope="session")
def digits():
    from edgecnn.data import load_dataset
    return load_dataset("digits")


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory, digits):
    """edge_cnn trained on the real 8x8 digits for a few epochs, then quantized to int8."""
    from edgecnn.quantize import quantize
    from edgecnn.train import TrainConfig, train

    folder = tmp_path_factory.mktemp("tiny")
    result = train("edge_cnn", digits, TrainConfig(epochs=6, verbose=0, patience=6),
                   out=folder / "digits.keras")
    q = quantize(result.model, digits, out=folder / "digits.tflite", meta=result.meta)
    return {"keras": folder / "digits.keras", "tflite": folder / "digits.tflite",
            "train": result, "quantized": q}
