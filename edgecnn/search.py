"""``edgecnn search``: the most accurate model that fits a board, found with Optuna.

A candidate's memory is known before it is trained: the int8 graph of an untrained model has
the same arena, flash and operators as the trained one (once its zero biases are given
distinct values, which the converter would otherwise store once). So every candidate is first
converted and measured (TFLM's recording allocator through the runtime's memory plan, the
board's fit check, the budgets); one that does not fit is rejected at the cost of a
conversion, and only the rest are trained; the trained model's own graph is measured again.
Objectives: int8 accuracy on the validation split, measured with the TFLM kernels (maximize),
the allocated arena and the flash (minimize). The study lives in a storage in the output
folder (an Optuna journal file; an RDB URL for several machines), so a rerun continues it and
several processes on one storage share the work.

Example:
    >>> from edgecnn.search import SearchConfig, search
    >>> result = search(SearchConfig(dataset="fashion_mnist", board="nano33", trials=20,
    ...                              out="search"))                           # doctest: +SKIP
    >>> result.best.int8_accuracy                                             # doctest: +SKIP
    0.9123
"""
from __future__ import annotations

import csv
import json
import math
import shutil
import time
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from .errors import EdgecnnError, OptionError

STUDY_NAME = "edgecnn-search"
JOURNAL = "study.journal"


@dataclass(frozen=True)
class Objective:
    field: str                                  # the TrialRecord field it reads
    direction: Literal["maximize", "minimize"]


# int8 accuracy (validation, TFLM kernels), allocated arena, flash; and, when the search
# measures them (--max-instructions), emulated instructions per inference
OBJECTIVES = (Objective("val_int8_accuracy", "maximize"), Objective("arena_bytes", "minimize"),
              Objective("flash_bytes", "minimize"))
INSTRUCTIONS = Objective("instructions", "minimize")


# -- the search space, declared once ---------------------------------------------------------
@dataclass(frozen=True)
class Choice:
    values: tuple

    def describe(self) -> str:
        return "|".join(str(v) for v in self.values)


@dataclass(frozen=True)
class Span:
    """Numbers from ``lo`` to ``hi`` (integers when both are ints; ``log`` for rates)."""

    lo: float
    hi: float
    log: bool = False

    @property
    def integer(self) -> bool:
        return isinstance(self.lo, int) and isinstance(self.hi, int)

    def describe(self) -> str:
        return f"{self.lo:g}..{self.hi:g}"


@dataclass(frozen=True)
class Widths:
    """A list of channel counts: ``layers`` entries (a span), each one of ``choices`` and never
    narrower than the one before (the usual shape of a small CNN)."""

    layers: Span
    choices: tuple[int, ...]

    def describe(self) -> str:
        return f"{self.layers.describe()} layers of {'|'.join(map(str, self.choices))}"


WIDTHS = (8, 12, 16, 24, 32, 48, 64)
# architecture -> its parameters' search ranges (their valid domains are zoo.Param)
SPACE: dict[str, dict[str, Any]] = {
    "edge_cnn": {"filters": Widths(Span(2, 4), WIDTHS), "dense": Span(16, 128),
                 "dropout": Span(0.0, 0.5)},
    "edge_cnn_gap": {"filters": Widths(Span(2, 4), WIDTHS)},
    "dscnn": {"filters": Choice((16, 24, 32, 48, 64)), "blocks": Span(1, 5)},
    "mobilenet_v1": {"alpha": Choice((0.25, 0.35, 0.5, 0.75, 1.0)), "depth": Span(2, 7)},
    "resnet8": {"filters": Widths(Span(3, 3), WIDTHS)},
    "fcnn": {"units": Widths(Span(1, 3), (32, 64, 128, 256))},
}
# augmentation (shifts, rotations, zoom, flips where the data set allows them) is worth about a
# point on Fashion-MNIST over a long enough schedule, and costs it on a short one: searched
TRAINING: dict[str, Any] = {"learning_rate": Span(1e-3, 1e-2, log=True),
                            "batch_size": Choice((64, 128, 256)),
                            "augment": Choice((False, True)),
                            # searched, not the warm start's: measured 2026-12-07 on
                            # Fashion-MNIST, edge_cnn_gap, 30 augmented epochs, 0.1 against
                            # none: int8 test 92.74 / 92.33 % (training seed 2), 92.49 / 92.52 %
                            # (seed 0) — within the seed's spread
                            "label_smoothing": Choice((0.0, 0.1))}


