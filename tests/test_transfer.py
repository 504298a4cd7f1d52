"""Transfer learning with mobilenet_v2: from scratch, from a weights file the test saves itself,
fine-tuning, and the int8 model through `edgecnn build` like any other."""
import numpy as np
import pytest
from conftest import assert_one_line_error, run_cli

from edgecnn.build import build
from edgecnn.errors import ArchitectureError, WeightsError
from edgecnn.quantize import quantize
from edgecnn.tflite_model import read_tflite
from edgecnn.train import TrainConfig, train
from edgecnn.zoo import BACKBONE, build_model


@pytest.fixture(scope="module")
def small(digits):
    return digits.subset(train=300, test=60)


def _backbone(model):
    return model.get_layer(BACKBONE)


def test_from_scratch_converts_and_builds_for_both_boards(small, tmp_path):
    result = train("mobilenet_v2", small, TrainConfig(epochs=1, verbose=0, augment=False,
                                                      arch_params={"image_size": 32}))
    assert _backbone(result.model).trainable      # no pretrained weights: all of it trains
    q = quantize(result.model, small, out=tmp_path / "mv2.tflite", meta=result.meta,
                 representative_samples=50)
    ops = {oc.name for oc in read_tflite(q.tflite).used_op_codes}
    # 8x8 gray digits are resized and repeated to 32x32x3 on the device itself
    assert {"RESIZE_BILINEAR", "CONCATENATION", "DEPTHWISE_CONV_2D", "ADD"} <= ops
    assert abs(q.meta.float_accuracy - q.meta.int8_accuracy) <= 0.2
    for board in ("nano33", "esp32"):
        b = build(board, tmp_path / "mv2.tflite", tmp_path / board)
        assert b.fit.fits, b.fit.table()
        assert b.manifest.model.ops and (b.project / "src" / "main.cpp").is_file()
    # edgecnn's native runtime (RESIZE_BILINEAR, CONCATENATION, MUL and ADD of one value,
    # ...): its firmware compiled for the host, bit-exact with TFLM on real test images
    from edgecnn.harness.bench import bench

    native = build("nano33", tmp_path / "mv2.tflite", tmp_path / "native", runtime="native")
    report = bench(native.project, port="virtual", runs=3, warmup=1, verify=True, samples=60,
                   out=tmp_path / "r" / "report.json")
    assert report.verify.checked == report.verify.bitexact == 60


def test_pretrained_weights_file_fine_tuning(small, tmp_path):
    import keras

    keras.utils.set_random_seed(1)
    source = keras.applications.MobileNetV2(input_shape=(32, 32, 3), alpha=0.35,
                                            include_top=False, weights=None)
    weights = tmp_path / "base.weights.h5"
    source.save_weights(weights)
    model = build_model("mobilenet_v2", small.input_shape, small.num_classes, image_size=32,
                        pretrained=str(weights))
    base = _backbone(model)
    assert not base.trainable                       # frozen under the new head
    for got, want in zip(base.get_weights(), source.get_weights(), strict=True):
        np.testing.assert_array_equal(got, want)
    result = train(model, small, TrainConfig(epochs=1, verbose=0, augment=False, fine_tune=4,
                                             fine_tune_epochs=1))
    assert result.history["fine_tune_from_epoch"] == [1]
    assert len(result.history["loss"]) == 2 and result.meta.training["fine_tune"] == 4
    weighted = [layer for layer in base.layers if layer.weights]
    trainable = [layer for layer in weighted if layer.trainable]
    assert 0 < len(trainable) <= 4
    assert all(layer in weighted[-4:] for layer in trainable)
    assert not any(isinstance(layer, keras.layers.BatchNormalization) for layer in trainable)


# Loading a weights file made for another width makes Keras warn about every layer it skips
# before it fails; the failure is what this test checks.
@pytest.mark.filterwarnings("ignore:Skipping nested container:UserWarning")
def test_weights_that_do_not_exist_or_fit_are_refused(small, tmp_path):
    with pytest.raises(WeightsError, match="no such weights file"):
        build_model("mobilenet_v2", small.input_shape, 10, image_size=32,
                    pretrained=str(tmp_path / "missing.h5"))
    import keras

    other = keras.applications.MobileNetV2(input_shape=(32, 32, 3), alpha=1.0,
                                           include_top=False, weights=None)
    wrong = tmp_path / "alpha1.weights.h5"
    other.save_weights(wrong)
    with pytest.raises(WeightsError, match="cannot take --pretrained"):
        build_model("mobilenet_v2", small.input_shape, 10, image_size=32, pretrained=str(wrong))
    with pytest.raises(ArchitectureError, match="from 32 to 1024"):
        build_model("mobilenet_v2", small.input_shape, 10, image_size=16)
    with pytest.raises(ArchitectureError, match="needs --pretrained"):
        train("mobilenet_v2", small, TrainConfig(epochs=1, verbose=0, fine_tune=2,
                                                 arch_params={"image_size": 32}))


def test_cli_options_and_errors(tmp_path):
    proc = run_cli("train", "--dataset", "digits", "--arch", "edge_cnn", "--image-size", "32",
                   "--out", tmp_path / "m.keras")
    assert_one_line_error(proc, "--image-size resizes folder images")
    proc = run_cli("train", "--dataset", "digits", "--arch", "mobilenet_v2", "--image-size",
                   "32", "--pretrained", tmp_path / "nope.h5", "--out", tmp_path / "m.keras")
    assert_one_line_error(proc, "no such weights file")
    proc = run_cli("train", "--dataset", "digits", "--image-size", "3x", "--out", "m.keras")
    assert proc.returncode == 2 and "is not SIZE or HxW" in proc.stderr


def test_imagenet_weights_offline_is_one_clear_error(small, tmp_path, monkeypatch):
    """No network and an empty Keras cache: Keras' own get_file fails, edgecnn says what to do."""
    import urllib.error

    from keras.src.utils import file_utils

    def offline(url, *args, **kwargs):
        raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras-home"))
    monkeypatch.setattr(file_utils, "urlretrieve", offline)
    with pytest.raises(WeightsError, match=r"not in Keras' cache .*name resolution.*"
                                           r"--pretrained none"):
        build_model("mobilenet_v2", small.input_shape, 10, alpha=0.35, image_size=96,
                    pretrained="imagenet")
