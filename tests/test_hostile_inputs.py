"""Hostile inputs: data folders, IDX files, metadata and options that once crashed or misled.
Each ends with the right result, or exit status 2 and one line that names the culprit."""
import gzip
import io
import json
import shutil
import struct

import numpy as np
import pytest
from conftest import assert_one_line_error, run_cli
from PIL import Image

from edgecnn.data import load_dataset, read_idx
from edgecnn.errors import DatasetError, ModelFileError
from edgecnn.metadata import ModelMeta


def _folder(tmp_path, n=6):
    root = tmp_path / "imgs"
    rng = np.random.default_rng(0)
    for cls in ("cat", "dog"):
        (root / cls).mkdir(parents=True)
        for i in range(n):
            Image.fromarray(rng.integers(0, 255, (12, 12, 3), dtype=np.uint8)).save(
                root / cls / f"{i}.png")
    return root


@pytest.mark.parametrize("bad", ["corrupt.jpg", "truncated.png", "text.png"])
def test_a_broken_image_is_named_in_one_line(tmp_path, bad):
    root = _folder(tmp_path)
    target = root / "dog" / bad
    if bad == "corrupt.jpg":
        buf = io.BytesIO()
        Image.new("RGB", (12, 12)).save(buf, "JPEG")
        data = bytearray(buf.getvalue())
        data[200:260] = b"\x00" * 60
        target.write_bytes(bytes(data[:len(data) // 2]))
    elif bad == "truncated.png":
        target.write_bytes((root / "dog" / "0.png").read_bytes()[:60])
    else:
        target.write_text("this is not an image")
    with pytest.raises(DatasetError, match=f"cannot read image .*{bad}"):
        load_dataset(data_dir=root)
    proc = run_cli("train", "--data", root, "--epochs", "1", "--out", tmp_path / "m.keras")
    assert_one_line_error(proc, bad)


def test_mixed_sizes_suggest_an_option_that_parses(tmp_path):
    root = _folder(tmp_path)
    Image.new("RGB", (20, 16)).save(root / "cat" / "big.png")
    with pytest.raises(DatasetError) as info:
        load_dataset(data_dir=root)
    hint = str(info.value).split("--image-size ")[-1].split(")")[0]
    assert hint == "12x12"
    ds = load_dataset(data_dir=root, image_size=(12, 12))     # the hint works
    assert ds.input_shape == (12, 12, 3)


def test_a_symlink_loop_and_a_file_are_not_called_missing(tmp_path):
    loop = tmp_path / "loop"
    loop.symlink_to(loop)
    with pytest.raises(DatasetError, match="broken symbolic link"):
        load_dataset(data_dir=loop)
    (tmp_path / "f").write_text("x")
    with pytest.raises(DatasetError, match="is a file"):
        load_dataset(data_dir=tmp_path / "f")


def _idx(path, dims, payload: bytes, ndim=None):
    header = bytes([0, 0, 8, len(dims) if ndim is None else ndim])
    header += b"".join(struct.pack(">I", d) for d in dims)
    with gzip.open(path, "wb") as f:
        f.write(header + payload)


def test_idx_headers_that_lie_are_one_line(tmp_path):
    _idx(tmp_path / "a.gz", [2, 2], b"\x00" * 4, ndim=40)     # 40 dims, 8 bytes of them
    with pytest.raises(DatasetError, match="declares 40 dimensions"):
        read_idx(tmp_path / "a.gz")
    _idx(tmp_path / "b.gz", [4_000_000_000, 4_000_000_000], b"\x00" * 16)
    with pytest.raises(DatasetError, match="does not match its header"):
        read_idx(tmp_path / "b.gz")


def _fashion_dir(tmp_path, n_train=64, n_labels=64, label_max=9):
    d = tmp_path / "fm"
    d.mkdir(parents=True)
    rng = np.random.default_rng(0)
    _idx(d / "train-images-idx3-ubyte.gz", [n_train, 28, 28],
         rng.integers(0, 255, n_train * 784, dtype=np.uint8).tobytes())
    labels = rng.integers(0, 10, n_labels, dtype=np.uint8)
    labels[-1] = label_max
    _idx(d / "train-labels-idx1-ubyte.gz", [n_labels], labels.tobytes())
    _idx(d / "t10k-images-idx3-ubyte.gz", [16, 28, 28], b"\x01" * 16 * 784)
    _idx(d / "t10k-labels-idx1-ubyte.gz", [16], bytes(range(10)) + bytes(6))
    return d


def test_labels_that_do_not_fit_the_images_are_refused_before_training(tmp_path, monkeypatch):
    monkeypatch.setenv("EDGECNN_DATA_DIR", str(_fashion_dir(tmp_path, n_labels=60)))
    with pytest.raises(DatasetError, match="64 images but 60 labels"):
        load_dataset("fashion_mnist")
    monkeypatch.setenv("EDGECNN_DATA_DIR", str(_fashion_dir(tmp_path / "x", label_max=200)))
    with pytest.raises(DatasetError, match="include 200, outside the 10 classes"):
        load_dataset("fashion_mnist")


@pytest.mark.parametrize("content, fragment", [
    ("[1, 2, 3]", "not a JSON object"),
    ('{"class_names": "abc"}', "'class_names'"),
    ('{"input_scale": "big"}', "'input_scale'"),
    ('{"samples": [{"label": 1, "input": [999]}]}', "samples[0]"),
])
def test_metadata_of_the_wrong_shape_is_one_line(tmp_path, tiny_model, content, fragment):
    shutil.copy(tiny_model["tflite"], tmp_path / "m.tflite")
    (tmp_path / "m.json").write_text(content)
    with pytest.raises(ModelFileError, match=fragment.replace("[", r"\[")):
        ModelMeta.load(tmp_path / "m.json")
    proc = run_cli("build", "--board", "nano33", "--model", tmp_path / "m.tflite",
                   "--out", tmp_path / "p")
    assert_one_line_error(proc, "m.json")


def test_an_arena_below_the_need_is_refused_unless_forced(tmp_path, tiny_model):
    proc = run_cli("build", "--board", "nano33", "--model", tiny_model["tflite"],
                   "--out", tmp_path / "p", "--arena", "1024")
    assert_one_line_error(proc, "--arena 1,024 is below", "--force")
    proc = run_cli("build", "--board", "nano33", "--model", tiny_model["tflite"],
                   "--out", tmp_path / "p", "--arena", "1024", "--force")
    assert proc.returncode == 0, proc.stderr
    assert "AllocateTensors would fail" in proc.stderr
    assert json.loads((tmp_path / "p" / "edgecnn.json").read_text())["arena"][
        "allocated_bytes"] == 1024


def test_a_folder_given_as_a_model_is_edgecnns_one_line(tmp_path):
    proc = run_cli("analyze", tmp_path)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert len([line for line in proc.stderr.splitlines() if line.strip()]) == 1, proc.stderr


@pytest.fixture(scope="module")
def resource_variable_model(tmp_path_factory):
    """A model whose state lives in resource variables (VAR_HANDLE, READ_VARIABLE,
    ASSIGN_VARIABLE, CALL_ONCE): a running sum of its inputs."""
    import tensorflow as tf

    class Accumulator(tf.Module):
        def __init__(self):
            super().__init__()
            self.total = tf.Variable(tf.zeros([1, 4]))

        @tf.function(input_signature=[tf.TensorSpec([1, 4], tf.float32)])
        def __call__(self, x):
            self.total.assign_add(x)
            return self.total.read_value() * 2.0

    module = Accumulator()
    converter = tf.lite.TFLiteConverter.from_concrete_functions(
        [module.__call__.get_concrete_function()], module)
    converter.experimental_enable_resource_variables = True
    path = tmp_path_factory.mktemp("resvar") / "accumulator.tflite"
    path.write_bytes(converter.convert())
    return path


def test_a_resource_variable_model_is_analyzed_and_refused_for_boards(
        resource_variable_model, tmp_path):
    from edgecnn.tflite_model import read_tflite

    ops = [op.opcode.name for op in read_tflite(resource_variable_model).operators]
    assert {"CALL_ONCE", "VAR_HANDLE", "READ_VARIABLE", "ASSIGN_VARIABLE"} <= set(ops), ops
    proc = run_cli("analyze", resource_variable_model)
    assert proc.returncode == 0, proc.stderr
    rows = [line for line in proc.stdout.splitlines() if " v1 " in line]
    assert [line.split()[1] for line in rows] == ops    # every operator, outputs or not
    assert "(assign_variable)" in proc.stdout
    for board in ("nano33", "esp32"):
        proc = run_cli("build", "--board", board, "--model", resource_variable_model,
                       "--out", tmp_path / board, "--force")
        assert_one_line_error(proc, "resource variables", "MicroResourceVariables")
        assert not (tmp_path / board).exists()
