"""``edgecnn report``: one HTML page (and the same as Markdown) about one trained model.

Example:
    >>> from edgecnn.reporting import report
    >>> r = report("model.keras", board="nano33", out="report/")     # doctest: +SKIP
    >>> r.numbers["accuracy"]                                         # doctest: +SKIP
    0.9
"""
from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..console import import_tensorflow
from ..errors import EdgecnnError
from ..fsutil import require_file
from . import figures as F
from .page import Page, Section, Table

GRID_IMAGES = 24
MAX_MAPS = 32     # feature-map channels shown per layer


@dataclass
class ModelReport:
    out: Path
    numbers: dict = field(default_factory=dict)
    files: list[str] = field(default_factory=list)


def first_conv_filters(model) -> tuple[str, np.ndarray]:
    """The first Conv2D's kernels as (out_channels, kernel_h, kernel_w), input channels averaged.

    Keras stores a Conv2D kernel as (kernel_h, kernel_w, in_channels, out_channels).
    """
    import_tensorflow()
    import keras

    for layer in model.layers:
        if isinstance(layer, keras.layers.Conv2D) and not isinstance(
                layer, keras.layers.DepthwiseConv2D):
            kernel = np.asarray(layer.get_weights()[0])
            return layer.name, np.transpose(kernel.mean(axis=2), (2, 0, 1))
    raise EdgecnnError("the model has no Conv2D layer, so it has no filters to show")


def feature_maps(model, image: np.ndarray, layer_names: list[str]) -> dict[str, np.ndarray]:
    """Activations of ``layer_names`` for one input image: {name: (H, W, C)}."""
    import_tensorflow()
    import keras

    known = {layer.name: layer for layer in model.layers}
    missing = [n for n in layer_names if n not in known]
    if missing:
        raise EdgecnnError(f"no layer named {', '.join(missing)}; the model's layers are "
                           f"{', '.join(known)}")
    probe = keras.Model(model.inputs, [known[n].output for n in layer_names])
    outputs = probe.predict(image[None].astype("float32"), verbose=0)
    if len(layer_names) == 1:
        outputs = [outputs]
    maps = {}
    for name, value in zip(layer_names, outputs, strict=True):
        value = np.asarray(value)[0]
        if value.ndim != 3:
            raise EdgecnnError(f"layer {name} gives a {value.ndim}-D output, not a feature "
                               "map (height x width x channels)")
        maps[name] = value
    return maps


def default_feature_layers(model) -> list[str]:
    """Up to four 4-D layers after a non-linearity (what the next layer sees); else the convs."""
    import_tensorflow()
    import keras

    L = keras.layers
    maps = [layer for layer in model.layers if len(getattr(layer.output, "shape", ())) == 4]
    seen = [layer.name for layer in maps
            if isinstance(layer, (L.ReLU, L.Activation, L.MaxPooling2D))
            or (isinstance(layer, L.Conv2D)
                and getattr(layer.activation, "__name__", "linear") != "linear")]
    return (seen or [layer.name for layer in maps if isinstance(layer, L.Conv2D)])[:4]


