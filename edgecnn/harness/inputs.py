"""What a bench sends to the board and what the board must answer: verification inputs
(the project's data set, its test vectors, then seeded random inputs) and the host reference
of the project's runtime."""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..errors import EdgecnnError
from ..runtimes import get_runtime
from .project import Project


def reference(project: Project):
    """What the board must compute, on this computer: the project's runtime's reference."""
    return get_runtime(project.manifest.firmware.runtime).reference(project.model_bytes)


def verification_inputs(project: Project, samples: int | None):
    """(int inputs shaped like the model's input, labels, description)."""
    model_in = project.manifest.model.input
    dtype = np.dtype(model_in.dtype)
    shape = model_in.shape
    meta = project.model_meta()
    if meta is not None and (meta.dataset or meta.data_dir):
        from ..quantize import dataset_for

        ds = dataset_for(meta)
        n = len(ds.x_test) if samples is None else min(samples, len(ds.x_test))
        if dtype == np.float32:        # float edges: the model quantizes the sample itself
            x = np.asarray(ds.x_test[:n], dtype=np.float32)
            return ([s.reshape(shape) for s in x], [int(y) for y in ds.y_test[:n]],
                    f"{n} samples of the {ds.name} test split (float32, as the model takes them)")
        if model_in.quant is None:
            raise EdgecnnError("the model's input is not quantized: verify needs an int8, "
                               "uint8 or float32 input")
        q = model_in.quant.quantize(ds.x_test[:n], model_in.dtype)
        return ([s.reshape(shape) for s in q], [int(y) for y in ds.y_test[:n]],
                f"{n} samples of the {ds.name} test split")
    vectors = list(project.vectors.vectors)
    if not vectors and not samples:
        raise EdgecnnError("nothing to verify with: the project has no data set and no test "
                           "vectors; pass --samples N to verify N seeded random inputs")
    inputs = [np.asarray(v.input, dtype=dtype).reshape(shape) for v in vectors]
    labels = [v.label for v in vectors]
    source = f"the project's test vectors: {project.vectors.source}"
    if samples is not None and samples > len(inputs):
        # A model without data: more inputs than the test vectors are uniform random ones
        # (seeded), which prove bit-exactness as well as real ones do; made one at a time, so
        # that a large --samples costs time, not memory.
        extra = samples - len(inputs)
        span = float_input_range(project.model_bytes) if dtype == np.float32 else None
        source += (f", then {extra} uniform random {dtype.name} inputs (seed i"
                   + (f", from {span[0]:.4g} to {span[1]:.4g}: the input QUANTIZE's int8 range "
                      "and a tenth beyond it" if span else "") + ")")
        return (RandomInputs(inputs, extra, dtype, shape, span), labels + [-1] * extra,
                source)
    n = len(inputs) if samples is None else min(samples, len(inputs))
    return inputs[:n], labels[:n], source


class RandomInputs(Sequence):
    """The test vectors, then ``extra`` uniform random inputs, input ``i`` drawn with seed
    ``i`` when it is asked for."""

    def __init__(self, first: list, extra: int, dtype: np.dtype, shape,
                 span: tuple[float, float] | None = None):
        self.first, self.extra, self.dtype, self.shape = first, extra, dtype, shape
        self.span = span          # a float input's range

    def __len__(self) -> int:
        return len(self.first) + self.extra

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self[k] for k in range(*i.indices(len(self)))]
        if not 0 <= i < len(self):
            raise IndexError(i)
        if i < len(self.first):
            return self.first[i]
        if self.span is not None:
            return np.random.default_rng(i).uniform(*self.span, self.shape).astype(self.dtype)
        info = np.iinfo(self.dtype)
        return np.random.default_rng(i).integers(info.min, info.max + 1, self.shape
                                                 ).astype(self.dtype)


def float_input_range(model_bytes: bytes) -> tuple[float, float]:
    """Where a float32 input's values matter: the int8 range of the QUANTIZE that reads it,
    widened by a tenth on each side so that clamped values are drawn too ([-1, 1] when no
    QUANTIZE reads it)."""
    from ..tflite_model import read_tflite

    m = read_tflite(model_bytes)
    for op in m.operators:
        if op.opcode.name == "QUANTIZE" and op.inputs and op.inputs[0] == m.inputs[0]:
            out = m.tensors[op.outputs[0]]
            if out.scales and out.dtype in ("int8", "uint8"):
                info = np.iinfo(out.dtype)
                scale, zp = float(out.scales[0]), int(out.zero_points[0])
                lo, hi = scale * (info.min - zp), scale * (info.max - zp)
                return lo - (hi - lo) / 10, hi + (hi - lo) / 10
    return -1.0, 1.0


def output_difference(got: np.ndarray, want: np.ndarray) -> np.ndarray:
    """Element by element, how far the board's output is from the host reference's: integer
    outputs in quantization steps, float32 outputs (a DEQUANTIZE at the end) in units in the
    last place (0: the same value) — never truncated to integers, which would call any two
    probabilities below 1 equal."""
    if got.dtype.kind != "f":
        return np.abs(got.astype(np.int64) - want.astype(np.int64))

    def ordered(x: np.ndarray) -> np.ndarray:
        # the float32 bits as integers in the order of the values (negatives mirrored)
        bits = np.ascontiguousarray(x, dtype=np.float32).view(np.int32).astype(np.int64)
        return np.where(bits < 0, -(2 ** 31) - bits, bits)

    return np.abs(ordered(got) - ordered(want))
