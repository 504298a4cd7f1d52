"""tflm_host.py: the host TFLM interpreter edgecnn verifies against, and the recording
allocator's figures it reads from TFLM's own printout."""
from __future__ import annotations

import numpy as np
import pytest
from conftest import shared_model

from edgecnn.errors import ModelFileError
from edgecnn.tflm_host import HostInterpreter, measure_arena


@pytest.fixture(scope="module")
def kws() -> bytes:
    return shared_model("kws_ref_model.tflite").read_bytes()


def test_the_arena_is_tflm_s_recording_allocator_figures(kws):
    arena = measure_arena(kws)
    assert arena.total == arena.head + arena.tail > 0
    assert "Arena allocation total" in arena.raw          # parsed from TFLM's own printout
    assert arena.categories, "the per-category lines of print_allocations are read"
    assert all(c["used"] >= c["requested"] for c in arena.categories.values())


def test_the_interpreter_is_deterministic_and_takes_raw_int8(kws):
    it = HostInterpreter(kws)
    assert it.input_dtype == np.int8
    x = np.random.default_rng(0).integers(-128, 128, it.input_shape, dtype=np.int8)
    first = it.run(x)
    assert first.dtype == np.int8
    assert np.array_equal(first, it.run(x.reshape(-1)))    # any layout of the same bytes
    assert np.array_equal(first, HostInterpreter(kws).run(x))


def test_bytes_that_are_no_model_are_one_typed_error():
    with pytest.raises(ModelFileError):
        HostInterpreter(b"TFL3" + bytes(60))
