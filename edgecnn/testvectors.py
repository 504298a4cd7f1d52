"""The self-check test vectors compiled into the firmware: real test-split samples when the
model came with data, deterministic pseudo-random inputs otherwise, each with the output the
runtime's host reference computes for it."""
from __future__ import annotations

import numpy as np

from .artifacts import TensorSpec, TestVector, TestVectorSet
from .metadata import ModelMeta
from .runtimes import Reference

MAX_VECTOR_BYTES = 32 * 1024   # flash spent on self-check inputs
MAX_VECTORS = 8


def make_test_vectors(input: TensorSpec, output: TensorSpec, meta: ModelMeta | None,
                      reference: Reference) -> TestVectorSet:
    if not input.integer or not output.integer:
        return TestVectorSet.empty(
            "none (the self-check needs int8 or uint8 input and output tensors)")
    count = max(1, min(MAX_VECTORS, MAX_VECTOR_BYTES // max(1, input.nbytes)))
    info = np.iinfo(input.dtype)
    usable = [s for s in (meta.samples if meta else [])
              if len(s["input"]) == input.elements
              and all(info.min <= v <= info.max for v in s["input"])][:count]
    samples = [np.asarray(s["input"], dtype=np.int64) for s in usable]
    labels = [int(s["label"]) for s in usable]
    if samples and meta is not None:
        source = f"{len(samples)} real samples from the {meta.dataset or 'image folder'} test split"
    else:
        # A model from elsewhere comes without data: deterministic pseudo-random inputs still
        # prove the device computes what the host computes, bit for bit.
        rng = np.random.default_rng(0)
        samples = [rng.integers(info.min, info.max + 1, input.elements) for _ in range(count)]
        labels = [-1] * count
        source = (f"{count} synthetic inputs (uniform random {input.dtype}, seed 0): no data set "
                  "came with this model, so labels are -1")
    vectors = []
    for x, label in zip(samples, labels, strict=True):
        y = np.asarray(reference.run(x.astype(input.dtype).reshape(input.shape))).reshape(-1)
        vectors.append(TestVector(label, tuple(int(v) for v in x), tuple(int(v) for v in y)))
    return TestVectorSet(source, tuple(vectors))
