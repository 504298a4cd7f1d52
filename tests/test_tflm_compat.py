"""What runs on the board must be what edgecnn verified: per-tensor dense weights by default,
refusal of models the pinned libraries compute differently, op tables from the libraries,
and a harness whose verdict fails (exit 3) when outputs differ."""
import json

import numpy as np
import pytest
from conftest import assert_one_line_error, run_cli, shared_model

from edgecnn.build import build
from edgecnn.errors import UnsupportedModelError
from edgecnn.tflite_model import read_tflite


def dense_weight_scales(tflite: bytes) -> list[int]:
    """Number of scales of every FULLY_CONNECTED weight tensor, read from the flatbuffer with
    the schema directly (not edgecnn's reader)."""
    from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema

    model = schema.ModelT.InitFromObj(schema.Model.GetRootAsModel(tflite, 0))
    graph = model.subgraphs[0]
    counts = []
    for op in graph.operators:
        code = model.operatorCodes[op.opcodeIndex]
        if max(code.builtinCode, code.deprecatedBuiltinCode) == schema.BuiltinOperator.FULLY_CONNECTED:
            counts.append(len(graph.tensors[op.inputs[1]].quantization.scale))
    return counts


def _convert(model, rep, *, per_channel_dense=True, int8=True):
    import tensorflow as tf

    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    if int8:
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = lambda: ([r[None]] for r in rep)
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        converter.inference_input_type = tf.int8
        converter.inference_output_type = tf.int8
    if not per_channel_dense:
        converter._experimental_disable_per_channel_quantization_for_dense_layers = True
    return bytes(converter.convert())


@pytest.fixture(scope="module")
def per_channel_dense_model(tmp_path_factory):
    """A small int8 classifier converted with TensorFlow's defaults: per-channel dense weights."""
    import keras

    keras.utils.set_random_seed(1)
    model = keras.Sequential([keras.Input((8, 8, 1), batch_size=1), keras.layers.Flatten(),
                              keras.layers.Dense(24, activation="relu"),
                              keras.layers.Dense(10, activation="softmax")])
    rng = np.random.default_rng(0)
    data = _convert(model, rng.random((64, 8, 8, 1), dtype=np.float32))
    path = tmp_path_factory.mktemp("perchannel") / "perchannel.tflite"
    path.write_bytes(data)
    return path


def test_the_default_training_path_quantizes_dense_layers_per_tensor(tiny_model):
    counts = dense_weight_scales(tiny_model["quantized"].tflite)
    assert counts and all(c == 1 for c in counts), counts


@pytest.mark.parametrize("board", ["nano33", "esp32"])
def test_a_per_channel_dense_model_is_refused_naming_layer_reason_and_fix(
        per_channel_dense_model, tmp_path, board):
    assert dense_weight_scales(per_channel_dense_model.read_bytes()) == [24, 10]
    proc = run_cli("build", "--board", board, "--model", per_channel_dense_model,
                   "--out", tmp_path / "p")
    assert_one_line_error(proc, "FULLY_CONNECTED operator 1", "24 scales",
                          "edgecnn requantize", "--force")
    assert not (tmp_path / "p").exists()


def test_force_builds_it_anyway_with_a_warning_recorded_in_the_manifest(
        per_channel_dense_model, tmp_path):
    proc = run_cli("build", "--board", "nano33", "--model", per_channel_dense_model,
                   "--out", tmp_path / "p", "--force")
    assert proc.returncode == 0, proc.stderr
    assert "warning: --force:" in proc.stderr and "differently" in proc.stderr
    manifest = json.loads((tmp_path / "p" / "edgecnn.json").read_text())
    assert [d["op_index"] for d in manifest["not_bit_exact"]] == [1, 2]
    assert {d["op"] for d in manifest["not_bit_exact"]} == {"FULLY_CONNECTED"}


