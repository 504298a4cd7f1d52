"""edgecnn: compact CNNs from data to a microcontroller, with measured costs.

Stages (each usable from Python; the CLI is a thin layer over them)::

    load_dataset -> build_model / train -> quantize -> analyze -> build (PlatformIO project)
    -> flash (PlatformIO upload) -> bench (serial harness: latency, arena, bit-exactness)

Heavy modules (TensorFlow) are imported only when a stage that needs them runs.
"""
from __future__ import annotations

__version__ = "0.1.0"

_EXPORTS = {
    "load_dataset": "data", "Dataset": "data",
    "build_model": "zoo", "ARCHITECTURES": "zoo",
    "train": "train", "TrainConfig": "train",
    "quantize": "quantize",
    "analyze": "analyze", "Analysis": "analyze",
    "read_tflite": "tflite_model",
    "load_board": "boards", "list_boards": "boards", "check_fit": "fit",
    "build": "build", "BuildResult": "build",
    "flash": "flash",
    "report": "reporting", "compare": "comparison",
    "bench": "harness", "BenchReport": "harness", "HostFirmware": "harness",
    "EdgecnnError": "errors",
}


def __getattr__(name):
    if name in _EXPORTS:
        import importlib

        module = importlib.import_module(f".{_EXPORTS[name]}", __name__)
        return getattr(module, name)
    raise AttributeError(f"module 'edgecnn' has no attribute {name!r}")


__all__ = sorted(_EXPORTS) + ["__version__"]
