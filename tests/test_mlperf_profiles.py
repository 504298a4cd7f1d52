"""MLPerf Tiny benchmark profiles end to end: for kws01, ic01, vww01 and ad01, a data set crafted
in the MLCommons runner's layout (``.bin`` files + ``y_labels.csv``) goes through
``edgecnn bench --dataset`` (the runner's accuracy mode) and the performance mode, on the
virtual board, the project's firmware compiled for the host, and the emulated Cortex-M4.

The expected results are computed here, by hand, the way the reference submissions do it
(``benchmark/reference_submissions/*/submitter_implemented.cpp``): kws01 bytes as sent; ic01 and
vww01 uint8 pixels minus 128; ad01 float32 features quantized with round-half-away-from-zero,
the result being ONE value, the float32 mean squared error of the dequantized output against
the input. The host reference is tflite-micro's interpreter, called directly."""
from __future__ import annotations

import csv
import json

import numpy as np
import pytest
from conftest import assert_one_line_error, require_tool, run_cli, shared_model
from sklearn.metrics import roc_auc_score

from edgecnn.build import build
from edgecnn.harness.bench import bench

SEED = 7


class Host:
    """tflite-micro's own interpreter, without edgecnn's wrapper."""

    def __init__(self, tflite: bytes):
        from tflite_micro.python.tflite_micro import runtime

        self.it = runtime.Interpreter.from_bytes(tflite)
        d_in, d_out = self.it.get_input_details(0), self.it.get_output_details(0)
        self.shape = tuple(int(x) for x in d_in["shape"])
        self.elements = int(np.prod(self.shape))
        self.outputs = int(np.prod(d_out["shape"]))
        q_in, q_out = d_in["quantization_parameters"], d_out["quantization_parameters"]
        self.q_in = (float(q_in["scales"][0]), int(q_in["zero_points"][0]))
        self.q_out = (float(q_out["scales"][0]), int(q_out["zero_points"][0]))

    def run(self, x):
        self.it.set_input(np.asarray(x, dtype=np.int8).reshape(self.shape), 0)
        self.it.invoke()
        return np.array(self.it.get_output(0)).reshape(-1)


def _quantize_like_the_reference(features: np.ndarray, scale: float, zero_point: int):
    ratio = features.astype(np.float32) / np.float32(scale)
    rounded = np.sign(ratio) * np.floor(np.abs(ratio).astype(np.float64) + 0.5)
    return np.clip(rounded + zero_point, -128, 127).astype(np.int8)


def _expected(model: str, tflite: bytes, sent: bytes) -> list[str]:
    """What a reference submission prints in m-results for the bytes ``sent``."""
    host = Host(tflite)
    scale_in, zp_in = host.q_in
    scale_out, zp_out = host.q_out
    if model in ("ic01", "vww01"):
        x = (np.frombuffer(sent, dtype=np.uint8).astype(np.int16) - 128).astype(np.int8)
    elif model == "ad01":
        features = np.frombuffer(sent, dtype="<f4")
        x = _quantize_like_the_reference(features, scale_in, zp_in)
    else:
        x = np.frombuffer(sent, dtype=np.int8)
    y = host.run(x).astype(np.int32)
    values = (y - zp_out).astype(np.float32) * np.float32(scale_out)
    if model != "ad01":
        return [f"{v:.3f}" for v in values]
    total = np.float32(0)
    for a, b in zip(values, features, strict=True):
        diff = np.float32(a - b)
        total = np.float32(total + diff * diff)
    return [f"{float(total / np.float32(len(values))):.3f}"]


