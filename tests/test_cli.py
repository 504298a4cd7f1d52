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
    (["train", "--seed", "-5"], "--seed"),
    (["train", "--seed", "99999999999999999999"], "--seed"),
    (["train", "--train-samples", "0"], "--train-samples"),
    (["train", "--train-samples", "-5"], "--train-samples"),
    (["train", "--alpha", "nan"], "--alpha"),
    (["bench", "--project", ".", "--timeout", "inf"], "--timeout"),
    (["bench", "--project", ".", "--timeout", "1e309"], "--timeout"),
    (["bench", "--project", ".", "--timeout", "nan"], "--timeout"),
    (["bench", "--project", ".", "--window", "nan"], "--window"),
    (["bench", "--project", ".", "--samples", "1000000000000"], "--samples"),
])
def test_option_errors_are_one_line(args, fragment):
    """click's own refusals (ranges, missing values, unknown commands) come out as edgecnn's
    one line, exit 2, not click's three-line usage block."""
    proc = run_cli(*args)
    assert_one_line_error(proc, fragment)
    assert "Usage:" not in proc.stderr and "Try '" not in proc.stderr


@pytest.mark.parametrize("param, fragment", [
    ("filters=NaN", "not an integer"), ("filters=[0]", "from 1 to 1024"),
    ("dense=1e9", "from 1 to 4096"), ("dropout=2", "from 0 to 0.9"),
    ("filters=abc", "not a number"), ("bogus=1", "not bogus"),
    ("filters=[1,2,3,4,5,6,7]", "1 to 6 integers"),
])
def test_zoo_parameters_are_checked_before_tensorflow_is_imported(tmp_path, param, fragment):
    proc = run_cli("train", "--dataset", "digits", "--param", param, "--out",
                   tmp_path / "m.keras")
    assert_one_line_error(proc, param.split("=")[0], fragment)
    assert "data:" not in proc.stderr          # refused before the data was loaded
    import subprocess
    import sys

    check = subprocess.run([sys.executable, "-c", (
        "import sys\n"
        "from edgecnn.errors import ArchitectureError\n"
        "from edgecnn.zoo import arch_params\n"
        "from edgecnn.cli import _parse_params\n"
        f"try: arch_params('edge_cnn', _parse_params([{param!r}]))\n"
        "except ArchitectureError: pass\n"
        "print('tensorflow' in sys.modules)")], capture_output=True, text=True)
    assert check.stdout.strip() == "False", check.stderr


def test_training_options_with_a_ready_model_are_refused(tmp_path, tiny_model):
    for extra, fragment in ((["--arch", "dscnn"], "--arch"), (["--epochs", "3"], "--epochs"),
                            (["--port", "/dev/ttyACM0"], "--flash")):
        proc = run_cli("build", "--model", tiny_model["tflite"], "--board", "nano33", "--out",
                       tmp_path / "P", *extra)
        assert_one_line_error(proc, fragment)
    assert not (tmp_path / "P").exists()


def test_flash_dry_run_prints_a_command_a_shell_runs_as_shown(tmp_path, tiny_model):
    import shlex

    out = tmp_path / "P"
    run_cli("build", "--model", tiny_model["tflite"], "--board", "nano33", "--out", out)
    proc = run_cli("flash", "--project", out, "--dry-run", "--port", "/dev/tty;rm -rf ~")
    assert proc.returncode == 0, proc.stderr
    assert shlex.split(proc.stdout.strip())[-2:] == ["--upload-port", "/dev/tty;rm -rf ~"]
    assert_one_line_error(run_cli("flash", "--project", out, "--dry-run", "--port", "a\nb"),
                          "not a serial port name")


def test_usb_commands_on_an_emulator_project_say_what_to_run(tmp_path, tiny_model):
    out = tmp_path / "P"
    run_cli("build", "--model", tiny_model["tflite"], "--board", "mps2-an386", "--out", out)
    for command in ("flash", "monitor"):
        assert_one_line_error(run_cli(command, "--project", out), "emulated board",
                              "edgecnn emulate")
    for serial in ("tcp:99999", "tcp:0", "tcp:x"):
        assert_one_line_error(run_cli("emulate", "--project", out, "--serial", serial),
                              "1 to 65535")


def test_report_refuses_another_models_tflite_and_bench(tmp_path, tiny_model):
    from test_native_validation import depthwise_model

    foreign = tmp_path / "other.tflite"
    foreign.write_bytes(depthwise_model())
    base = ("report", "--model", tiny_model["keras"], "--samples", "20")
    assert_one_line_error(run_cli(*base, "--tflite", foreign, "--out", tmp_path / "R1"),
                          "another model's .tflite")
    bench_report = tmp_path / "b" / "report.json"
    bench_report.parent.mkdir()
    bench_report.write_text(json.dumps({"source": "virtual", "project": {"sha256": "0" * 64},
                                        "latency": {"us": {"count": 3, "p50": 1, "p90": 2,
                                                           "p99": 3}}}))
    assert_one_line_error(run_cli(*base, "--bench", bench_report, "--out", tmp_path / "R2"),
                          "measured a model with SHA-256")
    bench_report.write_text(json.dumps({"source": "virtual", "latency": {
        "us": {"count": "3", "p50": "fast", "p90": 2, "p99": 3}}}))
    assert_one_line_error(run_cli(*base, "--bench", bench_report, "--out", tmp_path / "R3"),
                          "not a report.json written by `edgecnn bench`", "not a number")
    assert not any((tmp_path / name).exists() for name in ("R1", "R2", "R3"))


def test_analyze_refuses_a_huge_file_without_reading_it(tmp_path):
    import time

    big = tmp_path / "big.tflite"
    with open(big, "wb") as f:
        f.write(b"\0\0\0\0TFL3")
        f.truncate(3 * 2**30)                # sparse: 3 GiB on paper, nothing on disk
    start = time.monotonic()
    assert_one_line_error(run_cli("analyze", big), "more than a TFLite flatbuffer can hold")
    assert time.monotonic() - start < 20