def report(model: str | Path, *, tflite: str | Path | None = None, board: str | None = None,
           bench: str | Path | None = None, out: str | Path = "report", samples: int | None = None,
           image_index: int = 0, layers: list[str] | None = None, force: bool = False
           ) -> ModelReport:
    """Write ``out/report.html``, ``report.md``, the PNGs and ``edgecnn-report.json``."""
    from ..analyze import analyze
    from ..metadata import ModelMeta
    from ..quantize import dataset_for, load_keras_model

    model_path = Path(model)
    keras_model = load_keras_model(model_path)
    meta = ModelMeta.beside(model_path)
    tflite_path = Path(tflite) if tflite else model_path.with_suffix(".tflite")
    if tflite:
        require_file(tflite_path, "a .tflite model (--tflite)")
    if tflite_path.is_file():
        _check_same_model(keras_model, model_path, tflite_path)
    saved_bench = None
    if bench:
        from .bench_report import load_bench_report

        saved_bench = load_bench_report(bench)
        _check_bench_model(saved_bench, Path(bench), tflite_path)
    dataset = dataset_for(meta)
    quantized_here = None
    if not tflite_path.is_file():
        # As `build` does with a .keras: quantize it now; the report keeps the .tflite it
        # measured, and nothing is written beside the user's model.
        from ..quantize import quantize

        quantized_here = quantize(keras_model, dataset, meta=copy.deepcopy(meta)).tflite
    n = len(dataset.x_test) if samples is None else min(samples, len(dataset.x_test))
    x_test, y_test = dataset.x_test[:n], dataset.y_test[:n]
    names = list((meta.class_names if meta else None) or dataset.class_names)
    history_path = model_path.with_suffix(".history.json")
    history = json.loads(history_path.read_text()) if history_path.is_file() else {}

    page = Page(f"edgecnn report: {model_path.stem}", out, force=force,
                inputs=(model_path, tflite_path, bench, model_path.with_suffix(".json"),
                        model_path.with_suffix(".history.json")),
                subtitle=f"{keras_model.name} on {dataset.name}; {n:,} test samples")
    numbers: dict = {"model": model_path.name,
                     "tflite": "model.tflite (quantized for this report)" if quantized_here
                     else tflite_path.name,
                     "dataset": dataset.name, "test_samples": n}
    try:
        # -- accuracy of the deployed int8 model, through the TFLM kernels --------------------
        from ..quantize import run_int8
        from ..tflite_model import read_tflite

        if quantized_here is not None:
            (page.staged / "model.tflite").write_bytes(quantized_here)
        m = read_tflite(quantized_here if quantized_here is not None else tflite_path)
        inp = m.input_tensor()
        int8_out = run_int8(m.data, x_test, inp.scales[0], inp.zero_points[0])
        pred = np.argmax(int8_out.reshape(n, -1), axis=-1)
        float_pred = np.argmax(keras_model.predict(x_test, batch_size=256, verbose=0), axis=-1)
        numbers["accuracy"] = float(np.mean(pred == y_test))
        numbers["float_accuracy"] = float(np.mean(float_pred == y_test))
        page.sections.append(_training_section(page, history, numbers))
        page.sections.append(_confusion_section(page, y_test, pred, names, numbers))
        page.sections.append(_grid_section(page, dataset, x_test, y_test, pred, names))
        analysis = analyze(m)
        page.sections.append(_layers_section(page, analysis, numbers))
        page.sections.append(_size_section(page, analysis, board, numbers))
        if saved_bench is not None:
            page.sections.append(_bench_section(page, saved_bench, saved_bench.path, numbers))
        page.sections.append(_filters_section(page, keras_model, x_test, y_test, names,
                                              image_index, layers, numbers))
        page.write_json("numbers.json", numbers)
        files = sorted(p.name for p in page.staged.iterdir())
        out_path = page.publish(numbers)
    except BaseException:
        page.discard()
        raise
    return ModelReport(out_path, numbers, files + ["report.html", "report.md"])


def _pct(x: float) -> str:
    return f"{100 * x:.2f} %"


def _training_section(page, history, numbers) -> Section:
    s = Section("Training")
    if not history:
        s.paragraphs.append("No training history beside the model (model.history.json).")
        return s
    best = int(np.argmax(history.get("val_accuracy", [0]))) + 1
    numbers["epochs_run"] = len(history.get("loss", []))
    s.paragraphs.append(f"{numbers['epochs_run']} epochs; best validation accuracy "
                        f"{_pct(max(history.get('val_accuracy', [0])))} at epoch {best} "
                        "(early stopping restores that epoch's weights).")
    s.figures.append(page.figure(F.training_curves(history), "training_curves.png",
                                 "Accuracy and loss, training vs validation"))
    return s


