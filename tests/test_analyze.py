import json

import pytest
from conftest import (
    MLPERF_MODELS,
    assert_one_line_error,
    reference_model,
    run_cli,
    shared_model,
)

from edgecnn.analyze import analyze
from edgecnn.errors import ModelFileError
from edgecnn.tflite_model import read_tflite


@pytest.fixture(scope="module")
def hand_model(digits, tmp_path_factory):
    """8x8x1 -> conv 4@3x3 valid -> maxpool 2 -> conv 8@3x3 valid -> flatten -> dense 10."""
    import keras
    from keras import layers

    from edgecnn.quantize import quantize

    inputs = keras.Input((8, 8, 1))
    x = layers.Conv2D(4, 3, activation="relu")(inputs)
    x = layers.MaxPooling2D(2)(x)
    x = layers.Conv2D(8, 3, activation="relu")(x)
    x = layers.Flatten()(x)
    # a non-zero bias: the converter drops an all-zero FULLY_CONNECTED bias
    outputs = layers.Dense(10, activation="softmax", bias_initializer="ones")(x)
    model = keras.Model(inputs, outputs)
    q = quantize(model, digits.subset(train=100, test=10), representative_samples=50)
    return q.tflite


def test_analysis_matches_hand_computation(hand_model):
    a = analyze(hand_model)
    rows = [(r.op, r.output_shape, r.params, r.macs, r.activation_bytes, r.receptive_field)
            for r in a.layers]
    assert rows == [
        ("CONV_2D", (1, 6, 6, 4), 3 * 3 * 1 * 4 + 4, 6 * 6 * 4 * 9, 144, (3, 3)),
        ("MAX_POOL_2D", (1, 3, 3, 4), 0, 0, 36, (4, 4)),
        ("CONV_2D", (1, 1, 1, 8), 3 * 3 * 4 * 8 + 8, 1 * 1 * 8 * 36, 8, (8, 8)),
        ("FULLY_CONNECTED", (1, 10), 8 * 10 + 10, 80, 10, (8, 8)),
        ("SOFTMAX", (1, 10), 0, 0, 10, (8, 8)),
    ]
    assert a.total_params == 40 + 296 + 90
    assert a.total_macs == 1296 + 288 + 80
    # live at the first conv: its 64-byte input and 144-byte output
    assert a.peak_activation_bytes == 64 + 144
    assert a.weight_bytes < a.float32_weight_bytes
    assert a.arena.host.total > a.arena.device_32bit > a.arena.host.head > 0


def test_mlperf_tiny_models_match_their_readme():
    for name in sorted(MLPERF_MODELS):
        _matches_its_readme(name)


def _matches_its_readme(name):
    size, shape, ops = MLPERF_MODELS[name]
    a = analyze(reference_model(name))
    assert a.flash_bytes == size
    assert a.inputs[0].shape == shape and a.inputs[0].dtype == "int8"
    assert [op for op, _ in a.ops] == ops
    assert a.kind == "int8"
    # the README: TFLM on a 64-bit host needs about 24 KB, 56 KB and 4 KB
    expected_kb = {"kws_ref_model.tflite": 24, "pretrainedResnet_quant.tflite": 56,
                   "ad01_int8.tflite": 4}[name]
    assert abs(a.arena.host.total / 1000 - expected_kb) < 2
    assert a.arena.device_32bit < a.arena.host.total


def test_kws_layer_figures():
    a = analyze(shared_model("kws_ref_model.tflite"))
    first = a.layers[0]
    c = first.output_shape[-1]       # 64 in the reference model (its stand-in has fewer)
    assert first.kernel == (10, 4) and first.stride == (2, 2)
    assert first.output_shape == (1, 25, 5, c)
    assert first.params == 10 * 4 * 1 * c + c
    assert first.macs == 25 * 5 * c * 10 * 4


@pytest.mark.parametrize("content, message", [
    (b"", "is empty"),
    (b"\x00" * 3 + b"random bytes that are not a model" * 3, "not a TFLite model"),
])
def test_bad_model_files(tmp_path, content, message):
    path = tmp_path / "bad.tflite"
    path.write_bytes(content)
    with pytest.raises(ModelFileError, match=message):
        read_tflite(path)


def test_truncated_model_is_refused(tmp_path):
    data = shared_model("kws_ref_model.tflite").read_bytes()
    path = tmp_path / "cut.tflite"
    path.write_bytes(data[:2000])
    with pytest.raises(ModelFileError):
        analyze(path)


def test_analyze_cli_json_and_errors(tmp_path):
    model = shared_model("pretrainedResnet_quant.tflite")
    proc = run_cli("analyze", model, "--json", "--board", "nano33")
    assert proc.returncode == 0, proc.stderr
    d = json.loads(proc.stdout)
    assert d["flash_bytes"] == model.stat().st_size and d["fit"]["fits"] is True
    assert d["fit"]["arena"]["device_need_bytes"] <= d["arena"]["host"]["total"] + 4096
    bad = tmp_path / "random.tflite"
    bad.write_bytes(bytes(range(256)) * 4)
    assert_one_line_error(run_cli("analyze", bad), "not a TFLite model")
    assert_one_line_error(run_cli("analyze", tmp_path / "missing.tflite"), "does not exist")
