import json

import numpy as np
import pytest

from edgecnn.errors import ArchitectureError, ShapeMismatchError
from edgecnn.quantize import quantize
from edgecnn.tflite_model import read_tflite
from edgecnn.zoo import ARCHITECTURES, build_model


def test_edge_cnn_parameter_count_by_hand():
    # conv 3x3x1x16 stride 2 (28 -> 14) + batch norm 4x16; conv 3x3x16x32 stride 2 (-> 7)
    # + batch norm 4x32; conv 3x3x32x64 (7) + batch norm 4x64, pool -> 3x3x64 = 576;
    # dense 576*48+48; logits 48*10+10
    expected = ((9 * 16 + 4 * 16) + (9 * 16 * 32 + 4 * 32) + (9 * 32 * 64 + 4 * 64)
                + (576 * 48 + 48) + (48 * 10 + 10))
    assert build_model("edge_cnn", (28, 28, 1), 10).count_params() == expected == 51818


def test_edge_cnn_gap_parameter_count_by_hand_and_its_batch_norm_folds_away(digits):
    # conv 3x3x1x16 (no bias) + batch norm 4x16, pool 28 -> 14; conv 3x3x16x32 + 4x32, pool
    # -> 7; conv 3x3x32x48 + 4x48, pool -> 3; conv 3x3x48x64 + 4x64; average 3x3 -> 64;
    # logits 64*10+10
    expected = ((9 * 16 + 4 * 16) + (9 * 16 * 32 + 4 * 32) + (9 * 32 * 48 + 4 * 48)
                + (9 * 48 * 64 + 4 * 64) + (64 * 10 + 10))
    model = build_model("edge_cnn_gap", (28, 28, 1), 10, filters=(16, 32, 48, 64))
    assert model.count_params() == expected == 47_514
    small = digits.subset(train=100, test=10)
    q = quantize(build_model("edge_cnn_gap", small.input_shape, small.num_classes),
                 small, representative_samples=20)
    m = read_tflite(q.tflite)
    # batch normalization is folded into each convolution: no MUL/ADD of its own
    assert sorted(oc.name for oc in m.used_op_codes) == [
        "AVERAGE_POOL_2D", "CONV_2D", "FULLY_CONNECTED", "MAX_POOL_2D", "SOFTMAX"]
    assert sum(op.opcode.name == "CONV_2D" for op in m.operators) == 4


def test_unknown_architecture_and_parameter():
    with pytest.raises(ArchitectureError, match="choose one of"):
        build_model("vgg16", (28, 28, 1), 10)
    with pytest.raises(ArchitectureError, match="not units"):
        build_model("edge_cnn", (28, 28, 1), 10, units=3)


# mobilenet_v2 untrained gives collapsed logits (refused, see below): test_transfer.py trains
# it briefly, then converts and builds it.
@pytest.mark.parametrize("arch", sorted(set(ARCHITECTURES) - {"mobilenet_v2"}))
def test_every_architecture_converts_to_int8_and_runs_in_tflm(arch, digits):
    import keras

    # Untrained weights: a fixed seed keeps the logits' range (and so the test) reproducible.
    keras.utils.set_random_seed(0)
    small = digits.subset(train=200, test=40)
    model = build_model(arch, small.input_shape, small.num_classes)
    q = quantize(model, small, representative_samples=50)
    m = read_tflite(q.tflite)
    assert m.kind == "int8"
    assert m.input_tensor().dtype == "int8" and m.output_tensor().dtype == "int8"
    ops = {oc.name for oc in m.used_op_codes}
    assert "MEAN" not in ops  # global average pooling must come out as AVERAGE_POOL_2D
    if arch in ("edge_cnn_gap", "dscnn", "mobilenet_v1", "resnet8"):
        assert "AVERAGE_POOL_2D" in ops
    assert not ops & {"SHAPE", "STRIDED_SLICE", "PACK"}  # static batch-1 graph
    assert q.meta.test_samples == 40
    assert 0.0 <= q.meta.int8_accuracy <= 1.0