def _confusion_section(page, y_true, y_pred, names, numbers) -> Section:
    from sklearn.metrics import classification_report, confusion_matrix

    labels = list(range(len(names)))
    cm = confusion_matrix(y_true, y_pred, labels=labels, normalize="true")
    cm = np.nan_to_num(cm)
    off = cm.copy()
    np.fill_diagonal(off, 0.0)
    i, j = np.unravel_index(int(np.argmax(off)), off.shape)
    numbers["most_confused"] = {"true": names[i], "predicted": names[j],
                                "share": float(off[i, j])}
    rep = classification_report(y_true, y_pred, labels=labels, target_names=names,
                                output_dict=True, zero_division=0)
    numbers["per_class"] = {k: rep[k] for k in names}
    s = Section("Where it goes wrong", [
        f"int8 accuracy through the TFLite Micro kernels: {_pct(numbers['accuracy'])} "
        f"(float Keras model: {_pct(numbers['float_accuracy'])}).",
        f"Most confused: {_pct(off[i, j])} of true “{names[i]}” are predicted as "
        f"“{names[j]}”."])
    s.figures.append(page.figure(F.confusion(cm, names, "confusion matrix, rows normalized "
                                                        "(int8 model)"),
                                 "confusion_matrix.png", "Confusion matrix normalized by row"))
    s.tables.append(Table(["class", "precision", "recall", "F1", "support"],
                          [[k, f"{rep[k]['precision']:.3f}", f"{rep[k]['recall']:.3f}",
                            f"{rep[k]['f1-score']:.3f}", f"{int(rep[k]['support'])}"]
                           for k in names]))
    return s


