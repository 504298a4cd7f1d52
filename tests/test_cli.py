"""The command line end to end, in subprocesses, as a user runs it."""
import json

import pytest
from conftest import assert_one_line_error, run_cli, shared_model


@pytest.fixture(scope="module")
def cli_model(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cli")
    proc = run_cli("train", "--dataset", "digits", "--epochs", "2", "--out", "m.keras",
                   cwd=folder)
    assert proc.returncode == 0, proc.stderr
    assert "float test accuracy" in proc.stdout
    return folder


def test_train_writes_model_metadata_and_history(cli_model):
    for name in ("m.keras", "m.json", "m.history.json"):
        assert (cli_model / name).is_file()
    assert not list(cli_model.glob(".*tmp*"))  # no temporary leftovers


def test_quantize_reports_accuracy_and_quantization(cli_model):
    proc = run_cli("quantize", "m.keras", "--eval-samples", "100", cwd=cli_model)
    assert proc.returncode == 0, proc.stderr
    assert "int8 (TFLite Micro kernels)" in proc.stdout and "zero point" in proc.stdout
    meta = json.loads((cli_model / "m.json").read_text())
    assert meta["int8_accuracy"] is not None and meta["test_samples"] == 100


def test_build_from_keras_then_overwrite_rules(cli_model):
    proc = run_cli("build", "--board", "esp32dev", "--model", "m.keras", "--out", "proj",
                   cwd=cli_model)
    assert proc.returncode == 0, proc.stderr
    assert "next      edgecnn flash --project proj" in proc.stdout
    assert "(runs: pio run -d proj -e esp32 -t upload)" in proc.stdout
    manifest = json.loads((cli_model / "proj" / "edgecnn.json").read_text())
    assert manifest["model"]["labels"] == [str(d) for d in range(10)]
    assert "real samples from the digits test split" in manifest["test_vectors"]["source"]
    again = run_cli("build", "--board", "esp32", "--model", "m.tflite", "--out", "proj",
                    cwd=cli_model)
    assert_one_line_error(again, "already holds an edgecnn project", "--force")
    forced = run_cli("build", "--board", "esp32", "--model", "m.tflite", "--out", "proj",
                     "--force", cwd=cli_model)
    assert forced.returncode == 0, forced.stderr


def test_build_never_touches_a_foreign_folder(tmp_path):
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("precious")
    for extra in ([], ["--force"]):
        proc = run_cli("build", "--board", "nano33", "--model",
                       shared_model("ad01_int8.tflite"), "--out", foreign, *extra)
        assert_one_line_error(proc, "not an edgecnn project")
    assert [p.name for p in foreign.iterdir()] == ["notes.txt"]
    assert (foreign / "notes.txt").read_text() == "precious"


@pytest.mark.parametrize("board", ["uno", "../nano33", "nano33/x"])
def test_bad_board_names(tmp_path, board):
    proc = run_cli("build", "--board", board, "--model", shared_model("ad01_int8.tflite"),
                   "--out", tmp_path / "p")
    assert_one_line_error(proc, "nano33ble", "esp32")
    assert not (tmp_path / "p").exists()


@pytest.mark.parametrize("content", [b"", b"\x13\x37" * 500])
def test_bad_models_leave_nothing_behind(tmp_path, content):
    for suffix in (".tflite", ".keras"):
        model = tmp_path / f"bad{suffix}"
        model.write_bytes(content)
        out = tmp_path / f"p{suffix}"
        assert_one_line_error(run_cli("build", "--board", "nano33", "--model", model,
                                      "--out", out))
        assert not out.exists()
    assert_one_line_error(run_cli("quantize", tmp_path / "bad.keras", "--dataset", "digits"))
    assert (tmp_path / "bad.tflite").read_bytes() == content  # untouched
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.keras", "bad.tflite"]


def test_unknown_architecture_and_dataset(tmp_path):
    assert_one_line_error(run_cli("train", "--dataset", "digits", "--arch", "vgg", "--out",
                                  tmp_path / "x.keras"), "unknown architecture")
    assert_one_line_error(run_cli("train", "--dataset", "svhn", "--out", tmp_path / "x.keras"),
                          "unknown data set")
    assert not list(tmp_path.iterdir())


def test_quantize_with_the_wrong_data_set(cli_model):
    proc = run_cli("quantize", "m.keras", "--dataset", "fashion_mnist", "--out", "wrong.tflite",
                   cwd=cli_model)
    assert_one_line_error(proc, "expects input (8, 8, 1)")
    assert not (cli_model / "wrong.tflite").exists()


def test_main_job_trains_fashion_mnist_and_builds_for_nano33(tmp_path):
    """`edgecnn build --board nano33` with no model, on a Fashion-MNIST subset for speed."""
    proc = run_cli("build", "--board", "nano33", "--train-samples", "3000", "--epochs", "2",
                   cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    project = tmp_path / "nano33ble_edge_cnn"
    assert f"project   {project}" in proc.stdout or "project   nano33ble_edge_cnn" in proc.stdout
    manifest = json.loads((project / "edgecnn.json").read_text())
    assert manifest["model"]["labels"][0] == "T-shirt/top"
    assert manifest["model"]["int8_accuracy"] > 0.5
    assert manifest["fit"]["fits"]
    for f in ("model/model.keras", "model/model.tflite", "model/model.json",
              "model/model.history.json", "src/main.cpp", "platformio.ini"):
        assert (project / f).is_file(), f


def test_models_and_boards_commands():
    proc = run_cli("models", "--input-shape", "28,28,1")
    assert proc.returncode == 0, proc.stderr
    assert "51,818" in proc.stdout  # edge_cnn, as computed by hand in test_zoo_quantize
    assert run_cli("boards").stdout.count("PlatformIO") == 2


def test_image_size_is_refused_where_nothing_uses_it(tmp_path):
    """--image-size sets mobilenet_v2's input size or resizes folder images; for another
    architecture on a named data set it is one line, exit 2, and nothing is trained."""
    proc = run_cli("train", "--arch", "edge_cnn", "--image-size", "32", "--out",
                   str(tmp_path / "m.keras"))
    assert proc.returncode == 2 and "--image-size" in proc.stderr
    assert "mobilenet_v2" in proc.stderr and not (tmp_path / "m.keras").exists()


@pytest.mark.parametrize("args,fragment", [
    (["bench", "--project", ".", "--runs", "0"], "--runs"),
    (["train", "--epochs", "0"], "--epochs"),
    (["build", "--board", "nano33", "--arena", "1023"], "--arena"),
    (["bench", "--project"], "--project"),
    (["analyze"], "MODEL"),
    (["no-such-command"], "no-such-command"),
])
def test_option_errors_are_one_line(args, fragment):
    """click's own refusals (ranges, missing values, unknown commands) come out as edgecnn's
    one line, exit 2, not click's three-line usage block."""
    proc = run_cli(*args)
    assert_one_line_error(proc, fragment)
    assert "Usage:" not in proc.stderr and "Try '" not in proc.stderr