def _craft(folder, model: str, tflite: bytes, files: int = 6):
    """A data set in the runner's layout; returns (folder, labels, [m-results per file])."""
    host = Host(tflite)
    elements, classes = host.elements, host.outputs
    rng = np.random.default_rng(SEED)
    folder.mkdir(parents=True)
    rows, labels, expected = [], [], []
    for i in range(files):
        label = i % (2 if model == "ad01" else classes)
        name = f"{model}_{i:03d}.bin"
        if model == "ad01":
            scale, zp = host.q_in
            frames = 7                                     # 3 windows of 5 frames, stride 1
            q = rng.integers(-128, 128, frames * 128)
            features = ((q - zp) * scale + rng.normal(0, scale / 4, q.shape)).astype("<f4")
            data = features.tobytes()
            rows.append([name, 2, label, 2560, 512])
            segments = [data[s:s + 2560] for s in range(0, len(data) - 2560 + 1, 512)]
            expected.append([_expected(model, tflite, s) for s in segments])
        else:
            if model in ("ic01", "vww01"):
                data = rng.integers(0, 256, elements, dtype=np.uint8).tobytes()
            else:
                data = rng.integers(-128, 128, elements).astype(np.int8).tobytes()
            rows.append([name, classes, label])
            expected.append([_expected(model, tflite, data)])
        (folder / name).write_bytes(data)
        labels.append(label)
    with open(folder / "y_labels.csv", "w", newline="") as f:
        csv.writer(f).writerows(rows)
    return folder, labels, expected


def _runner_scores(results, labels):
    """Top-1 and AUC as benchmark/runner/main.py computes them, written out again here."""
    y_pred = []
    for per_file in results:
        vectors = [np.asarray(r, dtype=float) for r in per_file]
        vectors = [v if len(v) == 1 else v / v.sum() for v in vectors]
        y_pred.append(np.mean(vectors, axis=0))
    y_pred, y_true = np.array(y_pred), np.array(labels)
    if y_pred.shape[1] == 1:
        return None, roc_auc_score(y_true, y_pred[:, 0])
    top1 = 100 * np.sum(np.argmax(y_pred, axis=1) == y_true) / len(y_pred)
    return top1, None


BENCHMARKS = {
    "kws01": "kws_ref_model.tflite",
    "ic01": "pretrainedResnet_quant.tflite",
    "ad01": "ad01_int8.tflite",
    "vww01": None,          # the session's tiny int8 model: vww01's conversion is ic01's
}


@pytest.fixture(scope="module")
def models(tiny_model):
    return {name: (shared_model(f) if f else tiny_model["tflite"])
            for name, f in BENCHMARKS.items()}


@pytest.fixture(scope="module")
def datasets(models, tmp_path_factory):
    root = tmp_path_factory.mktemp("mlperf_data")
    return {name: _craft(root / name, name, path.read_bytes()) for name, path in models.items()}


@pytest.mark.parametrize("model", sorted(BENCHMARKS))
@pytest.mark.parametrize("board,runtime", [("nano33", "tflm"), ("nano33", "native")])
def test_accuracy_mode_on_the_host(model, board, runtime, models, datasets, tmp_path):
    """tflm: the virtual board (host TFLM behind the protocol); native: the project's own
    firmware compiled for the host. Every m-results equals the reference submission's."""
    folder, labels, expected = datasets[model]
    project = build(board, models[model], tmp_path / "p", protocol="mlperf-tiny",
                    mlperf_model=model, runtime=runtime).project
    manifest = json.loads((project / "edgecnn.json").read_text())["firmware"]
    elements = Host(models[model].read_bytes()).elements
    assert manifest["mlperf_db_bytes"] == (2560 if model == "ad01" else elements)
    report = bench(project, port="virtual", dataset=folder, out=tmp_path / "r.json")
    acc = report.mlperf.accuracy
    rows = [json.loads(x) for x in (tmp_path / "r.jsonl").read_text().splitlines()]
    got = [r for r in rows if r["type"] == "mlperf_result"]
    want = [e for per_file in expected for e in per_file]
    assert [[f"{v:.3f}" for v in r["results"]] for r in got] == want
    assert acc.inferences == len(want) == acc.results_equal
    assert report.verdict.outputs_match is True
    top1, auc = _runner_scores([[[float(v) for v in e] for e in f] for f in expected], labels)
    if model == "ad01":
        assert acc.inferences == 3 * len(labels)       # the runner's sliding window
        assert len(got[0]["results"]) == 1
        assert acc.auc == pytest.approx(auc)
    else:
        assert acc.top1_percent == pytest.approx(top1)