@dataclass
class SearchSpace:
    archs: tuple[str, ...]
    params: dict[str, dict[str, Any]]      # arch -> name -> Choice | Span | Widths
    training: dict[str, Any]

    @classmethod
    def restricted(cls, archs: tuple[str, ...] = (), ranges: dict[str, str] | None = None
                   ) -> SearchSpace:
        """The declared space, limited to ``archs`` and with ``ranges`` ("name": "lo..hi")
        narrowing a numeric parameter wherever it appears; every range is checked against the
        parameter's valid domain (zoo.Param) before anything is imported or trained."""
        from .zoo import ARCHITECTURES

        archs = archs or tuple(SPACE)
        unknown = [a for a in archs if a not in SPACE]
        if unknown:
            raise OptionError(f"--archs {','.join(unknown)}: the search space has "
                              f"{', '.join(SPACE)}")
        params = {a: dict(SPACE[a]) for a in archs}
        training = dict(TRAINING)
        for name, text in (ranges or {}).items():
            lo_hi = text.split("..")
            try:
                lo, hi = (float(v) for v in lo_hi) if len(lo_hi) == 2 else (math.nan, math.nan)
            except ValueError:
                lo = hi = math.nan
            if not (math.isfinite(lo) and math.isfinite(hi) and lo <= hi):
                raise OptionError(f"--param {name}={text}: give LO..HI, two numbers, LO <= HI")
            found = False
            for owner, table, domain in [("training", training, None)] + [
                    (a, params[a], ARCHITECTURES[a].domain) for a in archs]:
                if name not in table:
                    continue
                found = True
                old = table[name]
                integer = (isinstance(old, Span) and old.integer) or isinstance(old, Widths)
                if integer and not (lo.is_integer() and hi.is_integer()):
                    raise OptionError(f"--param {name}={text}: {name} takes integers")
                if domain is not None:
                    for v in (lo, hi):
                        domain[name].check(owner, name, int(v) if integer else v)
                span = Span(int(lo), int(hi)) if integer else Span(lo, hi, getattr(old, "log",
                                                                                     False))
                if isinstance(old, Widths):
                    table[name] = Widths(old.layers, tuple(c for c in old.choices
                                                           if lo <= c <= hi) or (int(lo),))
                elif isinstance(old, Choice):   # the listed values in the range, as they are
                    inside = tuple(v for v in old.values if lo <= v <= hi)
                    if not inside:
                        raise OptionError(f"--param {name}={text}: {owner}'s {name} takes "
                                          f"{old.describe()}; none lies in {text}")
                    table[name] = Choice(inside)
                else:
                    table[name] = span
            if not found:
                raise OptionError(f"--param {name}: no searched architecture or training "
                                  f"setting is called so (see `edgecnn search --help`)")
        return cls(archs, params, training)

    def smallest(self) -> list[tuple[str, dict]]:
        """Each architecture at its smallest: what a budget must at least allow."""
        out = []
        for arch in self.archs:
            p: dict[str, Any] = {}
            for name, rng in self.params[arch].items():
                if isinstance(rng, Widths):
                    p[name] = (min(rng.choices),) * int(rng.layers.lo)
                elif isinstance(rng, Choice):
                    p[name] = min(rng.values)
                else:
                    p[name] = rng.lo
            out.append((arch, p))
        return out


def sample(space: SearchSpace, trial) -> tuple[str, dict, dict]:
    """(architecture, its parameters, training settings) drawn by an Optuna trial."""
    arch = trial.suggest_categorical("arch", list(space.archs))
    params = {name: _draw(trial, f"{arch}.{name}", rng)
              for name, rng in space.params[arch].items()}
    training = {name: _draw(trial, name, rng) for name, rng in space.training.items()}
    return arch, params, training


def _draw(trial, key: str, rng: Any):
    if isinstance(rng, Choice):
        return trial.suggest_categorical(key, list(rng.values))
    if isinstance(rng, Span):
        if rng.integer:
            return trial.suggest_int(key, int(rng.lo), int(rng.hi))
        return trial.suggest_float(key, rng.lo, rng.hi, log=rng.log)
    n = trial.suggest_int(f"{key}.layers", int(rng.layers.lo), int(rng.layers.hi))
    widths = [trial.suggest_categorical(f"{key}.{i}", list(rng.choices)) for i in range(n)]
    return tuple(max(widths[:i + 1]) for i in range(n))     # never narrower than before


# augmentation pays from about this many epochs on (Fashion-MNIST, 2026-12-06: edge_cnn_gap
# (16, 32, 48, 64) 92.2-92.5 % int8 with it in 30 epochs; the default edge_cnn loses 1.8 points
# with it in 12): the warm start's training setting
AUGMENT_FROM_EPOCHS = 20


def default_training(epochs: int) -> dict:
    """The training settings of the warm start on a schedule of ``epochs``: `edgecnn
    train`'s learning rate, batch size and plain cross-entropy, augmented from
    AUGMENT_FROM_EPOCHS on."""
    from .train import TrainConfig

    defaults = TrainConfig()
    return {"learning_rate": defaults.learning_rate, "batch_size": defaults.batch_size,
            "augment": epochs >= AUGMENT_FROM_EPOCHS,
            "label_smoothing": defaults.label_smoothing}


def zoo_defaults(space: SearchSpace, epochs: int) -> list[dict]:
    """Each searched architecture's zoo defaults at the default training settings, as the
    study's parameters — the warm start of a new study, so that the search begins from the
    hand-picked models it has to beat. An architecture whose defaults lie outside the
    (restricted) space is left to the sampler, as is a training setting outside its range."""
    from .zoo import ARCHITECTURES

    training = default_training(epochs)
    out = []
    for arch in space.archs:
        point: dict[str, Any] = {"arch": arch}
        for name, rng in space.params[arch].items():
            value = ARCHITECTURES[arch].defaults[name]
            point.update(_as_point(f"{arch}.{name}", rng, value) or {"": None})
        if "" in point:
            continue
        for name, rng in space.training.items():
            if name in training:
                point.update(_as_point(name, rng, training[name]) or {})
        out.append(point)
    return out


def is_zoo_default(arch: str, params: dict, training: dict, epochs: int) -> bool:
    """Whether a candidate is one of a new study's warm start (see zoo_defaults): the
    architecture's zoo defaults at the default training settings, however it was drawn."""
    from .zoo import ARCHITECTURES

    defaults = default_training(epochs)
    zoo = {name: ARCHITECTURES[arch].defaults.get(name) for name in params}
    return (json.dumps(params, sort_keys=True, default=list)
            == json.dumps(zoo, sort_keys=True, default=list)
            and float(training.get("learning_rate", 0)) == defaults["learning_rate"]
            and int(training.get("batch_size", 0)) == defaults["batch_size"]
            and bool(training.get("augment")) == defaults["augment"]
            and float(training.get("label_smoothing", 0.0)) == defaults["label_smoothing"])


def _as_point(key: str, rng: Any, value) -> dict | None:
    """``value`` as the trial parameters ``_draw`` reads for ``key``; None when the range
    cannot give it."""
    if isinstance(rng, Choice):
        return {key: value} if value in rng.values else None
    if isinstance(rng, Span):
        return {key: value} if rng.lo <= value <= rng.hi else None
    values = tuple(value) if isinstance(value, (list, tuple)) else (value,)
    if not (rng.layers.lo <= len(values) <= rng.layers.hi and all(v in rng.choices
                                                                  for v in values)
            and list(values) == sorted(values)):     # _draw never narrows
        return None
    return {f"{key}.layers": len(values), **{f"{key}.{i}": v for i, v in enumerate(values)}}


