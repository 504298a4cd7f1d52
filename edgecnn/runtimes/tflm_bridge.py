"""The helper process behind the virtual board of a TFLM project.

The virtual board is the project's firmware compiled for this computer (``hostfirmware.py``)
with ``firmware/edgecnn_runtime_tflm_bridge.cpp`` as its runtime: everything the board runs
(protocol, self-check, timing, the MLPerf Tiny DUT) is the board's C, and only ``Invoke()`` is
forwarded here, to TFLM's host interpreter (PyPI tflite-micro), the reference edgecnn verifies
against. It crashes here, not in edgecnn, if a model makes TFLM crash.

    python -m edgecnn.runtimes.tflm_bridge MODEL.tflite READ_FD WRITE_FD

Its arena figure is the one the build planned from: TFLM's recording allocator on this host,
with 32-bit struct sizes (measured again here, from the model).
"""
from __future__ import annotations

import os
import struct
import sys

import numpy as np

MAGIC = b"EDGECNN1"
MAX_RANK = 6          # EDGECNN_MAX_RANK
_TYPE_CODES = {"float32": 1, "int32": 2, "uint8": 3, "int16": 7, "int8": 9}   # TfLiteType


def tensor_record(tensor) -> bytes:
    """One BridgeTensor: bytes, type, rank, dims[6], scale, zero point (little-endian)."""
    dims = [int(d) for d in tensor.shape][:MAX_RANK]
    return struct.pack("<Iii6ifi", tensor.nbytes, _TYPE_CODES.get(tensor.dtype, 0), len(dims),
                       *(dims + [0] * (MAX_RANK - len(dims))),
                       tensor.scales[0] if tensor.scales else 0.0,
                       tensor.zero_points[0] if tensor.zero_points else 0)


def header(model, arena_used: int) -> bytes:
    return MAGIC + tensor_record(model.input_tensor()) + tensor_record(model.output_tensor()) \
        + struct.pack("<I", arena_used)


def _read_exactly(fd: int, count: int) -> bytes | None:
    chunks, left = [], count
    while left:
        chunk = os.read(fd, left)
        if not chunk:
            return None
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def serve(model_bytes: bytes, read_fd: int, write_fd: int) -> None:
    """Send the header, then answer inputs until the firmware closes its end."""
    from ..analyze import arena_32bit
    from ..tflite_model import read_tflite
    from ..tflm_host import HostInterpreter, measure_arena

    model = read_tflite(model_bytes)
    interpreter = HostInterpreter(model_bytes)
    _write_all(write_fd, header(model, arena_32bit(measure_arena(model_bytes))))
    size = model.input_tensor().nbytes
    while True:
        data = _read_exactly(read_fd, size)
        if data is None:
            return
        x = np.frombuffer(data, dtype=interpreter.input_dtype)
        _write_all(write_fd, np.ascontiguousarray(interpreter.run(x)).tobytes())


def main(argv: list[str]) -> None:
    model, read_fd, write_fd = argv
    try:
        serve(open(model, "rb").read(), int(read_fd), int(write_fd))
    except (BrokenPipeError, KeyboardInterrupt):
        pass


if __name__ == "__main__":
    main(sys.argv[1:])
