"""The first run: the trained-model cache, a quiet console, `report` on a bare .keras."""
import json
import os
import shutil
import subprocess
import sys

import pytest
from conftest import run_cli

from edgecnn.build import build
from edgecnn.cache import ModelCache, TrainingKey, data_fingerprint
from edgecnn.console import captured
from edgecnn.train import TrainConfig


@pytest.fixture
def cache_dir(tmp_path, monkeypatch):
    folder = tmp_path / "cache"
    monkeypatch.setenv("EDGECNN_CACHE_DIR", str(folder))
    return folder


def test_a_second_build_reuses_the_trained_model(cache_dir, tmp_path):
    notes = []
    first = build("nano33", out=tmp_path / "a", dataset="digits", epochs=2,
                  log=notes.append)
    assert any(n.startswith("training edge_cnn on digits") for n in notes), notes
    entries = list((cache_dir / "models").iterdir())
    assert len(entries) == 1
    assert sorted(p.name for p in entries[0].iterdir()) == [
        "key.json", "model.history.json", "model.json", "model.keras", "model.tflite"]

    notes.clear()
    second = build("esp32", out=tmp_path / "b", dataset="digits", epochs=2, log=notes.append)
    assert not any(n.startswith("training") for n in notes), notes
    assert any(n.startswith("reusing edge_cnn trained on digits") and str(entries[0]) in n
               for n in notes), notes
    assert second.manifest.model.sha256 == first.manifest.model.sha256
    assert (tmp_path / "b" / "model" / "model.keras").is_file()

    # another setting is another model; --retrain trains even when the entry exists
    notes.clear()
    build("esp32", out=tmp_path / "c", dataset="digits", epochs=3, log=notes.append)
    assert any(n.startswith("training") for n in notes)
    notes.clear()
    build("esp32", out=tmp_path / "d", dataset="digits", epochs=2, retrain=True,
          log=notes.append)
    assert any(n.startswith("training") for n in notes)
    assert len(list((cache_dir / "models").iterdir())) == 2


def test_the_key_covers_data_settings_and_versions(digits):
    base = TrainingKey.for_run(digits, "edge_cnn", TrainConfig(epochs=2), 300)
    assert base == TrainingKey.for_run(digits, "edge_cnn", TrainConfig(epochs=2), 300)
    others = [
        TrainingKey.for_run(digits, "edge_cnn", TrainConfig(epochs=3), 300),
        TrainingKey.for_run(digits, "edge_cnn", TrainConfig(epochs=2, seed=1), 300),
        TrainingKey.for_run(digits, "dscnn", TrainConfig(epochs=2), 300),
        TrainingKey.for_run(digits, "edge_cnn",
                            TrainConfig(epochs=2, arch_params={"dense": 32}), 300),
        TrainingKey.for_run(digits, "edge_cnn", TrainConfig(epochs=2, weight_decay=0.0), 300),
        TrainingKey.for_run(digits, "edge_cnn", TrainConfig(epochs=2, augment=False), 300),
        TrainingKey.for_run(digits, "edge_cnn", TrainConfig(epochs=2), 100),
        TrainingKey.for_run(digits.subset(train=500), "edge_cnn", TrainConfig(epochs=2), 300),
    ]
    assert len({k.digest for k in [base, *others]}) == len(others) + 1
    assert set(base.versions) >= {"edgecnn", "recipe", "tensorflow", "keras", "tflite-micro"}
    changed = digits.subset()
    changed.x_train = changed.x_train.copy()
    changed.x_train[0, 0, 0, 0] += 0.5          # one pixel
    assert data_fingerprint(changed) != data_fingerprint(digits)