# -- one trial ---------------------------------------------------------------------------------
@dataclass
class SearchConfig:
    dataset: str = "fashion_mnist"
    board: str = "nano33"
    out: str | Path = "search"
    trials: int = 20
    runtime: str | None = None
    data_dir: str | None = None
    archs: tuple[str, ...] = ()
    ranges: dict[str, str] = field(default_factory=dict)
    epochs: int = 6
    train_samples: int | None = None
    max_flash: int | None = None
    max_arena: int | None = None
    max_model: int | None = None
    max_instructions: int | None = None   # per inference, on the emulated Cortex-M4
    seed: int = 0
    storage: str | None = None
    min_epochs: int | None = None        # successive halving from this many epochs (Halving)
    # False (edgecnn compare): a candidate that does not fit is trained all the same, the
    # reason kept on its record
    reject_unfit: bool = True
    # a new study's first trials are the searched architectures' zoo defaults (zoo_defaults)
    warm_start: bool = True

    @property
    def objectives(self) -> tuple[Objective, ...]:
        return OBJECTIVES + ((INSTRUCTIONS,) if self.max_instructions is not None else ())


@dataclass
class TrialRecord:
    """One trial as the outputs keep it (trials.csv / trials.json)."""

    number: int
    status: str                 # "complete", "rejected" (before training), "failed"
    arch: str
    params: dict
    training: dict
    reason: str = ""
    val_int8_accuracy: float | None = None
    val_float_accuracy: float | None = None
    arena_bytes: int | None = None
    flash_bytes: int | None = None
    model_bytes: int | None = None
    macs: int | None = None
    instructions: int | None = None    # emulated Cortex-M4, native runtime (when asked)
    train_seconds: float | None = None
    epochs_run: int | None = None
    # how far over the board or the budgets it is (the largest relative excess; 0: it fits),
    # what the sampler's constraints read
    violation: float = 0.0
    # the earlier trial of the same candidate whose figures this one repeats (not trained
    # again: TPE redraws a point of a small space, and training it again would only add noise)
    same_as: int | None = None


@dataclass
class SearchResult:
    out: Path
    records: list[TrialRecord]
    best: TrialRecord | None
    best_test_int8_accuracy: float | None
    rejected: int
    files: dict[str, str]

    @property
    def build_command(self) -> str | None:
        if self.best is None:
            return None
        return f"edgecnn build --model {self.out / 'best.tflite'} --board BOARD"


@contextmanager
def with_distinct_constants(model):
    """Within it, every one-dimensional weight of a Keras model (biases, batch normalization's
    scale, offset, mean and variance) holds distinct positive values; on leaving, the model's
    own weights again. Why: an untrained model's biases are all zero, and the TFLite converter
    stores equal constant tensors once, so the int8 graph of an untrained model is smaller
    than the trained one's (seen here: 0.9-3.9 KB for the zoo's defaults, which would let a
    candidate over a flash budget through). With distinct values the graph has the trained
    one's tensors and bytes. Positive, since a variance must be."""
    import numpy as np

    saved = model.get_weights()
    rng = np.random.default_rng(0)
    model.set_weights([w if w.ndim != 1 else rng.uniform(0.5, 1.5, w.shape).astype(w.dtype)
                       for w in saved])
    try:
        yield model
    finally:
        model.set_weights(saved)


class _Costs:
    """Converts and measures candidates on the board the search is for."""

    def __init__(self, config: SearchConfig, dataset):
        from .boards import load_board
        from .runtimes import runtime_for

        self.config, self.dataset = config, dataset
        self.board = load_board(config.board)
        self.runtime = runtime_for(self.board, config.runtime)

    def measure(self, model) -> tuple[bytes, Any, Any]:
        """(int8 .tflite, analysis, fit report) of a Keras model, trained or not, as its
        trained int8 graph will be (see with_distinct_constants); the model is left as it
        was."""
        from .quantize import _convert

        with with_distinct_constants(model):
            tflite = _convert(model, self.dataset, 64)
        return (tflite, *self.measure_tflite(tflite))

    def measure_tflite(self, tflite: bytes) -> tuple[Any, Any]:
        """(analysis, fit report) of an int8 .tflite on the board the search is for."""
        from .analyze import analyze
        from .fit import check_fit
        from .tflite_model import read_tflite

        m = read_tflite(tflite)
        self.runtime.check(m, self.board, force=False)
        analysis = analyze(m)
        fit = check_fit(analysis, self.board, self.runtime.plan_memory(analysis, self.board))
        return analysis, fit

    def instructions(self, tflite: bytes) -> int:
        """Instructions one inference of the candidate takes in edgecnn's native firmware on
        the emulated Cortex-M4 (QEMU mps2-an386, -icount): built and run as `edgecnn bench
        --port emulator` runs it. Emulated instructions, not cycles of a real chip."""
        import tempfile

        from .build import build
        from .harness.bench import bench

        with tempfile.TemporaryDirectory(prefix="edgecnn-search-") as tmp:
            model = Path(tmp) / "candidate.tflite"
            model.write_bytes(tflite)
            project = build("mps2-an386", model, Path(tmp) / "p", runtime="native").project
            report = bench(project, port="emulator", runs=1, warmup=0, profile=False,
                           out=Path(tmp) / "r" / "report.json", timeout=300)
        if report.latency is None or report.latency.cycles is None:
            raise EdgecnnError("the emulator reported no instruction count")
        return int(report.latency.cycles.p50)

    def verdict(self, fit, model_bytes: int, instructions: int | None = None) -> str:
        """Why a candidate cannot be used ("" when it can)."""
        flash = _flash(fit)
        if not fit.fits:
            return fit.failure_message().split(". Options")[0]
        if self.config.max_model is not None and model_bytes > self.config.max_model:
            return f"model {model_bytes:,} B > --max-model {self.config.max_model:,} B"
        if self.config.max_flash is not None and flash > self.config.max_flash:
            return f"flash {flash:,} B > --max-flash {self.config.max_flash:,} B"
        arena = fit.arena.allocated_bytes
        if self.config.max_arena is not None and arena > self.config.max_arena:
            return f"arena {arena:,} B > --max-arena {self.config.max_arena:,} B"
        limit = self.config.max_instructions
        if limit is not None and instructions is not None and instructions > limit:
            return (f"{instructions:,} emulated instructions an inference > --max-instructions "
                    f"{limit:,}")
        return ""


