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
        if model_in.quant is None:
            raise EdgecnnError("the model's input is not quantized: verify needs an int8 or "
                               "uint8 input")
        q = model_in.quant.quantize(ds.x_test[:n], model_in.dtype)
        return ([s.reshape(shape) for s in q], [int(y) for y in ds.y_test[:n]],
                f"{n} samples of the {ds.name} test split")
    vectors = list(project.vectors.vectors)
    if not vectors and not samples:
        raise EdgecnnError("nothing to verify with: the project has no data set and no test "
                           "vectors")
    inputs = [np.asarray(v.input, dtype=dtype).reshape(shape) for v in vectors]
    labels = [v.label for v in vectors]
    source = f"the project's test vectors: {project.vectors.source}"
    if samples is not None and samples > len(inputs):
        # A model without data: more inputs than the test vectors are uniform random ones
        # (seeded), which prove bit-exactness as well as real ones do; made one at a time, so
        # that a large --samples costs time, not memory.
        extra = samples - len(inputs)
        source += f", then {extra} uniform random {dtype.name} inputs (seed i)"
        return RandomInputs(inputs, extra, dtype, shape), labels + [-1] * extra, source
    n = len(inputs) if samples is None else min(samples, len(inputs))
    return inputs[:n], labels[:n], source


class RandomInputs(Sequence):
    """The test vectors, then ``extra`` uniform random inputs, input ``i`` drawn with seed
    ``i`` when it is asked for."""

    def __init__(self, first: list, extra: int, dtype: np.dtype, shape):
        self.first, self.extra, self.dtype, self.shape = first, extra, dtype, shape

    def __len__(self) -> int:
        return len(self.first) + self.extra

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self[k] for k in range(*i.indices(len(self)))]
        if not 0 <= i < len(self):
            raise IndexError(i)
        if i < len(self.first):
            return self.first[i]
        info = np.iinfo(self.dtype)
        return np.random.default_rng(i).integers(info.min, info.max + 1, self.shape
                                                 ).astype(self.dtype)
