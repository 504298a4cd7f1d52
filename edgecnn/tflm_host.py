"""The one place that talks to the host TFLite Micro interpreter (PyPI ``tflite-micro``).

The kernels are TFLM's own reference kernels, so outputs here are what a reference-kernel
build computes on a device; the arena figures come from TFLM's RecordingMicroAllocator.
"""
from __future__ import annotations

import re
import sys
import tempfile
from dataclasses import dataclass, field

import numpy as np

from .errors import EdgecnnError, ModelFileError, UnsupportedModelError

HOST_ARENA_BYTES = 16 * 1024 * 1024  # generous: the recorder reports what was actually used


@dataclass
class ArenaMeasurement:
    """TFLM's RecordingMicroAllocator figures, in bytes, for this (64-bit) host."""

    total: int
    head: int   # non-persistent: activations and scratch buffers, planned by the memory planner
    tail: int   # persistent: tensor structs, node structs, op data
    categories: dict[str, dict[str, int]] = field(default_factory=dict)
    raw: str = ""


# TFLM's SOFTMAX Prepare turns beta * input_scale * 2^26 into a fixed-point multiplier with
# QuantizeMultiplierGreaterThanOne, which calls abort() (on the host: the whole Python process;
# on a board: a hang) when that product is not above 1.
_SOFTMAX_MIN_BETA_SCALE = 2.0 ** -26


def prepare_failures(model) -> list[str]:
    """Conditions under which TFLM's kernels abort in Prepare instead of returning an error.

    ``model`` is a :class:`~edgecnn.tflite_model.TfliteModel`. Checked before any interpreter is
    built, so that a degenerate model is refused with a message rather than killing the process.
    """
    problems = []
    for op in model.operators:
        if op.opcode.name != "SOFTMAX" or not op.inputs:
            continue
        tensor = model.tensors[op.inputs[0]]
        if tensor.dtype not in ("int8", "uint8") or not tensor.scales:
            continue
        beta = float(op.options.get("beta", 1.0))
        if beta * tensor.scales[0] <= _SOFTMAX_MIN_BETA_SCALE:
            problems.append(
                f"SOFTMAX (operator {op.index}) has input scale {tensor.scales[0]:.3g} with "
                f"beta {beta:g}, below the 2^-26 that TFLite Micro's softmax needs (its Prepare "
                "aborts); the logits span an almost zero range, which an untrained or collapsed "
                "model produces: train it (longer) before quantizing")
    return problems


# A child process that opens the model with TFLM and invokes it once on zeros. TFLM trusts the
# flatbuffer it is given: a corrupt file (one flipped byte can do it) may crash the process
# with SIGSEGV, which no Python handler catches. The child's death is our error message.
# A Python error there (an op TFLM lacks, a tensor it rejects) is reported with TFLM's own
# reason, so that TFLM's printed lines never reach the user's console.
_PROBE = """
import sys
import numpy as np
from tflite_micro import runtime
try:
    it = runtime.Interpreter.from_bytes(open(sys.argv[1], "rb").read(),
                                        arena_size=int(sys.argv[2]))
    d = it.get_input_details(0)
    it.set_input(np.zeros(tuple(d["shape"]), dtype=d["dtype"]), 0)
    it.invoke()
except Exception as exc:
    text = str(exc).strip().splitlines()
    print("EDGECNN_PROBE_ERROR " + (text[-1] if text else type(exc).__name__), flush=True)
    sys.exit(3)
"""
_PROBED: set[str] = set()   # models (by SHA-256) that opened without crashing in a child