def violation(fit, model_bytes: int, config: SearchConfig, instructions: int | None = None
              ) -> float:
    """The largest relative excess of a candidate over the board and the budgets (0 when it
    fits): what Optuna's constrained TPE learns the feasible region from."""
    excess = [(r.used - r.available) / max(1, r.available) for r in fit.rows]
    for value, limit in ((model_bytes, config.max_model), (_flash(fit), config.max_flash),
                         (fit.arena.allocated_bytes, config.max_arena),
                         (instructions, config.max_instructions)):
        if value is not None and limit is not None:
            excess.append((value - limit) / limit)
    return max(0.0, *excess)


def _flash(fit) -> int:
    """The flash the fit check counts: the model plus the runtime's estimate."""
    return next(r for r in fit.rows if r.resource == "flash").used


def int8_weight_bytes(model) -> int:
    """A bound the int8 .tflite of a Keras model always exceeds: one byte for each element of
    its kernels (every weight of two dimensions and more: convolutions, depthwise
    convolutions, dense layers), which a full-integer model stores as int8, beside the
    graph, biases and quantization parameters. Counted in milliseconds, where a conversion
    takes about a second."""
    return sum(int(math.prod(w.shape)) for w in model.weights if len(w.shape) >= 2)


def _record_costs(record: TrialRecord, tflite: bytes, analysis, fit) -> None:
    record.arena_bytes = fit.arena.allocated_bytes
    record.flash_bytes = _flash(fit)
    record.model_bytes = len(tflite)
    record.macs = analysis.total_macs


