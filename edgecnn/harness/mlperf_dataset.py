"""The MLPerf Tiny runner's accuracy mode: a data set in the runner's layout, one ``infer 1 0``
per input, and the scores the runner prints (``benchmark/runner/main.py``, ``script.py``,
``datasets.py`` of mlcommons/tiny).

The layout: ``DIR/y_labels.csv`` (or ``DIR/MODEL/y_labels.csv``, as the runner's ``-s`` folder
holds one per benchmark), rows ``file, classes, class[, bytes_to_send, stride]``, the ``.bin``
files beside it. A row with ``bytes_to_send`` and ``stride`` (ad01) is sent as a sliding window
of segments; the results of one file's segments are averaged.

Scores, computed as the runner computes them: every result vector of more than one value is
normalized to sum 1, a file's vectors are averaged; "Top 1%" is the share of files whose
largest averaged value is at the label (for a single value per file, the runner's
(precision + recall) / 2 at the best of 100 thresholds), and the AUC is scikit-learn's
``roc_auc_score`` (one-vs-rest over the classes; on the single value for ad01).
"""
from __future__ import annotations

import csv
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..artifacts import TensorSpec
from ..errors import DatasetError
from ..mlperf_profiles import MlperfProfile
from .mlperf import MlperfClient
from .records import MlperfAccuracy

LABELS_FILE = "y_labels.csv"
MAX_FILES = 100_000     # more rows than any MLPerf Tiny evaluation set (kws01: 1,000)


@dataclass(frozen=True)
class RunnerFile:
    """One row of ``y_labels.csv``."""

    name: str
    classes: int
    label: int
    bytes_to_send: int | None = None
    stride: int | None = None


@dataclass(frozen=True)
class RunnerDataset:
    folder: Path
    files: tuple[RunnerFile, ...]

    def segments(self, row: RunnerFile) -> list[bytes]:
        """The bytes the runner sends for ``row``: the whole file, or its sliding window."""
        path = self.folder / row.name
        try:
            data = path.read_bytes()
        except OSError as e:
            raise DatasetError(f"{path}: {e.strerror or e}; y_labels.csv names it") from None
        if row.bytes_to_send is None or row.stride is None:
            return [data]
        size, stride = row.bytes_to_send, row.stride
        return [data[start:start + size] for start in range(0, len(data) - size + 1, stride)]


def read_runner_dataset(folder: str | Path, model: str) -> RunnerDataset:
    """The data set in ``folder`` (or ``folder/MODEL``), checked row by row."""
    folder = Path(folder)
    if not (folder / LABELS_FILE).is_file() and (folder / model / LABELS_FILE).is_file():
        folder = folder / model
    labels = folder / LABELS_FILE
    if not labels.is_file():
        raise DatasetError(f"{folder} has no {LABELS_FILE}: an MLPerf Tiny data set is a folder "
                           f"of .bin files with {LABELS_FILE} rows 'file, classes, class"
                           "[, bytes_to_send, stride]' (the runner's layout)")
    rows: list[RunnerFile] = []
    try:
        with open(labels, newline="", encoding="utf-8") as f:
            for n, fields in enumerate(csv.reader(f), start=1):
                if not fields or not "".join(fields).strip():
                    continue
                rows.append(_row(labels, n, fields))
                if len(rows) > MAX_FILES:
                    raise DatasetError(f"{labels} has more than {MAX_FILES:,} rows")
    except (OSError, UnicodeDecodeError, csv.Error) as e:
        raise DatasetError(f"{labels} is not readable as CSV ({e})") from None
    if not rows:
        raise DatasetError(f"{labels} lists no files")
    return RunnerDataset(folder, tuple(rows))


def _row(labels: Path, n: int, fields: list[str]) -> RunnerFile:
    where = f"{labels} line {n}"
    if len(fields) not in (3, 5):
        raise DatasetError(f"{where}: {len(fields)} columns; want 'file, classes, class' or "
                           "'file, classes, class, bytes_to_send, stride'")
    name = fields[0].strip()
    if not name or Path(name).is_absolute() or ".." in Path(name).parts:
        raise DatasetError(f"{where}: {name!r} is not a file name inside the data set folder")
    try:
        numbers = [int(x) for x in fields[1:]]
    except ValueError:
        raise DatasetError(f"{where}: classes, class, bytes and stride must be whole "
                           f"numbers, not {fields[1:]}") from None
    classes, label = numbers[0], numbers[1]
    if not 1 <= classes <= 10_000 or not 0 <= label < classes:
        raise DatasetError(f"{where}: class {label} of {classes} classes is impossible")
    if len(numbers) == 4:
        size, stride = numbers[2], numbers[3]
        if size <= 0 or stride <= 0:
            raise DatasetError(f"{where}: bytes_to_send and stride must be positive")
        return RunnerFile(name, classes, label, size, stride)
    return RunnerFile(name, classes, label)


