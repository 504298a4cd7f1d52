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
    """An MLPerf Tiny model; tests that need one skip on a clone that lacks them (saying where
    to put them), and fail in CI, where they must run."""
    path = SHARED_MODELS / name
    if not path.is_file():
        message = (f"{path} is missing: put the MLPerf Tiny reference models "
                   f"({', '.join(MLPERF_MODELS)}) in ../shared/models beside the repository, "
                   "or name their folder in EDGECNN_SHARED_MODELS")
        if REQUIRE_SHARED:
            pytest.fail(message)
        pytest.skip(message)
    return path


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