# -- successive halving on epochs -------------------------------------------------------------
@dataclass(frozen=True)
class Halving:
    """Asynchronous successive halving (ASHA; Li et al., MLSys 2020) on training epochs: a
    trial is looked at after ``min_epochs``, ``min_epochs * factor``, ... epochs (the
    milestones ``m`` with ``m * factor <= epochs``: a stop must save most of a trial's
    training — one at 27 of 30 epochs would save a tenth and lose a nearly trained model,
    as the 2026-12-07 benchmark did) and goes on only while its validation accuracy there is in
    the top ``1/factor`` of what the study's trials reached at the same milestone; the first
    trial at a milestone always goes on. Every trial follows the same learning-rate schedule
    (cosine over ``epochs``), so accuracies at one milestone compare like with like.

    edgecnn's and not an Optuna pruner: Optuna's pruners read ``Trial.report()``, which
    multi-objective studies do not support."""

    epochs: int
    min_epochs: int
    factor: int = 3

    @property
    def milestones(self) -> tuple[int, ...]:
        out, m = [], self.min_epochs
        while m * self.factor <= self.epochs:
            out.append(m)
            m *= self.factor
        return tuple(out)

    def cutoff(self, others: list[float]) -> float | None:
        """The accuracy a trial needs at a milestone where the study's other trials reached
        ``others`` (None: no other trial got there yet, it goes on)."""
        if not others:
            return None
        ranked = sorted(others, reverse=True)
        # the top 1/factor of all trials at the milestone, this one included
        keep = max(1, (len(ranked) + 1) // self.factor)
        return ranked[keep - 1]


class Milestones:
    """A trial's validation accuracy at each milestone, kept on its Optuna trial in the
    study's storage (``val_accuracy@E``), so that the trials of every worker — this process,
    other processes on the journal, Ray workers — are judged against each other. An
    ``exempt`` trial keeps its milestones for the others and is never stopped itself."""

    KEY = "val_accuracy@{}"

    def __init__(self, halving: Halving, config: SearchConfig, out: Path, number: int,
                 exempt: bool = False):
        import optuna

        self.halving, self.exempt = halving, exempt
        self.study = optuna.load_study(study_name=STUDY_NAME, storage=study_storage(config, out))
        self.trial_id = self.study._storage.get_trial_id_from_study_id_trial_number(
            self.study._study_id, number)
        self.number = number
        self.reason = ""

    def stop_after(self, epochs: int, accuracy: float) -> bool:
        """Keep ``accuracy`` at ``epochs`` when that is a milestone; True: stop training."""
        if epochs not in self.halving.milestones:
            return False
        key = self.KEY.format(epochs)
        self.study._storage.set_trial_user_attr(self.trial_id, key, accuracy)
        others = [float(t.user_attrs[key]) for t in self.study.get_trials(deepcopy=False)
                  if t.number != self.number and key in t.user_attrs]
        cutoff = self.halving.cutoff(others)
        if self.exempt or cutoff is None or accuracy >= cutoff:
            return False
        self.reason = (f"stopped after {epochs} epochs: validation accuracy {accuracy:.4f}, "
                       f"below the top 1/{self.halving.factor} of {len(others) + 1} trials "
                       f"there ({cutoff:.4f})")
        return True


def evaluate(number: int, arch: str, params: dict, training: dict, config: SearchConfig,
             dataset, costs: _Costs, out: Path) -> TrialRecord:
    """The trial runner every engine calls (Optuna in this process, a Ray Tune trainable):
    build the candidate untrained, measure it and reject it when it does not fit (status
    "rejected", a reason), or train it, quantize it, measure its int8 accuracy on the
    validation split with TFLM's kernels and keep its files in ``out/trials/NNNN``."""
    from .console import import_tensorflow
    from .quantize import quantize
    from .train import TrainConfig, train
    from .zoo import build_model

    import_tensorflow()
    import keras

    earlier = same_candidate(config, out, number, arch, params, training)
    if earlier is not None:
        return earlier
    record = TrialRecord(number, "rejected", arch, params, training)
    keras.backend.clear_session()
    try:
        untrained = build_model(arch, dataset.input_shape, dataset.num_classes, **params)
        weights = int8_weight_bytes(untrained)
        if config.max_model is not None and weights > config.max_model:
            # no need to convert it: its int8 weights alone are over the budget
            record.reason = (f"model over {weights:,} B (its int8 weights alone) > "
                             f"--max-model {config.max_model:,} B")
            record.violation = (weights - config.max_model) / config.max_model
            return record
        tflite, analysis, fit = costs.measure(untrained)
    except EdgecnnError as exc:
        record.reason, record.violation = str(exc), 1.0
        return record
    _record_costs(record, tflite, analysis, fit)
    record.reason = costs.verdict(fit, len(tflite))
    record.violation = violation(fit, len(tflite), config)
    if not record.reason and config.max_instructions is not None:
        try:
            record.instructions = costs.instructions(tflite)
        except EdgecnnError as exc:
            record.reason = f"not measurable on the emulated Cortex-M4: {exc}"
            record.violation = 1.0
        else:
            record.reason = costs.verdict(fit, len(tflite), record.instructions)
            record.violation = violation(fit, len(tflite), config, record.instructions)
    if record.reason and config.reject_unfit:
        return record
    start = time.perf_counter()
    # A zoo default is trained to the end: it is the bar the search has to beat, and stopped
    # at an early milestone (where a batch-normalized, augmented model lags a plain one and a
    # few validation images decide) the search could end below the model it began with.
    milestones = (Milestones(Halving(config.epochs, config.min_epochs), config, out, number,
                             exempt=is_zoo_default(arch, params, training, config.epochs))
                  if config.min_epochs else None)
    result = train(arch, dataset, TrainConfig(
        epochs=config.epochs, patience=config.epochs, seed=config.seed + number,
        verbose=0, arch_params=params, learning_rate=float(training["learning_rate"]),
        batch_size=int(training["batch_size"]),
        # absent (compare's default training; a study begun before augmentation was
        # searched): the data set's own rule, as `edgecnn train`
        augment=training.get("augment"),
        label_smoothing=float(training.get("label_smoothing", 0.0)),
        stop_after=milestones.stop_after if milestones else None))
    record.epochs_run = len(result.history.get("loss", []))
    record.train_seconds = round(time.perf_counter() - start, 1)
    if milestones is not None and milestones.reason:
        record.status, record.reason = "pruned", milestones.reason
        record.val_float_accuracy = float(result.history["val_accuracy"][-1])
        return record
    # selection on the validation split; the test split is for the one model reported
    validation = replace(dataset, x_test=dataset.x_val, y_test=dataset.y_val)
    folder = out / "trials" / f"{number:04d}"
    folder.mkdir(parents=True, exist_ok=True)
    q = quantize(result.model, validation, meta=result.meta)
    (folder / "model.tflite").write_bytes(q.tflite)
    result.model.save(folder / "model.keras")
    q.meta.save(folder / "model.json")
    record.status = "complete"
    record.val_int8_accuracy = q.meta.int8_accuracy
    record.val_float_accuracy = q.meta.float_accuracy
    # The trained model's own int8 graph is what is exported and built: its figures replace
    # the candidate's (the same when the measurement before training is right), and should it
    # not fit after all, the reason keeps it from being chosen as the best.
    analysis, fit = costs.measure_tflite(q.tflite)
    _record_costs(record, q.tflite, analysis, fit)
    after = costs.verdict(fit, len(q.tflite), record.instructions)
    if after and not record.reason:
        record.reason = f"after training: {after}"
        record.violation = violation(fit, len(q.tflite), config, record.instructions)
    return record


def _candidate_key(arch: str, params: dict, training: dict) -> str:
    return json.dumps([arch, params, training], sort_keys=True, default=list)


def same_candidate(config: SearchConfig, out: Path, number: int, arch: str, params: dict,
                   training: dict) -> TrialRecord | None:
    """The figures of an earlier finished trial of the same candidate (architecture,
    parameters and training settings), as trial ``number``'s record; None when it is new.
    Read from the study's storage, so every engine and worker sees the same trials."""
    import optuna

    study = optuna.load_study(study_name=STUDY_NAME, storage=study_storage(config, out))
    key = _candidate_key(arch, params, training)
    for t in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,
                                                      optuna.trial.TrialState.PRUNED)):
        earlier = _records_of(t)
        if earlier is None or t.number == number or \
                _candidate_key(earlier.arch, earlier.params, earlier.training) != key:
            continue
        first = earlier.same_as if earlier.same_as is not None else earlier.number
        reason = (f"{earlier.reason}; " if earlier.reason and earlier.same_as is None else
                  "") + f"the same candidate as trial {first}: its figures, not run again"
        if earlier.same_as is not None:
            reason = earlier.reason
        return replace(earlier, number=number, same_as=first, reason=reason,
                       train_seconds=None, epochs_run=None)
    return None


def objectives(record: TrialRecord, config: SearchConfig) -> tuple[float, ...]:
    """The study's objectives of a trial, in ``config.objectives``' order (a candidate
    rejected before training: accuracy 0 and its measured costs)."""
    return tuple(float(getattr(record, o.field) or 0) for o in config.objectives)



def run_trial(trial, space: SearchSpace, config: SearchConfig, dataset, costs: _Costs,
              out: Path) -> tuple[float, ...]:
    """Optuna's objective in this process: draw, evaluate, keep the record on the trial;
    a candidate stopped by successive halving is a pruned trial, one rejected before
    training a finished trial whose constraints say by how much it is over."""
    import optuna

    trial.set_user_attr("worker", _worker())
    arch, params, training = sample(space, trial)
    record = evaluate(trial.number, arch, params, training, config, dataset, costs, out)
    _keep(trial, record)
    if record.status == "pruned":
        raise optuna.TrialPruned(record.reason)
    # a candidate rejected before training is a finished trial that violates the constraints:
    # the sampler learns where the board's and the budgets' feasible region lies
    return objectives(record, config)