def runner_scores(results: Sequence[Sequence[Sequence[float]]],
                  labels: Sequence[int]) -> tuple[float, float | None, str | None]:
    """("Top 1%", AUC, why there is no AUC) of per-file result vectors, as the runner computes
    them (``main.py``: normalize_probabilities, calculate_accuracy, roc_auc_score)."""
    from sklearn.metrics import roc_auc_score

    y_pred = np.array([np.mean([_normalized(r) for r in per_file], axis=0)
                       for per_file in results], dtype=np.float64)
    y_true = np.asarray(labels)
    if y_pred.shape[1] == 1:
        top1 = _single_score_accuracy(y_pred, y_true)
    else:
        top1 = 100.0 * float(np.sum(np.argmax(y_pred, axis=1) == y_true)) / len(y_pred)
    try:
        if y_pred.shape[1] <= 2:
            auc = roc_auc_score(y_true, y_pred[:, -1])
        else:
            auc = roc_auc_score(y_true, y_pred, multi_class="ovr")
    except ValueError as e:
        return top1, None, str(e)
    return top1, float(auc), None


def _normalized(scores: Sequence[float]) -> list[float]:
    if len(scores) == 1:
        return list(scores)
    total = sum(scores)
    return [s / total for s in scores] if total else list(scores)


def _single_score_accuracy(y_pred: np.ndarray, labels: np.ndarray) -> float:
    """The runner's accuracy for one value per file (ad01): the best (precision + recall) / 2
    over 100 thresholds between the smallest and the largest value."""
    low, high = np.amin(y_pred), np.amax(y_pred)
    best = 0.0
    for threshold in low + np.arange(0.0, 1.0, 0.01) * (high - low):
        predicted = (y_pred > threshold).astype(int).reshape(-1)
        tp = np.sum(predicted[labels == 1] == 1)
        fp = np.sum(predicted[labels == 0] == 1)
        fn = np.sum(predicted[labels == 1] == 0)
        precision = tp / (tp + fp + 1e-8)
        recall = tp / (tp + fn + 1e-8)
        best = max(best, float(100 * (precision + recall) / 2))
    return best


def mlperf_accuracy(client: MlperfClient, dataset: RunnerDataset, profile: MlperfProfile,
                    model_input: TensorSpec, model_output: TensorSpec, reference,
                    on_result: Callable[[dict], None] = lambda row: None,
                    progress: Callable[[int, int], None] = lambda done, total: None,
                    ) -> MlperfAccuracy:
    """The runner's accuracy mode: every segment of every file loaded and run with
    ``infer 1 0``; each result compared with the host reference to 3 decimals."""
    want_bytes = profile.db_bytes(model_input)
    device: list[list[list[float]]] = []
    host: list[list[list[float]]] = []
    mismatched: list[str] = []
    inferences = matched = 0
    for i, row in enumerate(dataset.files):
        segments = dataset.segments(row)
        if not segments:
            raise DatasetError(f"{dataset.folder / row.name} is shorter than one window of "
                               f"{row.bytes_to_send} bytes")
        for segment in segments:
            if len(segment) != want_bytes:
                raise DatasetError(
                    f"{dataset.folder / row.name} sends {len(segment):,} bytes an inference; "
                    f"the DUT takes {want_bytes:,} ({profile.description}): is it the data "
                    f"set of {profile.model}?")
        device_file, host_file = [], []
        for k, segment in enumerate(segments):
            client.load(segment)
            got = client.infer(1, 0).results
            expected = [float(f"{v:.3f}")
                        for v in profile.expected(reference, segment, model_input, model_output)]
            same = [f"{v:.3f}" for v in got] == [f"{v:.3f}" for v in expected]
            matched += same
            inferences += 1
            if not same and row.name not in mismatched:
                mismatched.append(row.name)
            device_file.append(got)
            host_file.append(expected)
            on_result({"file": row.name, "segment": k, "label": row.label, "results": got,
                       "expected": expected, "equal": same})
        device.append(device_file)
        host.append(host_file)
        progress(i + 1, len(dataset.files))
    labels = [r.label for r in dataset.files]
    top1, auc, why = runner_scores(device, labels)
    host_top1, host_auc, _ = runner_scores(host, labels)
    return MlperfAccuracy(
        dataset=str(dataset.folder), files=len(dataset.files), inferences=inferences,
        results_equal=matched, mismatched_files=tuple(mismatched[:50]),
        top1_percent=top1, auc=auc, auc_unavailable=why, host_top1_percent=host_top1,
        host_auc=host_auc)