def test_requantize_makes_a_third_party_model_per_tensor_and_buildable(
        per_channel_dense_model, tmp_path):
    from edgecnn.tflm_host import HostInterpreter

    out = tmp_path / "fixed.tflite"
    proc = run_cli("requantize", per_channel_dense_model, "--out", out)
    assert proc.returncode == 0, proc.stderr
    assert "2 dense layers" in proc.stdout
    fixed = out.read_bytes()
    assert dense_weight_scales(fixed) == [1, 1]
    # the same function, not a different model: predictions agree on random inputs
    before, after = (HostInterpreter(per_channel_dense_model.read_bytes()), HostInterpreter(fixed))
    rng = np.random.default_rng(1)
    x = rng.integers(-128, 128, (50, 1, 8, 8, 1), dtype=np.int8)
    agree = np.mean([np.argmax(before.run(s)) == np.argmax(after.run(s)) for s in x])
    assert agree >= 0.9
    assert build("esp32", out, tmp_path / "p").fit.fits
    # never replaces a file
    again = run_cli("requantize", per_channel_dense_model, "--out", out)
    assert_one_line_error(again, "exists")


def test_a_recurrent_model_builds_for_both_boards_with_the_libraries_methods(tmp_path):
    """Keras 3's LSTM converts to a WHILE loop (TF 2.21's converter crashes when it quantizes
    one to int8, so this model stays float): ops edgecnn used to refuse for both boards."""
    import keras

    keras.utils.set_random_seed(2)
    model = keras.Sequential([keras.Input((12, 4), batch_size=1), keras.layers.LSTM(8),
                              keras.layers.Dense(3, activation="softmax")])
    path = tmp_path / "lstm.tflite"
    path.write_bytes(_convert(model, None, int8=False))
    assert "WHILE" in {oc.name for oc in read_tflite(path).used_op_codes}
    for board in ("nano33", "esp32"):
        result = build(board, path, tmp_path / board)
        config = (result.project / "include" / "edgecnn_tflm_config.h").read_text()
        assert 'X(AddWhile, "WHILE")' in config


def test_an_int8_lstm_op_is_registered_with_the_libraries_lstm_method():
    from edgecnn.boards import load_board
    from edgecnn.runtimes.tflm_compat import check_model
    from edgecnn.tflite_model import OpCode, Operator, Tensor, TfliteModel

    lstm = OpCode("UNIDIRECTIONAL_SEQUENCE_LSTM", 1)
    tensors = [Tensor(i, f"t{i}", (1, 12, 4), "int8", 1, (0.1,), (0,), False) for i in range(2)]
    model = TfliteModel(b"", 3, "", [lstm], tensors, [Operator(0, lstm, (0,), (1,))], (0,),
                        (1,), 1)
    for board in ("nano33", "esp32"):
        b = load_board(board)
        assert check_model(model, b).bit_exact
        assert b.tflm.ops[lstm.name] == "AddUnidirectionalSequenceLSTM"


def test_an_op_the_esp32_library_lacks_is_refused_for_the_esp32_only(tmp_path):
    import keras

    a, b = keras.Input((4,), batch_size=1), keras.Input((4,), batch_size=1)
    model = keras.Model([a, b], keras.layers.Lambda(lambda t: t[0] / (t[1] + 2.0))([a, b]))
    path = tmp_path / "div.tflite"
    path.write_bytes(_convert(model, None, int8=False))
    assert "DIV" in {oc.name for oc in read_tflite(path).used_op_codes}
    with pytest.raises(UnsupportedModelError, match=r"no resolver method for DIV"):
        build("esp32", path, tmp_path / "esp")
    result = build("nano33", path, tmp_path / "nano")
    assert 'X(AddDiv, "DIV")' in (result.project / "include" / "edgecnn_tflm_config.h"
                                  ).read_text()
    assert any("float32 model" in w for w in result.warnings)


def test_mlperf_models_have_per_tensor_dense_layers_and_build_without_force(tmp_path):
    for name in ("kws_ref_model.tflite", "ad01_int8.tflite"):
        assert set(dense_weight_scales(shared_model(name).read_bytes())) == {1}
        assert build("nano33", shared_model(name), tmp_path / name).manifest.not_bit_exact == []