def _keep(trial, record: TrialRecord) -> None:
    """The record on the Optuna trial, and its violation as the trial's constraint (<= 0:
    feasible), which Optuna's samplers read."""
    trial.set_user_attr("record", json.dumps(asdict(record), default=list))
    trial.set_constraint("violation", record.violation)


def _records(study) -> list[TrialRecord]:
    import optuna

    out = []
    for t in study.trials:
        record = _records_of(t)
        if record is None:
            if t.state == optuna.trial.TrialState.FAIL:
                out.append(TrialRecord(t.number, "failed", str(t.params.get("arch", "?")), {},
                                       {}, "the trial stopped before it finished (killed, "
                                           "interrupted or an error)"))
            continue
        if t.state == optuna.trial.TrialState.FAIL:
            record.status = "failed"
        out.append(record)
    return out


# -- the study ---------------------------------------------------------------------------------
def open_study(config: SearchConfig, out: Path):
    """The study in ``config.storage`` (an RDB URL) or in ``out``'s journal file; an existing
    one is continued. One line when the storage is not a study edgecnn can continue."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    _refuse_foreign_storage(config.storage, out / JOURNAL)
    try:
        storage = study_storage(config, out)
        study = optuna.create_study(
            study_name=STUDY_NAME, storage=storage, load_if_exists=True,
            directions=[o.direction for o in config.objectives],
            sampler=optuna.samplers.TPESampler(seed=config.seed))
    except Exception as exc:    # the storage's own errors: SQLAlchemy, a damaged journal
        raise EdgecnnError(f"cannot open the study in {config.storage or out / JOURNAL}: "
                           f"{str(exc).splitlines()[0][:200]}; give another --out or "
                           "--storage") from None
    # A continued study draws on from where it is: seeded with the seed alone, its sampler
    # would draw the first run's first candidates again (TPE's random start-up draws).
    study.sampler = optuna.samplers.TPESampler(seed=config.seed + 7919 * len(study.trials))
    stamp = {"dataset": config.data_dir or config.dataset, "board": config.board,
             "runtime": config.runtime or "", "epochs": config.epochs,
             "train_samples": config.train_samples,
             "objectives": [o.field for o in config.objectives]}
    if study.user_attrs.get("edgecnn") not in (None, stamp):
        raise EdgecnnError(f"the study in {config.storage or out} searched "
                           f"{study.user_attrs['edgecnn']}, not {stamp}: give another --out")
    study.set_user_attr("edgecnn", stamp)
    _fail_abandoned(study)
    return study


def study_storage(config: SearchConfig, out: Path) -> Any:
    """The study's storage: ``config.storage`` (an RDB URL) or the journal file in ``out``."""
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    return config.storage or JournalStorage(JournalFileBackend(str(out / JOURNAL)))


def _worker() -> str:
    import os
    import socket

    return f"{socket.gethostname()}:{os.getpid()}"


def _fail_abandoned(study) -> None:
    """Trials left running by a worker of this machine that no longer runs (killed outright)
    are marked failed, so that a rerun goes on and the outputs say what happened."""
    import os
    import socket

    import optuna

    from .fsutil import process_alive

    for t in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,)):
        host, _, pid = str(t.user_attrs.get("worker", "")).rpartition(":")
        if host == socket.gethostname() and pid.isdigit() and int(pid) != os.getpid() \
                and not process_alive(int(pid)):
            study._storage.set_trial_state_values(t._trial_id, optuna.trial.TrialState.FAIL)


def _refuse_foreign_storage(url: str | None, journal: Path) -> None:
    """Never write into a file that is not an Optuna study: a journal whose lines are not
    journal records, an SQLite database with tables but no Optuna ones."""
    if url is None:
        if journal.exists():
            try:
                with open(journal, encoding="utf-8") as f:
                    first = f.readline(1 << 20)
                ok = not first or "op_code" in json.loads(first)
            except (OSError, ValueError, TypeError, UnicodeDecodeError):
                ok = False
            if not ok:
                raise EdgecnnError(f"cannot open the study in {journal}: it is not an Optuna "
                                   "journal (edgecnn leaves it as it is); give another --out")
        return
    if url.startswith("sqlite:///"):
        import sqlite3

        path = Path(url[len("sqlite:///"):])
        if path.exists():
            try:
                with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
                    tables = {r[0] for r in db.execute(
                        "SELECT name FROM sqlite_master WHERE type='table'")}
            except sqlite3.Error:
                tables = {"?"}
            if tables and "studies" not in tables:
                raise EdgecnnError(f"cannot open the study in {url}: the database is not an "
                                   "Optuna storage (edgecnn leaves it as it is); give another "
                                   "--storage")


def check_budgets(space: SearchSpace, costs: _Costs) -> None:
    """Refuse, before any training, budgets that even the smallest candidate cannot meet."""
    from .console import import_tensorflow
    from .zoo import build_model

    import_tensorflow()
    figures = []
    for arch, params in space.smallest():
        model = build_model(arch, costs.dataset.input_shape, costs.dataset.num_classes, **params)
        try:
            tflite, _, fit = costs.measure(model)
        except EdgecnnError as exc:
            figures.append(f"{arch}: {exc}")
            continue
        why = costs.verdict(fit, len(tflite))
        if not why and costs.config.max_instructions is not None:
            count = costs.instructions(tflite)
            why = costs.verdict(fit, len(tflite), count)
        if not why:
            return
        figures.append(f"{arch} at its smallest ({len(tflite):,} B model, arena "
                       f"{fit.arena.allocated_bytes:,} B): {why}")
    raise OptionError("no candidate can meet the budgets; " + "; ".join(figures[:3]))


# (study, space, config, dataset, out, trials to run, trial_log) -> None: runs the trials
# somewhere else than this process (edgecnn.search_ray.RayEngine), each with evaluate()
Engine = Callable[[Any, SearchSpace, SearchConfig, Any, Path, int, "TrialLog"], None]