@pytest.mark.parametrize("model", ["ic01", "ad01"])
def test_performance_mode_windows_from_a_first_measurement(model, models, tmp_path):
    project = build("nano33", models[model], tmp_path / "p", protocol="mlperf-tiny",
                    mlperf_model=model).project
    report = bench(project, port="virtual", window_s=0.3, warmup=1, out=tmp_path / "r.json")
    mp = report.mlperf
    assert len(mp.windows) == 5 and mp.results_match
    assert len({w.runs for w in mp.windows}) == 1            # one count for all five, as the runner
    # the count comes from a first measurement: the windows last the asked-for time (a host
    # under load may make one of them short; the median is not)
    assert sorted(w.elapsed_us for w in mp.windows)[2] >= 0.3e6
    assert not mp.windows_valid                   # shorter than the runner's 10 s
    assert 10e6 / mp.per_inference_us <= mp.inferences_per_10s <= 1.2e7 / mp.per_inference_us
    assert all(len(w.results) == (1 if model == "ad01" else 10) for w in mp.windows)


def test_db_load_is_sized_by_the_profile(models, tmp_path):
    """ad01 takes 2,560 bytes (float32 features); anything bigger is refused as the reference
    firmware refuses it; a model whose output is not its input's size cannot be ad01."""
    import serial

    from edgecnn.harness import HostFirmware
    from edgecnn.harness.mlperf import MlperfClient

    project = build("nano33", models["ad01"], tmp_path / "p", protocol="mlperf-tiny",
                    mlperf_model="ad01").project
    with HostFirmware(project) as board, serial.Serial(board.port, 115200, timeout=0.05) as port:
        client = MlperfClient(port, timeout=10)
        client.drain()
        assert client.command("db load 2560") == ["m-[Expecting 2560 bytes]", "m-ready"]
        assert client.command("db load 2561") == [
            "e-[Supplied buffer size 2561 exceeds maximum of 2560]", "m-ready"]
    refused = run_cli("build", "--board", "nano33", "--model", models["kws01"], "--out",
                      tmp_path / "bad", "--protocol", "mlperf-tiny", "--mlperf-model", "ad01")
    assert_one_line_error(refused, "ad01", "mean squared error")
    assert not (tmp_path / "bad").exists()
    no_protocol = run_cli("build", "--board", "nano33", "--model", models["kws01"], "--out",
                          tmp_path / "bad2", "--mlperf-model", "kws01")
    assert_one_line_error(no_protocol, "--protocol mlperf-tiny")


def test_dataset_errors_are_one_line(models, datasets, tmp_path):
    project = build("nano33", models["kws01"], tmp_path / "p", protocol="mlperf-tiny",
                    mlperf_model="kws01").project
    wrong = run_cli("bench", "--project", project, "--port", "virtual", "--dataset",
                    datasets["ic01"][0], "--out", tmp_path / "r1")
    assert_one_line_error(wrong, "3,072 bytes", "490")
    missing = run_cli("bench", "--project", project, "--port", "virtual", "--dataset",
                      tmp_path, "--out", tmp_path / "r2")
    assert_one_line_error(missing, "y_labels.csv")


@pytest.mark.parametrize("model", sorted(BENCHMARKS))
def test_on_the_emulated_cortex_m4(model, models, datasets, tmp_path):
    """The native firmware on QEMU mps2-an386: accuracy mode over the crafted data set (every
    m-results as a reference submission prints it) and a short performance run."""
    require_tool("qemu-system-arm")
    require_tool("arm-none-eabi-gcc")
    folder, labels, expected = datasets[model]
    project = build("mps2-an386", models[model], tmp_path / "p", protocol="mlperf-tiny",
                    mlperf_model=model).project
    report = bench(project, port="emulator", dataset=folder, out=tmp_path / "a.json")
    acc = report.mlperf.accuracy
    assert report.source == "emulator"
    assert acc.results_equal == acc.inferences == sum(len(f) for f in expected)
    perf = bench(project, port="emulator", runs=3, warmup=0, out=tmp_path / "p.json")
    assert perf.mlperf.results_match and len(perf.mlperf.windows) == 5