def _grid_section(page, dataset, x_test, y_test, pred, names) -> Section:
    count = min(GRID_IMAGES, len(x_test))
    wrong = [int(k) for k in np.flatnonzero(pred[:len(x_test)] != y_test)][:count // 3]
    right = [k for k in range(len(x_test)) if k not in set(wrong)][:count - len(wrong)]
    chosen = sorted(right + wrong)
    images = np.clip(x_test[chosen] / (dataset.input_scale * 255.0), 0.0, 1.0)
    s = Section("Test predictions", [f"{len(chosen)} test images, {len(wrong)} of them "
                                     "misclassified (in red, with their true class); the int8 "
                                     "model's prediction on top."])
    s.figures.append(page.figure(F.prediction_grid(images, [int(y_test[k]) for k in chosen],
                                                   [int(pred[k]) for k in chosen], names),
                                 "predictions.png", "Test predictions, right and wrong"))
    return s


def _layers_section(page, analysis, numbers) -> Section:
    rows = analysis.layers
    labels = [f"{r.index} {r.op}" for r in rows]
    conv_ops = {"CONV_2D", "DEPTHWISE_CONV_2D"}
    conv = sum(r.params for r in rows if r.op in conv_ops)
    dense = sum(r.params for r in rows if r.op == "FULLY_CONNECTED")
    total = max(1, analysis.total_params)
    numbers["params"] = {"total": analysis.total_params, "conv": conv, "dense": dense,
                         "conv_share": conv / total, "dense_share": dense / total}
    numbers["macs"] = analysis.total_macs
    numbers["peak_activation_bytes"] = analysis.peak_activation_bytes
    peak = max(range(len(rows)), key=lambda k: rows[k].activation_bytes) if rows else None
    s = Section("Layer by layer", [
        f"{analysis.total_params:,} parameters ({_pct(conv / total)} in convolutions, "
        f"{_pct(dense / total)} in dense layers), {analysis.total_macs:,} MACs per inference. "
        f"Peak live int8 activations (a layer's inputs and output together): "
        f"{analysis.peak_activation_bytes:,} B at {analysis.peak_activation_layer}."])
    s.tables.append(Table(["#", "op", "output", "params", "MACs", "int8 activation B",
                           "receptive field"],
                          [[str(r.index), r.op, "×".join(map(str, r.output_shape)),
                            f"{r.params:,}", f"{r.macs:,}", f"{r.activation_bytes:,}",
                            "×".join(map(str, r.receptive_field)) if r.receptive_field else "–"]
                           for r in rows], ["r", "l", "l", "r", "r", "r", "r"]))
    colors = [F.BLUE if r.op in conv_ops else F.ORANGE if r.op == "FULLY_CONNECTED" else F.GREY
              for r in rows]
    s.figures.append(page.figure(F.layer_bars(labels, [r.params for r in rows], "parameters",
                                              "parameters per layer (blue: convolution, "
                                              "orange: dense)", colors=colors),
                                 "params_per_layer.png", "Parameters per layer"))
    s.figures.append(page.figure(F.layer_bars(labels, [r.activation_bytes for r in rows],
                                              "bytes", "int8 activation per layer (peak in red)",
                                              highlight=peak),
                                 "activations_per_layer.png",
                                 "int8 activation bytes per layer, peak marked"))
    spatial = [r for r in rows if len(r.output_shape) == 4]
    if spatial:
        s.figures.append(page.figure(F.line_through_layers(
            [f"{r.index} {r.op}" for r in spatial],
            {"height": [r.output_shape[1] for r in spatial],
             "width": [r.output_shape[2] for r in spatial],
             "channels": [r.output_shape[3] for r in spatial]},
            "size", "spatial size and channels through the network"),
            "spatial_size.png", "Feature-map height, width and channels per layer"))
    rf = [r for r in rows if r.receptive_field]
    if rf:
        s.figures.append(page.figure(F.line_through_layers(
            [f"{r.index} {r.op}" for r in rf], {"receptive field (pixels)":
                                                [r.receptive_field[0] for r in rf]},
            "pixels", "receptive field per layer"), "receptive_field.png",
            "Receptive field (height) of one output pixel, per layer"))
    return s


def _size_section(page, analysis, board, numbers) -> Section:
    numbers["flash_bytes"] = analysis.flash_bytes
    numbers["float32_weight_bytes"] = analysis.float32_weight_bytes
    numbers["int8_weight_bytes"] = analysis.weight_bytes
    s = Section("Size", [f"Weights: {analysis.float32_weight_bytes:,} B as float32, "
                         f"{analysis.weight_bytes:,} B as int8 "
                         f"({analysis.float32_weight_bytes / max(1, analysis.weight_bytes):.1f}× "
                         f"smaller); the whole .tflite is {analysis.flash_bytes:,} B."])
    s.figures.append(page.figure(F.layer_bars(
        ["float32 weights", "int8 weights", "int8 .tflite file"],
        [analysis.float32_weight_bytes, analysis.weight_bytes, analysis.flash_bytes], "bytes",
        "float32 vs int8"), "size.png", "Weight bytes, float32 vs int8, and the .tflite file"))
    if board:
        from ..boards import load_board
        from ..fit import check_fit
        from ..runtimes import runtime_for

        b = load_board(board)
        fit = check_fit(analysis, b, runtime_for(b).plan_memory(analysis, b))
        numbers["fit"] = fit.to_dict()
        s.paragraphs.append(f"On {b.title}: {'fits' if fit.fits else 'does NOT fit'} "
                            f"(arena {fit.arena.allocated_bytes:,} B allocated).")
        s.tables.append(Table(["budget", "used", "available", "use"],
                              [[r.resource, f"{r.used:,}", f"{r.available:,}",
                                f"{100 * r.used / r.available:.1f} %"] for r in fit.rows]))
        s.figures.append(page.figure(F.budget_bars([r.resource for r in fit.rows],
                                                   [r.used for r in fit.rows],
                                                   [r.available for r in fit.rows],
                                                   f"budget on {b.title}"),
                                     "board_budget.png", f"Flash and RAM on {b.title}"))
    return s


def _check_same_model(keras_model, model_path: Path, tflite_path: Path) -> None:
    """Refuse a --tflite that cannot be the int8 conversion of --model (another input shape
    or number of outputs): its accuracy would be reported as this model's."""
    from ..tflite_model import read_tflite

    m = read_tflite(tflite_path)
    inp, outp = m.input_tensor(), m.output_tensor()
    want_in = tuple(int(d) for d in keras_model.input_shape[1:])
    want_out = int(np.prod([d for d in keras_model.output_shape[1:] if d]))
    have_in = tuple(int(d) for d in inp.shape[1:])
    have_out = int(np.prod(outp.shape[1:])) if len(outp.shape) > 1 else int(np.prod(outp.shape))
    if have_in != want_in or have_out != want_out:
        raise EdgecnnError(f"{tflite_path} takes {have_in} and gives {have_out} values, but "
                           f"{model_path} takes {want_in} and gives {want_out}: it is another "
                           "model's .tflite; pass the one quantized from this model (--tflite)")


def _check_bench_model(bench, bench_path: Path, tflite_path: Path) -> None:
    """Refuse a bench report measured on another model than the one the report is about."""
    import hashlib

    if bench.model_sha256 is None or not tflite_path.is_file():
        return
    have = hashlib.sha256(tflite_path.read_bytes()).hexdigest()
    if have != bench.model_sha256:
        raise EdgecnnError(f"{bench_path} measured a model with SHA-256 "
                           f"{bench.model_sha256[:12]}..., not {tflite_path} "
                           f"({have[:12]}...): pass the bench report of this model's project")


def _bench_section(page, bench, path: Path, numbers) -> Section:
    source = bench.source
    label = "VIRTUAL board (host timings)" if source == "virtual" else "device"
    lat = bench.latency_us
    numbers["bench"] = {"source": source, "latency_us": lat,
                        "arena": {"used_bytes": bench.arena_used_bytes,
                                  "allocated_bytes": bench.arena_allocated_bytes}}
    s = Section(f"On the board ({label})", [f"From {path.name} (`edgecnn bench`), source "
                                            f"{source}, board {bench.board}."])
    if lat:
        arena = (f"; arena used {bench.arena_used_bytes:,} of {bench.arena_allocated_bytes:,} B"
                 if bench.arena_used_bytes is not None and bench.arena_allocated_bytes is not None
                 else "")
        s.paragraphs.append(f"Invoke() latency p50 {lat['p50']:,.0f} µs, p90 {lat['p90']:,.0f} "
                            f"µs, p99 {lat['p99']:,.0f} µs over {lat['count']:.0f} runs{arena}.")
        if bench.samples_us:
            s.figures.append(page.figure(F.histogram(
                bench.samples_us, {k: lat[k] for k in ("p50", "p90", "p99")}, "µs",
                f"Invoke() latency, {label}"), "bench_latency.png", f"Latency ({source})"))
    if bench.profile_ops:
        s.figures.append(page.figure(F.layer_bars([label for label, _ in bench.profile_ops],
                                                  [us for _, us in bench.profile_ops], "µs",
                                                  f"time per operator, {label}"),
                                     "bench_per_op.png", f"Per-op time ({source})"))
    elif bench.profile_reason:
        s.paragraphs.append(f"Per-op profile not available: {bench.profile_reason}.")
    return s


def _filters_section(page, model, x_test, y_test, names, image_index, layers, numbers
                     ) -> Section:
    s = Section("What the network sees")
    try:
        conv_name, filters = first_conv_filters(model)
    except EdgecnnError as exc:
        s.paragraphs.append(str(exc) + ".")
        return s
    numbers["filters"] = {"layer": conv_name, "shape": list(filters.shape)}
    s.figures.append(page.figure(F.image_grid(filters, f"{conv_name}: {len(filters)} filters "
                                                       "(input channels averaged)",
                                              cmap="RdBu_r"),
                                 "filters.png", f"Kernels of the first convolution, {conv_name}"))
    if not 0 <= image_index < len(x_test):
        raise EdgecnnError(f"--image {image_index} is outside the {len(x_test)} test samples")
    chosen = layers or default_feature_layers(model)
    maps = feature_maps(model, x_test[image_index], chosen)
    numbers["feature_maps"] = {"image": image_index, "label": names[int(y_test[image_index])],
                               "shapes": {k: list(v.shape) for k, v in maps.items()}}
    s.paragraphs.append(f"Feature maps for test image {image_index} (“"
                        f"{names[int(y_test[image_index])]}”), first {MAX_MAPS} channels of "
                        "each layer.")
    for k, (name, value) in enumerate(maps.items()):
        channels = np.transpose(value[:, :, :MAX_MAPS], (2, 0, 1))
        s.figures.append(page.figure(F.image_grid(channels, f"{name}: "
                                                  f"{'×'.join(map(str, value.shape))}"),
                                     f"feature_maps_{k}_{_safe(name)}.png",
                                     f"Feature maps of {name}"))
    return s


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in name)[:40]