def search(config: SearchConfig, *, log: Callable[[str], None] = print,
           engine: Engine | None = None) -> SearchResult:
    """Run (or continue) the study until it holds ``config.trials`` finished trials; write
    the outputs. ``engine`` runs the trials elsewhere (a Ray cluster); by default they run
    in this process. Ctrl-C or SIGTERM stops it with every finished trial kept and the
    outputs written."""
    import optuna

    from .data import load_dataset

    if config.trials < 1:
        raise OptionError("--trials must be at least 1")
    if config.min_epochs is not None and (config.min_epochs < 1 or not Halving(
            config.epochs, config.min_epochs).milestones):
        raise OptionError(f"--min-epochs {config.min_epochs}: successive halving needs 1 <= "
                          f"3 x --min-epochs <= --epochs ({config.epochs})")
    space = SearchSpace.restricted(tuple(config.archs), config.ranges)
    out = Path(config.out)
    if out.exists() and not out.is_dir():
        raise OptionError(f"--out {out} is a file; the search writes a folder")
    out.mkdir(parents=True, exist_ok=True)
    study = open_study(config, out)
    if config.warm_start and not study.trials:
        for point in zoo_defaults(space, config.epochs):
            study.enqueue_trial(point, skip_if_exists=True)   # another worker's start
    dataset = load_dataset(config.dataset, data_dir=config.data_dir)
    if config.train_samples:
        dataset = dataset.subset(config.train_samples)
    costs = _Costs(config, dataset)
    check_budgets(space, costs)
    finished = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)
    done = sum(t.state in finished for t in study.trials)
    trial_log = TrialLog(log, config.trials, done)
    for record in _records(study):        # a continued study: its best so far
        trial_log.consider(record)
    interrupted: BaseException | None = None
    if done < config.trials:
        log(f"study {out / JOURNAL if not config.storage else config.storage}: {done} trial(s) "
            f"done, {config.trials - done} to go on {costs.board.title}")
        try:
            run_trials(study, space, config, dataset, costs, out, config.trials - done,
                       trial_log, engine)
        except KeyboardInterrupt as exc:      # Ctrl-C, or SIGTERM/SIGHUP (edgecnn's handler)
            interrupted = exc
    result = write_outputs(study, out, dataset, config)
    if interrupted is not None:
        raise interrupted
    return result


def run_trials(study, space: SearchSpace, config: SearchConfig, dataset, costs: _Costs,
               out: Path, trials: int, trial_log: TrialLog, engine: Engine | None) -> None:
    """Run ``trials`` more trials of ``study`` (drawn by its sampler, or enqueued) through the
    trial runner, on ``engine`` or in this process, until the study holds ``config.trials``
    finished ones."""
    import optuna

    if engine is not None:
        engine(study, space, config, dataset, out, trials, trial_log)
        return
    finished = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)

    def progress(study, trial) -> None:
        record = _records_of(trial)
        if record is not None:
            trial_log(record)

    study.optimize(lambda trial: run_trial(trial, space, config, dataset, costs, out),
                   n_trials=trials, catch=(EdgecnnError,),
                   callbacks=[optuna.study.MaxTrialsCallback(config.trials, states=finished),
                              progress])


class TrialLog:
    """One console line per finished trial — its place among the trials asked for, its
    figures or why it stopped, and the best so far."""

    PREFIX = {"rejected": "rejected before training: ", "failed": "failed: ", "pruned": ""}

    def __init__(self, log: Callable[[str], None], total: int = 0, done: int = 0):
        self.log = log
        self.total, self.done = total, done
        self.best: TrialRecord | None = None

    def __call__(self, record: TrialRecord) -> None:
        self.done += 1
        place = f"[{self.done}/{self.total}] " if self.total else ""
        head = f"{place}trial {record.number}: {record.arch} {_short(record.params)}: "
        if record.status != "complete":
            self.log(head + self.PREFIX[record.status] + record.reason + self._best())
            return
        acc = record.val_int8_accuracy or 0.0
        if record.same_as is not None or record.reason:
            self.log(head + f"int8 {acc:.4f} (validation): {record.reason}" + self._best())
            return
        self.consider(record)
        self.log(head + f"int8 {acc:.4f} (validation), arena {record.arena_bytes:,} B, flash "
                 f"{record.flash_bytes:,} B"
                 + (f", {record.instructions:,} emulated instructions" if record.instructions
                    else "") + f", {record.train_seconds:.0f} s" + self._best())

    def consider(self, record: TrialRecord) -> None:
        """Count a trained trial towards the best so far."""
        if record.status == "complete" and record.same_as is None and not record.reason and (
                self.best is None
                or (record.val_int8_accuracy or 0.0) > (self.best.val_int8_accuracy or 0.0)):
            self.best = record

    def _best(self) -> str:
        return (f"; best {self.best.val_int8_accuracy:.4f} (trial {self.best.number})"
                if self.best is not None else "")


def _records_of(trial) -> TrialRecord | None:
    raw = trial.user_attrs.get("record")
    return TrialRecord(**json.loads(raw)) if raw else None


def _short(params: dict) -> str:
    return ", ".join(f"{k}={v if not isinstance(v, float) else round(v, 3)}"
                     for k, v in params.items())


# -- outputs -----------------------------------------------------------------------------------
def pareto(records: list[TrialRecord], cost: str) -> list[TrialRecord]:
    """The complete trials no other beats on both int8 accuracy and ``cost`` (a repeated
    candidate counted once)."""
    done = [r for r in records if r.status == "complete" and r.same_as is None]
    return sorted((r for r in done if not any(
        (o.val_int8_accuracy or 0) >= (r.val_int8_accuracy or 0)
        and getattr(o, cost) <= getattr(r, cost)
        and ((o.val_int8_accuracy or 0) > (r.val_int8_accuracy or 0)
             or getattr(o, cost) < getattr(r, cost)) for o in done)),
        key=lambda r: getattr(r, cost))


