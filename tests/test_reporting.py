"""`edgecnn report` and `edgecnn compare` on small, quickly trained models (real digits)."""
import json
import re
from html.parser import HTMLParser

import numpy as np
import pytest
from conftest import assert_one_line_error, run_cli

from edgecnn.analyze import analyze
from edgecnn.build import build
from edgecnn.comparison import compare
from edgecnn.errors import OutputExistsError
from edgecnn.harness import bench
from edgecnn.quantize import load_keras_model
from edgecnn.reporting import feature_maps, first_conv_filters, pareto_front, report
from edgecnn.zoo import build_model

PNG = b"\x89PNG\r\n\x1a\n"


class _Html(HTMLParser):
    def __init__(self):
        super().__init__()
        self.images, self.tables, self.open = [], 0, []

    def handle_starttag(self, tag, attrs):
        if tag not in ("img", "meta", "br"):
            self.open.append(tag)
        if tag == "img":
            self.images.append(dict(attrs)["src"])
        self.tables += tag == "table"

    def handle_endtag(self, tag):
        assert self.open and self.open[-1] == tag, (self.open[-5:], tag)
        self.open.pop()


def _check_html(path):
    parser = _Html()
    parser.feed(path.read_text())
    assert parser.open == [], parser.open       # every element closed, properly nested
    return parser


def _check_pngs(folder):
    pngs = sorted(folder.glob("*.png"))
    assert pngs
    for png in pngs:
        assert png.read_bytes()[:8] == PNG, png
    return pngs


@pytest.fixture(scope="module")
def bench_report(tmp_path_factory, tiny_model):
    root = tmp_path_factory.mktemp("bench")
    project = build("nano33", tiny_model["tflite"], root / "p").project
    return bench(project, port="virtual", runs=30, warmup=0, out=root / "r" / "report.json",
                 timeout=3).files["json"]


@pytest.fixture(scope="module")
def model_report(tmp_path_factory, tiny_model, bench_report):
    out = tmp_path_factory.mktemp("report") / "report"
    return report(tiny_model["keras"], board="nano33", bench=bench_report, out=out)


def test_report_files_are_valid(model_report):
    out = model_report.out
    pngs = _check_pngs(out)
    html = _check_html(out / "report.html")
    # self-contained: every figure embedded, one per PNG file
    assert len(html.images) == len(pngs)
    assert all(src.startswith("data:image/png;base64,") for src in html.images)
    assert html.tables >= 3
    md = (out / "report.md").read_text()
    assert {m for m in re.findall(r"\]\(([^)]+\.png)\)", md)} == {p.name for p in pngs}
    for name in ("training_curves", "confusion_matrix", "predictions", "params_per_layer",
                 "activations_per_layer", "spatial_size", "receptive_field", "size",
                 "board_budget", "bench_latency", "filters", "feature_maps_0"):
        assert any(p.name.startswith(name) for p in pngs), name
    assert "VIRTUAL board (host timings)" in md and "source virtual" in md


def test_report_numbers_agree_with_quantize_and_analyze(model_report, tiny_model):
    n = model_report.numbers
    meta = tiny_model["quantized"].meta
    # the same test split through the same TFLM kernels
    assert n["accuracy"] == meta.int8_accuracy and n["test_samples"] == meta.test_samples
    a = analyze(tiny_model["tflite"])
    assert n["params"]["total"] == a.total_params and n["macs"] == a.total_macs
    assert n["params"]["conv"] + n["params"]["dense"] == a.total_params   # conv + dense model
    assert n["flash_bytes"] == tiny_model["tflite"].stat().st_size
    md = (model_report.out / "report.md").read_text()
    for row in a.layers:   # the per-layer table is analyze's
        assert f"| {row.index} | {row.op} |" in md and f"{row.params:,}" in md
    cm = n["most_confused"]
    assert cm["true"] != cm["predicted"] and 0 <= cm["share"] <= 1
    recall = np.mean([n["per_class"][c]["recall"] * n["per_class"][c]["support"]
                      for c in n["per_class"]]) * len(n["per_class"]) / n["test_samples"]
    assert recall == pytest.approx(n["accuracy"])
    assert n["fit"]["fits"] and n["bench"]["source"] == "virtual"
    saved = json.loads((model_report.out / "numbers.json").read_text())
    assert saved["accuracy"] == n["accuracy"]


