"""``edgecnn compare``: several architectures trained, quantized and measured on one data set
and board, each as a trial of ``edgecnn search``'s trial runner (:func:`edgecnn.search.evaluate`)
— so that the trials run where a search's run: in this process, or on a Ray cluster with the
search's Ray engine — then compared on one page (``edgecnn.reporting.compare``).

Each architecture, with its default parameters and the default training settings, is a trial
enqueued in an Optuna study kept in the output folder (``study.journal``); the trained models
stay there too (``trials/NNNN/model.{keras,tflite,json}``). A candidate that does not fit the
board is trained all the same: comparing it is the point.

Example:
    >>> from edgecnn.comparison import compare
    >>> c = compare("fashion_mnist", ["edge_cnn", "fcnn"], epochs=5, board="nano33",
    ...             out="compare/")                                         # doctest: +SKIP
    >>> c.best["fits_board"]                                                # doctest: +SKIP
    'edge_cnn'
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from .errors import ArchitectureError, EdgecnnError
from .reporting import Comparison, host_latency_us, write_comparison
from .reporting.page import Page
from .search import (
    Choice,
    Engine,
    SearchConfig,
    SearchSpace,
    TrialLog,
    _Costs,
    _records,
    open_study,
    run_trials,
)


def compare(dataset="fashion_mnist", archs: Sequence[str] = ("edge_cnn", "edge_cnn_gap", "dscnn",
                                                             "fcnn"), *,
            epochs: int = 10, board: str = "nano33", out: str | Path = "compare",
            train_samples: int | None = None, test_samples: int | None = None,
            latency_runs: int = 30, force: bool = False,
            log: Callable[[str], None] = lambda s: None,
            engine: Engine | None = None) -> Comparison:
    """Train each of ``archs`` on ``dataset`` (a name or a ``Dataset``) through the trial
    runner (on ``engine``, e.g. :class:`edgecnn.search_ray.RayEngine`, or in this process) and
    write the comparison to ``out``."""
    from .analyze import analyze
    from .boards import load_board
    from .data import load_dataset
    from .fit import check_fit
    from .quantize import quantize_input
    from .train import TrainConfig
    from .zoo import ARCHITECTURES

    archs = list(dict.fromkeys(archs))
    unknown = [a for a in archs if a not in ARCHITECTURES]
    if unknown or not archs:
        raise ArchitectureError(f"unknown architecture {', '.join(unknown) or '(none given)'};"
                                f" choose from {', '.join(ARCHITECTURES)}")
    b = load_board(board)
    ds = load_dataset(dataset) if isinstance(dataset, str) else dataset
    if train_samples or test_samples:
        ds = ds.subset(train_samples, test_samples)
    page = Page(f"edgecnn compare: {', '.join(archs)} on {ds.name}", out, force=force,
                subtitle=f"{epochs} epochs each; board {b.title}; host latency is this "
                         "computer's TFLM reference kernels, not the board's")
    try:
        defaults = TrainConfig()
        config = SearchConfig(dataset=ds.name, board=board, out=page.staged, trials=len(archs),
                              epochs=epochs, archs=tuple(archs), reject_unfit=False)
        # one candidate per architecture: its default parameters, the default training
        space = SearchSpace(tuple(archs), {a: {} for a in archs},
                            {"learning_rate": Choice((defaults.learning_rate,)),
                             "batch_size": Choice((defaults.batch_size,))})
        study = open_study(config, page.staged)
        for arch in archs:
            study.enqueue_trial({"arch": arch})
        costs = _Costs(config, ds)
        run_trials(study, space, config, ds, costs, page.staged, len(archs),
                   TrialLog(log, len(archs)), engine)
        records = {r.arch: r for r in _records(study)}
        rows = []
        for arch in archs:
            record = records.get(arch)
            if record is None or record.status != "complete":
                raise EdgecnnError(f"{arch} was not trained: "
                                   f"{record.reason if record else 'its trial did not run'}")
            folder = page.staged / "trials" / f"{record.number:04d}"
            tflite = (folder / "model.tflite").read_bytes()
            analysis = analyze(tflite)
            fit = check_fit(analysis, b, costs.runtime.plan_memory(analysis, b))
            inp = analysis.inputs[0]
            if inp.scale is None or inp.zero_point is None:
                raise EdgecnnError(f"{arch} did not convert to a quantized int8 model")
            float_accuracy, int8_accuracy, params = _test_accuracies(folder, tflite, ds)
            sample = quantize_input(ds.x_test[:1], inp.scale, inp.zero_point)[0]
            rows.append({
                "name": arch, "float_accuracy": float_accuracy, "int8_accuracy": int8_accuracy,
                "params": params, "macs": analysis.total_macs,
                "tflite_bytes": analysis.flash_bytes, "arena_bytes": fit.arena.allocated_bytes,
                "host_latency_us": host_latency_us(tflite, sample, latency_runs),
                "train_seconds": record.train_seconds or 0.0,
                "accuracy_per_mparam": int8_accuracy / (params / 1e6),
                "fits": fit.fits, "fit": fit.to_dict()})
    except BaseException:
        page.discard()
        raise
    return write_comparison(page, rows, b, ds.name)


def _test_accuracies(folder: Path, tflite: bytes, ds) -> tuple[float, float, int]:
    """(float accuracy, int8 accuracy with the TFLM kernels, parameters) of a trial's model on
    the test split."""
    from .console import import_tensorflow
    from .quantize import int8_predictions

    import_tensorflow()
    import keras

    model = keras.models.load_model(folder / "model.keras", compile=False)
    probabilities = model.predict(ds.x_test, batch_size=256, verbose=0)
    float_accuracy = float((probabilities.argmax(-1) == ds.y_test).mean())
    int8_accuracy = float((int8_predictions(tflite, ds.x_test) == ds.y_test).mean())
    return float_accuracy, int8_accuracy, int(model.count_params())