def test_collapsed_logits_are_refused_instead_of_aborting_tflm(digits):
    """TFLM's softmax Prepare calls abort() on a logits scale below 2^-26: refuse it first."""
    import keras

    from edgecnn.errors import UnsupportedModelError

    keras.utils.set_random_seed(0)
    small = digits.subset(train=100, test=10)
    model = build_model("edge_cnn", small.input_shape, small.num_classes)
    logits = model.get_layer("logits")
    kernel, bias = logits.get_weights()
    logits.set_weights([kernel * 1e-9, bias * 0.0])
    with pytest.raises(UnsupportedModelError, match=r"SOFTMAX .* below the 2\^-26"):
        quantize(model, small, representative_samples=20)


def test_float_and_int8_agree_on_a_trained_model(tiny_model):
    meta = tiny_model["quantized"].meta
    assert meta.float_accuracy > 0.8, meta.float_accuracy
    assert abs(meta.float_accuracy - meta.int8_accuracy) <= 0.03
    assert meta.int8_agreement >= 0.95
    assert meta.test_samples == 359  # the whole digits test split


def test_quantize_writes_metadata_beside_the_model(tiny_model):
    meta = json.loads(tiny_model["tflite"].with_suffix(".json").read_text())
    q = meta["quantization"]
    assert q["input"]["dtype"] == "int8" and q["input"]["shape"] == [1, 8, 8, 1]
    assert meta["class_names"] == [str(d) for d in range(10)]
    assert len(meta["samples"]) == 8 and len(meta["samples"][0]["input"]) == 64
    history = json.loads(tiny_model["keras"].with_suffix(".history.json").read_text())
    assert len(history["val_accuracy"]) == meta["training"]["epochs_run"]


def test_quantize_from_keras_file_reuses_its_metadata(tiny_model, tmp_path):
    q = quantize(tiny_model["keras"], out=tmp_path / "again.tflite", evaluate_samples=50)
    assert q.meta.dataset == "digits" and q.meta.test_samples == 50
    assert (tmp_path / "again.tflite").read_bytes() == q.tflite


def test_quantize_refuses_a_shape_mismatch_and_writes_nothing(tiny_model, tmp_path):
    from edgecnn.data import load_dataset

    fashion = load_dataset("fashion_mnist").subset(train=100, test=10)
    out = tmp_path / "wrong.tflite"
    with pytest.raises(ShapeMismatchError, match=r"expects input \(8, 8, 1\)"):
        quantize(tiny_model["keras"], fashion, out=out)
    assert not out.exists()


def test_int8_outputs_match_tflm_run_by_hand(tiny_model):
    from edgecnn.tflm_host import HostInterpreter

    q = tiny_model["quantized"]
    sample = q.meta.samples[0]
    out = HostInterpreter(q.tflite).run(np.array(sample["input"], np.int8))
    assert out.shape == (1, 10) and out.dtype == np.int8


def test_label_smoothing_trains_to_soft_targets_and_the_model_loads_plainly(digits, tmp_path):
    """With smoothing s over K classes the target is 1 - s + s/K on the class and s/K
    elsewhere, so the cross-entropy can never fall below that target's entropy: 0.50029 nats
    for s = 0.1, K = 10 (worked out by hand). The saved model needs no custom objects."""
    import keras

    from edgecnn.train import TrainConfig, train

    result = train("edge_cnn", digits, TrainConfig(epochs=3, patience=3, verbose=0,
                                                   label_smoothing=0.1),
                   out=tmp_path / "smooth.keras")
    assert min(result.history["loss"]) > 0.5002
    assert max(result.history["val_accuracy"]) > 0.5          # accuracy on class indices
    assert result.meta.training["label_smoothing"] == 0.1
    assert 0.5 < result.meta.float_accuracy <= 1.0
    loaded = keras.models.load_model(tmp_path / "smooth.keras")
    assert loaded.loss.get_config()["label_smoothing"] == 0.1


def test_label_smoothing_outside_zero_to_one_is_refused(digits):
    from edgecnn.errors import OptionError
    from edgecnn.train import TrainConfig, train

    with pytest.raises(OptionError, match="label smoothing 1.0"):
        train("edge_cnn", digits, TrainConfig(epochs=1, verbose=0, label_smoothing=1.0))