def write_outputs(study, out: Path, dataset, config: SearchConfig) -> SearchResult:
    """trials.csv and .json, Pareto fronts as PNG in an HTML/Markdown page, and the best model
    that meets this run's budgets (best.keras, best.tflite, best.json) with its int8 accuracy
    on the test split."""
    from .fsutil import atomic_write_text
    from .quantize import int8_predictions

    records = _records(study)
    files: dict[str, str] = {}
    rows = [asdict(r) for r in records]
    atomic_write_text(out / "trials.json", json.dumps(rows, indent=2, default=list) + "\n")
    files["json"] = str(out / "trials.json")
    with open(out / "trials.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]) if rows else ["number"])
        writer.writeheader()
        for row in rows:
            writer.writerow({k: json.dumps(v) if isinstance(v, (dict, list, tuple)) else v
                             for k, v in row.items()})
    files["csv"] = str(out / "trials.csv")
    complete = [r for r in records if r.status == "complete" and r.same_as is None
                and not r.reason   # trained although it did not fit (compare), or found
                                   # over the board or the budgets after training
                and (config.max_arena is None or (r.arena_bytes or 0) <= config.max_arena)
                and (config.max_model is None or (r.model_bytes or 0) <= config.max_model)
                and (config.max_instructions is None
                     or (r.instructions or 0) <= config.max_instructions)
                and (config.max_flash is None or (r.flash_bytes or 0) <= config.max_flash)]
    best = max(complete, key=lambda r: (r.val_int8_accuracy or 0, -(r.arena_bytes or 0)),
               default=None)
    test_accuracy = None
    if best is not None:
        folder = out / "trials" / f"{best.number:04d}"
        if (folder / "model.tflite").is_file():
            for suffix in (".tflite", ".keras"):
                shutil.copyfile(folder / f"model{suffix}", out / f"best{suffix}")
            predicted = int8_predictions((out / "best.tflite").read_bytes(), dataset.x_test)
            test_accuracy = float((predicted == dataset.y_test).mean())
            _write_meta(folder / "model.json", out / "best.json", best, test_accuracy,
                        len(dataset.x_test))
            files["best"] = str(out / "best.tflite")
    files.update(_page(out, records, best, test_accuracy))
    return SearchResult(out, records, best, test_accuracy,
                        sum(r.status == "rejected" and r.same_as is None for r in records),
                        files)


def _write_meta(source: Path, path: Path, best: TrialRecord, test_accuracy: float,
                test_samples: int) -> None:
    """The trial's metadata (as `quantize` wrote it) with the accuracy on the test split, so
    that `build --model best.tflite` reads the data set, labels and self-check samples."""
    from .metadata import ModelMeta

    meta = ModelMeta.load(source)
    meta.int8_accuracy, meta.float_accuracy, meta.int8_agreement = test_accuracy, None, None
    meta.test_samples = test_samples
    meta.training = {**meta.training, "search_trial": best.number,
                     "search_settings": best.training}
    meta.save(path)


def _page(out: Path, records: list[TrialRecord], best: TrialRecord | None,
          test_accuracy: float | None) -> dict[str, str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from .reporting.page import Section, Table, figure_file, render

    sections = []
    files = {}
    done = [r for r in records if r.status == "complete" and r.same_as is None]
    rejected = [r for r in records if r.status == "rejected" and r.same_as is None]
    summary = Section("Summary", [
        f"{len(records)} trials: {len(done)} trained, {len(rejected)} rejected before training "
        "(their int8 graph did not fit the board or the budgets), "
        f"{sum(r.status == 'pruned' and r.same_as is None for r in records)} stopped early by "
        f"successive halving, {sum(r.status == 'failed' for r in records)} failed, "
        f"{sum(r.same_as is not None for r in records)} repeated an earlier candidate (its "
        "figures kept, not run again)."])
    if best is not None:
        summary.paragraphs.append(
            f"Best: trial {best.number}, {best.arch} ({_short(best.params)}), int8 accuracy "
            f"{best.val_int8_accuracy:.4f} on the validation split, "
            + (f"{test_accuracy:.4f} on the test split" if test_accuracy is not None else "")
            + f"; arena {best.arena_bytes:,} B, flash {best.flash_bytes:,} B. Build it: "
            f"`edgecnn build --model {out / 'best.tflite'} --board BOARD`.")
    sections.append(summary)
    for cost, label in (("arena_bytes", "arena (B)"), ("flash_bytes", "flash (B)")):
        if not done:
            break
        front = pareto(records, cost)
        fig, ax = plt.subplots(figsize=(6, 4))
        ax.scatter([getattr(r, cost) for r in done], [r.val_int8_accuracy or 0.0 for r in done],
                   c="0.6", label="trained")
        ax.plot([getattr(r, cost) for r in front],
                [r.val_int8_accuracy or 0.0 for r in front], "o-", c="C0", label="Pareto front")
        ax.set_xlabel(label)
        ax.set_ylabel("int8 accuracy (validation, TFLM kernels)")
        ax.legend()
        name = f"pareto_{cost.split('_')[0]}.png"
        figure = figure_file(fig, out / name, f"int8 accuracy against {label}")   # closes fig
        files[name] = str(out / name)
        section = Section(f"Accuracy against {label}")
        section.tables.append(Table(["trial", "architecture", "int8 accuracy", label], [
            [str(r.number), r.arch, f"{r.val_int8_accuracy:.4f}", f"{getattr(r, cost):,}"]
            for r in front]))
        section.figures.append(figure)
        sections.append(section)
    sections.append(Section("Trials", tables=[Table(
        ["trial", "status", "architecture", "parameters", "int8 acc.", "arena B", "flash B",
         "reason"],
        [[str(r.number), r.status, r.arch, _short(r.params),
          f"{r.val_int8_accuracy:.4f}" if r.val_int8_accuracy is not None else "",
          f"{r.arena_bytes:,}" if r.arena_bytes else "", f"{r.flash_bytes:,}" if r.flash_bytes
          else "", r.reason[:80]] for r in records])]))
    for kind in ("html", "md"):
        path = out / f"report.{kind}"
        path.write_text(render(kind, "edgecnn search", "", sections))
        files[kind] = str(path)
    return files