def test_a_damaged_entry_is_dropped_and_trained_again(cache_dir, tmp_path, tiny_model, digits):
    folder = tmp_path / "run"
    folder.mkdir()
    for suffix, name in ((".keras", "model.keras"), (".tflite", "model.tflite"),
                         (".json", "model.json"), (".history.json", "model.history.json")):
        shutil.copy(tiny_model["keras"].with_name("digits" + suffix), folder / name)
    cache = ModelCache()
    key = TrainingKey.for_run(digits, "edge_cnn", TrainConfig(epochs=6), 300)
    path = cache.store(key, folder)
    entry, problem = cache.lookup(key)
    assert entry is not None and problem is None and entry.path == path
    assert entry.tflite == tiny_model["tflite"].read_bytes()

    data = bytearray((path / "model.tflite").read_bytes())
    data[len(data) // 2] ^= 0xFF
    (path / "model.tflite").write_bytes(bytes(data))
    entry, problem = cache.lookup(key)
    assert entry is None and "damaged" in problem and "training again" in problem
    assert not path.exists()


def test_an_unwritable_cache_never_fails_a_run(tmp_path, digits, tiny_model):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    cache = ModelCache(blocker / "cache")
    key = TrainingKey.for_run(digits, "edge_cnn", TrainConfig(epochs=6), 300)
    assert cache.store(key, tiny_model["keras"].parent) is None
    assert cache.lookup(key) == (None, None)


def test_captured_output_goes_to_the_log_not_the_console(capfd, cache_dir):
    import ctypes
    import warnings

    libc = ctypes.CDLL(None)
    with captured("a noisy step") as log:
        print("python stdout")
        print("python stderr", file=sys.stderr)
        os.write(1, b"fd one\n")
        libc.printf(b"buffered C stdout\n")      # still in stdio's buffer when the step ends
        warnings.warn("a library warning", stacklevel=1)
    out, err = capfd.readouterr()
    assert out == "" and err == ""
    text = log.read_text()
    for line in ("== ", "a noisy step", "python stdout", "python stderr", "fd one",
                 "buffered C stdout", "UserWarning: a library warning"):
        assert line in text, text
    assert log.name.startswith("edgecnn-") and log.suffix == ".log"
    print("after")
    assert capfd.readouterr().out == "after\n"


def test_a_log_deleted_by_another_process_while_pruning_is_no_error(cache_dir, monkeypatch):
    """A search's workers start together and prune one logs folder: a log listed by one may be
    gone (unlinked by another) before it is looked at. A dangling link is such a log."""
    from edgecnn import console

    logs = cache_dir / "logs"
    logs.mkdir(parents=True)
    for i in range(25):
        old = logs / f"edgecnn-20000101-0000{i:02d}-1.log"
        old.write_text("old")
        os.utime(old, (946684800 + i, 946684800 + i))
    (logs / "edgecnn-20000101-000100-2.log").symlink_to(logs / "unlinked-meanwhile")
    monkeypatch.setattr(console, "_log_path", None)
    mine = console.log_path()
    assert mine.parent == logs and mine.exists()
    kept = sorted(p.name for p in logs.glob("edgecnn-*.log") if p.exists())
    assert len(kept) == console.KEEP_LOGS and mine.name in kept
    assert "edgecnn-20000101-000000-1.log" not in kept      # the oldest went
    assert "edgecnn-20000101-000024-1.log" in kept


def test_train_prints_one_line_per_epoch_when_not_a_terminal(tmp_path):
    proc = run_cli("train", "--dataset", "digits", "--epochs", "2", "--out", "m.keras",
                   cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "\r" not in proc.stdout and "\b" not in proc.stdout and "━" not in proc.stdout
    epochs = [line for line in proc.stdout.splitlines() if line.startswith("Epoch ")]
    assert epochs == ["Epoch 1/2", "Epoch 2/2"], proc.stdout
    assert max(len(line) for line in proc.stdout.splitlines()) < 200


def test_quantize_console_holds_only_edgecnn_lines(tmp_path, tiny_model, cache_dir):
    shutil.copy(tiny_model["keras"], tmp_path / "m.keras")
    shutil.copy(tiny_model["keras"].with_suffix(".json"), tmp_path / "m.json")
    env = dict(os.environ, EDGECNN_CACHE_DIR=str(cache_dir))
    proc = subprocess.run([sys.executable, "-m", "edgecnn.cli", "quantize", "m.keras",
                           "--eval-samples", "50"], cwd=tmp_path, capture_output=True,
                          text=True, env=env)
    assert proc.returncode == 0, proc.stderr
    for noise in ("Saved artifact", "TensorSpec", "fully_quantize", "UserWarning",
                  "Endpoint"):
        assert noise not in proc.stdout + proc.stderr, proc.stdout + proc.stderr
    assert proc.stderr == ""
    assert proc.stdout.startswith("saved m.tflite")
    logs = list((cache_dir / "logs").glob("edgecnn-*.log"))
    assert len(logs) == 1 and "TFLite conversion" in logs[0].read_text()


@pytest.mark.parametrize("args", [["train", "--data", "images", "--epochs", "1", "--out",
                                   "m.keras"],
                                  ["quantize", "bad.keras"]])
def test_tensorflow_start_up_log_never_reaches_the_console(tmp_path, cache_dir, args):
    """Without TF_CPP_MIN_LOG_LEVEL (a user's shell): TensorFlow's import lines (absl, oneDNN,
    CPU features) go to the log file, on success and on an error after the import alike."""
    import zipfile

    from PIL import Image

    with zipfile.ZipFile(tmp_path / "bad.keras", "w") as archive:
        archive.writestr("config.json", "not a Keras model")
    for label in ("cat", "dog"):
        (tmp_path / "images" / label).mkdir(parents=True)
        for i in range(3):
            Image.new("L", (8, 8), 40 * i + (100 if label == "dog" else 0)).save(
                tmp_path / "images" / label / f"{i}.png")
    env = {k: v for k, v in os.environ.items() if not k.startswith("TF_")}
    env["EDGECNN_CACHE_DIR"] = str(cache_dir)
    proc = subprocess.run([sys.executable, "-m", "edgecnn.cli", *args], cwd=tmp_path,
                          capture_output=True, text=True, env=env)
    console = proc.stdout + proc.stderr
    for noise in ("absl", "oneDNN", "cpu_feature_guard", "rebuild TensorFlow", "I0000"):
        assert noise not in console, console
    if args[0] == "quantize":
        assert proc.returncode == 2 and proc.stderr.count("\n") == 1, proc.stderr
        assert proc.stderr.startswith("edgecnn: error: cannot load Keras model"), proc.stderr
    else:
        assert proc.returncode == 0 and "saved" in proc.stdout, console
    logs = list((cache_dir / "logs").glob("edgecnn-*.log"))
    assert any("importing TensorFlow and Keras" in log.read_text() for log in logs)


def test_report_quantizes_a_bare_keras_model(tmp_path, tiny_model):
    shutil.copy(tiny_model["keras"], tmp_path / "m.keras")
    shutil.copy(tiny_model["keras"].with_suffix(".json"), tmp_path / "m.json")
    proc = run_cli("report", "--model", "m.keras", "--samples", "60", "--out", "r",
                   cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.json", "m.keras", "r"]
    numbers = json.loads((tmp_path / "r" / "numbers.json").read_text())
    assert numbers["tflite"].startswith("model.tflite")
    assert (tmp_path / "r" / "model.tflite").read_bytes()[4:8] == b"TFL3"
    assert 0.5 < numbers["accuracy"] <= 1.0
