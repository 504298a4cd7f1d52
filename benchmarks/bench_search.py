"""`edgecnn search` on Fashion-MNIST for the Arduino Nano 33 BLE with the budgets of the issue
(int8 model <= 64 KB, arena <= 32 KB): prints the best int8 test accuracy found, the Pareto
fronts, the trials trained, stopped early and rejected before training, time per trial and the
wall time on this machine.

    python benchmarks/bench_search.py [--trials 20] [--epochs 60] [--min-epochs 3]
        [--half-instructions] [--train-samples N] [--workers N] [--out DIR]

``--workers N`` runs N `edgecnn search` processes on the study's one journal, each pinned to a
core (taskset) and with its own sampler seed (``--seed`` 0..N-1: processes with one seed would
draw the same first candidates), as a user shares a search between cores or machines.

``--half-instructions`` adds a budget of emulated instructions per inference (native runtime,
QEMU mps2-an386) half of what the default model (edge_cnn) takes, measured first.
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from edgecnn.search import JOURNAL, SearchConfig, pareto, search


def default_model_instructions() -> int:
    """Emulated instructions one inference of the untrained default model takes with the
    native runtime: the same graph, arena and operators as the trained one."""
    from edgecnn.console import import_tensorflow
    from edgecnn.data import load_dataset
    from edgecnn.search import _Costs
    from edgecnn.zoo import build_model

    import_tensorflow()
    dataset = load_dataset("fashion_mnist").subset(2000)
    costs = _Costs(SearchConfig(dataset="fashion_mnist", board="nano33"), dataset)
    tflite, _, _ = costs.measure(build_model("edge_cnn", dataset.input_shape,
                                             dataset.num_classes))
    return costs.instructions(tflite)


def run_workers(workers: int, config: SearchConfig) -> None:
    """``workers`` `edgecnn search` processes on ``config.out``'s journal, each on its own
    core with its own seed; their lines printed as they come, prefixed with the worker."""
    options = ["--dataset", config.dataset, "--board", config.board, "--out", str(config.out),
               "--trials", str(config.trials), "--epochs", str(config.epochs),
               "--archs", ",".join(config.archs), "--max-model", str(config.max_model),
               "--max-arena", str(config.max_arena)]
    for flag, value in (("--min-epochs", config.min_epochs),
                        ("--train-samples", config.train_samples),
                        ("--max-instructions", config.max_instructions)):
        if value:
            options += [flag, str(value)]
    cores = sorted(os.sched_getaffinity(0))
    procs = []
    for i in range(workers):
        cmd = [sys.executable, "-m", "edgecnn.cli", "search", *options, "--seed", str(i)]
        if shutil.which("taskset"):
            cmd = ["taskset", "-c", str(cores[i % len(cores)]), *cmd]
        procs.append(subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                      text=True))
        if i == 0:      # the first worker enqueues the warm start; the others find it there
            journal = Path(config.out) / JOURNAL
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline and procs[0].poll() is None and (
                    not journal.is_file() or journal.read_text().count("\n") < 2):
                time.sleep(0.5)
            time.sleep(2)

    def relay(i: int, proc: subprocess.Popen) -> None:
        for line in proc.stdout:
            print(f"worker {i}: {line.rstrip()}", flush=True)

    threads = [threading.Thread(target=relay, args=(i, p)) for i, p in enumerate(procs)]
    for t in threads:
        t.start()
    for t, p in zip(threads, procs, strict=True):
        t.join()
        if p.wait() != 0:
            raise SystemExit(f"a search worker exited with status {p.returncode}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--epochs", type=int, default=60)
    parser.add_argument("--min-epochs", type=int, default=3)
    parser.add_argument("--train-samples", type=int)
    parser.add_argument("--half-instructions", action="store_true")
    parser.add_argument("--archs", default="edge_cnn,edge_cnn_gap,dscnn,resnet8")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    out = args.out or tempfile.mkdtemp(prefix="edgecnn-bench-search-")
    budget = None
    if args.half_instructions:
        default = default_model_instructions()
        budget = default // 2
        print(f"default model (edge_cnn): {default:,} emulated instructions an inference; "
              f"budget {budget:,}")
    config = SearchConfig(dataset="fashion_mnist", board="nano33", out=out, trials=args.trials,
                          epochs=args.epochs, min_epochs=args.min_epochs or None,
                          train_samples=args.train_samples, archs=tuple(args.archs.split(",")),
                          max_instructions=budget, max_model=64 * 1024, max_arena=32 * 1024)
    start = time.perf_counter()
    if args.workers > 1:
        run_workers(args.workers, config)
    # with workers: the study is complete, this only reads it and writes the outputs
    result = search(config, log=print)
    wall = time.perf_counter() - start
    by = {s: [r for r in result.records if r.status == s and r.same_as is None]
          for s in ("complete", "pruned", "rejected", "failed")}
    repeated = sum(r.same_as is not None for r in result.records)
    trained = by["complete"] + by["pruned"]
    print(f"\n{len(result.records)} trials in {wall:.0f} s ({wall / 60:.1f} min"
          f"{f', {args.workers} workers' if args.workers > 1 else ''}): "
          f"{len(by['complete'])} trained to {args.epochs} epochs, {len(by['pruned'])} stopped "
          f"early (successive halving from {args.min_epochs}), {len(by['rejected'])} rejected "
          f"before training, {len(by['failed'])} failed, {repeated} repeated an earlier "
          f"candidate (not run again)"
          + (f"; on {args.train_samples} images" if args.train_samples else ""))
    if trained:
        seconds = [r.train_seconds or 0.0 for r in trained]
        epochs = sum(r.epochs_run or 0 for r in trained)
        print(f"training: {sum(seconds):.0f} s for {epochs} epochs ({sum(seconds) / epochs:.1f} "
              f"s an epoch); median {statistics.median(seconds):.0f} s a trained trial")
    for cost in ("arena_bytes", "flash_bytes") + (("instructions",) if budget else ()):
        print(f"Pareto front, int8 validation accuracy against {cost}:")
        for r in pareto(result.records, cost):
            print(f"  trial {r.number:3d} {r.arch:<13} {r.val_int8_accuracy:.4f}  "
                  f"{getattr(r, cost):>10,}  {r.params}")
    if result.best is not None:
        b = result.best
        print(f"best: trial {b.number} {b.arch} {b.params} {b.training}: int8 "
              f"{result.best_test_int8_accuracy:.4f} (test), model {b.model_bytes:,} B, arena "
              f"{b.arena_bytes:,} B" + (f", {b.instructions:,} instructions" if budget else "")
              + "; target >= 0.925")
    print(f"outputs in {out}")


if __name__ == "__main__":
    main()