def probe_in_child(model_bytes: bytes, arena_size: int = HOST_ARENA_BYTES) -> None:
    """Open and invoke ``model_bytes`` with TFLM in a child process first; raise
    ``ModelFileError`` if that crashes it. Each model is probed once per process."""
    import hashlib
    import signal
    import subprocess

    digest = hashlib.sha256(model_bytes).hexdigest()
    if digest in _PROBED:
        return
    with tempfile.NamedTemporaryFile(suffix=".tflite") as f:
        f.write(model_bytes)
        f.flush()
        try:
            proc = subprocess.run([sys.executable, "-c", _PROBE, f.name, str(arena_size)],
                                  capture_output=True, timeout=300)
        except subprocess.TimeoutExpired:
            raise ModelFileError("TFLite Micro did not finish opening and running this model "
                                 "within 300 s; the file is probably corrupt") from None
    if proc.returncode < 0:
        name = signal.Signals(-proc.returncode).name
        raise ModelFileError(f"TFLite Micro crashed ({name}) opening this model: the file is "
                             "corrupt or not a model TFLite Micro can run (it passed edgecnn's "
                             "structural checks)")
    if proc.returncode == 3:
        out = proc.stdout.decode(errors="replace")
        message = out.rsplit("EDGECNN_PROBE_ERROR ", 1)[-1].strip()
        # TFLM prints why before it fails, e.g. "Node RESHAPE (number 10) failed to prepare"
        said = [line.strip() for line in (proc.stderr.decode(errors="replace") + "\n" +
                out.split("EDGECNN_PROBE_ERROR", 1)[0]).splitlines() if line.strip()]
        reason = f" ({'; '.join(said[-2:])[:300]})" if said else ""
        raise _load_error(message + reason)
    _PROBED.add(digest)


def _load_error(message: str) -> EdgecnnError:
    """TFLM's refusal to load a model as edgecnn's error: a missing op, or anything else."""
    if "op" in message.lower() and "find" in message.lower():
        return UnsupportedModelError(f"TFLite Micro cannot run this model: {message}")
    return ModelFileError(f"TFLite Micro could not load the model: {message}")


def _interpreter(model_bytes: bytes, arena_size: int = HOST_ARENA_BYTES):
    from tflite_micro import runtime

    from .tflite_model import read_tflite

    problems = prepare_failures(read_tflite(model_bytes))
    if problems:
        raise UnsupportedModelError("TFLite Micro cannot run this model: " + problems[0])
    probe_in_child(model_bytes, arena_size)

    try:
        return runtime.Interpreter.from_bytes(bytes(model_bytes), arena_size=arena_size)
    except (RuntimeError, ValueError) as exc:
        message = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
        raise _load_error(message) from None


class HostInterpreter:
    """A TFLM interpreter on the host; ``run`` takes and returns the raw int8/uint8 tensors.

    Example:
        >>> it = HostInterpreter(open("model.tflite", "rb").read())   # doctest: +SKIP
        >>> it.run(np.zeros(it.input_shape, np.int8)).shape          # doctest: +SKIP
        (1, 10)
    """

    def __init__(self, model_bytes: bytes):
        self._it = _interpreter(model_bytes)
        details = self._it.get_input_details(0)
        self.input_shape = tuple(int(d) for d in details["shape"])
        self.input_dtype = np.dtype(details["dtype"])

    def run(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=self.input_dtype).reshape(self.input_shape)
        self._it.set_input(x, 0)
        self._it.invoke()
        return np.array(self._it.get_output(0))


_LINE_TOTAL = re.compile(r"Arena allocation (total|head|tail) (\d+) bytes")
_LINE_CATEGORY = re.compile(r"'([^']+)' used (\d+) bytes with alignment overhead "
                            r"\(requested (\d+) bytes for (\d+) ")


def measure_arena(model_bytes: bytes) -> ArenaMeasurement:
    """Allocate and invoke once with the recording allocator; parse its report."""
    it = _interpreter(model_bytes)
    shape = tuple(int(d) for d in it.get_input_details(0)["shape"])
    it.set_input(np.zeros(shape, dtype=it.get_input_details(0)["dtype"]), 0)
    it.invoke()
    text = _capture_native_output(it.print_allocations)
    totals = {k: int(v) for k, v in _LINE_TOTAL.findall(text)}
    if "total" not in totals:
        raise RuntimeError("TFLM printed no arena figures; is tflite-micro installed correctly?")
    categories = {m[0]: {"used": int(m[1]), "requested": int(m[2]), "count": int(m[3])}
                  for m in _LINE_CATEGORY.findall(text)}
    return ArenaMeasurement(totals["total"], totals.get("head", 0), totals.get("tail", 0),
                            categories, text)


def _capture_native_output(fn) -> str:
    """Run ``fn`` and return what native code printed to file descriptors 1 and 2."""
    from .console import redirected_fds

    with tempfile.TemporaryFile(mode="w+b") as tmp:
        with redirected_fds(tmp):
            fn()
        tmp.seek(0)
        return tmp.read().decode(errors="replace")