def test_feature_maps_and_filters_have_the_right_shapes(tiny_model, digits):
    model = load_keras_model(tiny_model["keras"])
    maps = feature_maps(model, digits.x_test[0], ["conv1", "conv2"])
    conv1, conv2 = model.get_layer("conv1"), model.get_layer("conv2")
    assert maps["conv1"].shape == tuple(conv1.output.shape[1:]) == (8, 8, 16)
    assert maps["conv2"].shape == tuple(conv2.output.shape[1:])
    # Keras kernels are (kh, kw, in, out): filter o is kernel[:, :, :, o] averaged over inputs
    m = build_model("edge_cnn", (8, 8, 3), 10)
    layer = m.get_layer("conv1")
    kernel = np.arange(np.prod(layer.kernel.shape), dtype="float32").reshape(layer.kernel.shape)
    layer.set_weights([kernel, *layer.get_weights()[1:]])
    name, filters = first_conv_filters(m)
    assert name == "conv1" and filters.shape == (16, 3, 3)
    np.testing.assert_allclose(filters[5], kernel[:, :, :, 5].mean(axis=-1))
    np.testing.assert_allclose(filters[0, 1, 2], kernel[1, 2, :, 0].mean())


def test_report_output_rules(tiny_model, tmp_path):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    with pytest.raises(OutputExistsError, match="not an edgecnn report"):
        report(tiny_model["keras"], out=tmp_path / "mine", samples=50)
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep me"
    proc = run_cli("report", "--model", tiny_model["keras"], "--samples", "50", "--out",
                   tmp_path / "r")
    assert proc.returncode == 0, proc.stderr
    assert "most confused" in proc.stdout
    assert_one_line_error(run_cli("report", "--model", tiny_model["keras"], "--out",
                                  tmp_path / "r"), "--force")
    proc = run_cli("report", "--model", tiny_model["keras"], "--samples", "50", "--out",
                   tmp_path / "r", "--force", "--layers", "nope")
    assert_one_line_error(proc, "no layer named nope")
    assert (tmp_path / "r" / "report.html").is_file()   # the earlier report is still there
    assert not list(tmp_path.glob(".r.*"))               # and no staging folder is left


def test_pareto_front_and_best():
    rows = [{"name": "a", "params": 10, "int8_accuracy": 0.80},
            {"name": "b", "params": 20, "int8_accuracy": 0.85},
            {"name": "c", "params": 30, "int8_accuracy": 0.84},   # dominated by b
            {"name": "d", "params": 5, "int8_accuracy": 0.70}]
    assert sorted(pareto_front(rows)) == ["a", "b", "d"]
    # fronts worked out by hand: ties, a row that dominates everything, one row
    tie = [{"name": "x", "params": 10, "int8_accuracy": 0.9},
           {"name": "y", "params": 10, "int8_accuracy": 0.9}]
    assert sorted(pareto_front(tie)) == ["x", "y"]
    best = [{"name": "p", "params": 5, "int8_accuracy": 0.95},
            {"name": "q", "params": 6, "int8_accuracy": 0.90},
            {"name": "r", "params": 50, "int8_accuracy": 0.95}]
    assert pareto_front(best) == ["p"]
    assert pareto_front([{"name": "only", "params": 1, "int8_accuracy": 0.1}]) == ["only"]


def test_compare_cnn_vs_dense(digits, tmp_path):
    c = compare(digits, ["edge_cnn", "fcnn"], epochs=3, board="nano33", out=tmp_path / "cmp",
                train_samples=400, latency_runs=5)
    assert [r["name"] for r in c.rows] == ["edge_cnn", "fcnn"]
    for r in c.rows:
        assert r["params"] == build_model(r["name"], (8, 8, 1), 10).count_params()
        assert 0 < r["int8_accuracy"] <= 1 and r["host_latency_us"] > 0
        assert r["accuracy_per_mparam"] == pytest.approx(r["int8_accuracy"] / r["params"] * 1e6)
        assert r["arena_bytes"] % 16 == 0 and r["fits"]
    assert c.best["accuracy"] == max(c.rows, key=lambda r: r["int8_accuracy"])["name"]
    assert c.best["size"] == min(c.rows, key=lambda r: r["tflite_bytes"])["name"]
    assert c.best["fits_board"] == c.best["accuracy"]
    # by definition the most accurate and the smallest model are on the front
    assert c.best["accuracy"] in c.pareto
    assert min(c.rows, key=lambda r: (r["params"], -r["int8_accuracy"]))["name"] in c.pareto
    _check_pngs(c.out)
    html = _check_html(c.out / "report.html")
    assert len(html.images) == 3
    lines = (c.out / "compare.csv").read_text().splitlines()
    assert lines[0].startswith("name,float_accuracy,int8_accuracy") and len(lines) == 3
    assert "host" in (c.out / "report.md").read_text()
    # each architecture was a trial of the search's trial runner: its model is kept
    for number, r in enumerate(c.rows):
        folder = c.out / "trials" / f"{number:04d}"
        assert (folder / "model.keras").is_file() and (folder / "model.tflite").is_file()
        assert json.loads((folder / "model.json").read_text())["arch"] == r["name"]
