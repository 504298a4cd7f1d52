"""The page of ``edgecnn compare`` (edgecnn.comparison trains and measures): which
architecture is best for accuracy, size and latency, and which is best among those that fit;
the table, trade-off plots, compare.csv and numbers.json."""
from __future__ import annotations

import csv
import io
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import figures as F
from .page import Page, Section, Table

COLUMNS = ["name", "float_accuracy", "int8_accuracy", "params", "macs", "tflite_bytes",
           "arena_bytes", "host_latency_us", "train_seconds", "accuracy_per_mparam", "fits"]


@dataclass
class Comparison:
    out: Path
    rows: list[dict]
    best: dict
    pareto: list[str]
    board: str
    files: list[str] = field(default_factory=list)


def pareto_front(rows: list[dict], cost: str = "params", gain: str = "int8_accuracy"
                 ) -> list[str]:
    """Names of the models no other model beats on both ``cost`` (lower) and ``gain`` (higher)."""
    front = []
    for r in rows:
        dominated = any(o is not r and o[cost] <= r[cost] and o[gain] >= r[gain]
                        and (o[cost] < r[cost] or o[gain] > r[gain]) for o in rows)
        if not dominated:
            front.append(r["name"])
    return front


def host_latency_us(tflite: bytes, sample: np.ndarray, runs: int) -> float:
    """Median host time of one TFLM Invoke() (set input, invoke, read output), in µs."""
    from ..tflm_host import HostInterpreter

    interpreter = HostInterpreter(tflite)
    interpreter.run(sample)                       # the first call pays one-off costs
    times = []
    for _ in range(runs):
        start = time.perf_counter_ns()
        interpreter.run(sample)
        times.append((time.perf_counter_ns() - start) / 1000.0)
    return float(np.median(times))


def write_comparison(page: Page, rows: list[dict], board, dataset_name: str) -> Comparison:
    """The comparison of ``rows`` (one per architecture, COLUMNS and ``fit``) on ``board``:
    the table with the best per goal, the trade-off plots, compare.csv and numbers.json, added
    to ``page`` and published (discarded on any error)."""
    b = board
    try:
        best = _best(rows)
        front = pareto_front(rows)
        ram_for_arena = b.sram_bytes - b.runtime.ram_bytes - b.runtime.stack_heap_reserve_bytes
        page.sections.append(_table_section(rows, best, front, b))
        plots = Section("Trade-offs", ["Green: fits the board; red: does not."])
        plots.figures.append(page.figure(F.scatter(rows, "params", "int8_accuracy",
                                                   "parameters (log)", "int8 accuracy",
                                                   "accuracy vs parameters", front=front,
                                                   log_x=True),
                                         "accuracy_vs_params.png",
                                         "int8 accuracy vs parameters, Pareto front dashed"))
        plots.figures.append(page.figure(F.scatter(rows, "arena_bytes", "int8_accuracy",
                                                   "tensor arena on the board (bytes)",
                                                   "int8 accuracy", "accuracy vs arena",
                                                   vline=(ram_for_arena,
                                                          f"{b.name} RAM left for the arena")),
                                         "accuracy_vs_arena.png",
                                         f"int8 accuracy vs arena, with the RAM {b.title} "
                                         "leaves for it"))
        plots.figures.append(page.figure(F.scatter(rows, "host_latency_us", "int8_accuracy",
                                                   "host latency per inference (µs, TFLM "
                                                   "reference kernels)", "int8 accuracy",
                                                   "accuracy vs host latency"),
                                         "accuracy_vs_latency.png",
                                         "int8 accuracy vs host latency (host, not the board)"))
        page.sections.append(plots)
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=COLUMNS, extrasaction="ignore",
                                lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        (page.staged / "compare.csv").write_text(buffer.getvalue())
        numbers = {"dataset": dataset_name, "board": b.name, "rows": rows, "best": best,
                   "pareto_front": front, "ram_for_arena_bytes": ram_for_arena}
        page.write_json("numbers.json", numbers)
        files = sorted(p.name for p in page.staged.iterdir()) + ["report.html", "report.md"]
        out_path = page.publish(numbers)
    except BaseException:
        page.discard()
        raise
    return Comparison(out_path, rows, best, front, b.name, files)


def _best(rows: list[dict]) -> dict:
    fitting = [r for r in rows if r["fits"]]
    return {"accuracy": max(rows, key=lambda r: r["int8_accuracy"])["name"],
            "size": min(rows, key=lambda r: r["tflite_bytes"])["name"],
            "latency": min(rows, key=lambda r: r["host_latency_us"])["name"],
            "fits_board": max(fitting, key=lambda r: r["int8_accuracy"])["name"]
            if fitting else None}


def _table_section(rows, best, front, board) -> Section:
    s = Section("Results", [
        f"Best accuracy: {best['accuracy']}. Smallest: {best['size']}. Fastest on the host: "
        f"{best['latency']}. Best that fits {board.title}: {best['fits_board'] or 'none'}.",
        f"Pareto front (no other model is both smaller and more accurate): {', '.join(front)}."])
    s.tables.append(Table(
        ["model", "float acc", "int8 acc", "params", "MACs", ".tflite B", "arena B",
         "host µs", "train s", "acc / M params", f"fits {board.name}"],
        [[r["name"], f"{100 * r['float_accuracy']:.2f} %", f"{100 * r['int8_accuracy']:.2f} %",
          f"{r['params']:,}", f"{r['macs']:,}", f"{r['tflite_bytes']:,}", f"{r['arena_bytes']:,}",
          f"{r['host_latency_us']:,.0f}", f"{r['train_seconds']:.1f}",
          f"{r['accuracy_per_mparam']:.1f}", "yes" if r["fits"] else "NO"] for r in rows]))
    return s
