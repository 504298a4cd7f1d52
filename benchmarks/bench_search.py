"""`edgecnn search` on Fashion-MNIST for the Arduino Nano 33 BLE with the budgets of the issue
(int8 model <= 64 KB, arena <= 32 KB): prints the best int8 test accuracy found, the Pareto
fronts, the trials trained, stopped early and rejected before training, time per trial and the
wall time on this machine.

    python benchmarks/bench_search.py [--trials 20] [--epochs 27] [--min-epochs 3]
        [--half-instructions] [--train-samples N] [--out DIR]

``--half-instructions`` adds a budget of emulated instructions per inference (native runtime,
QEMU mps2-an386) half of what the default model (edge_cnn) takes, measured first.
"""
from __future__ import annotations

import argparse
import statistics
import tempfile
import time

from edgecnn.search import SearchConfig, pareto, search


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--epochs", type=int, default=27)
    parser.add_argument("--min-epochs", type=int, default=3)
    parser.add_argument("--train-samples", type=int)
    parser.add_argument("--half-instructions", action="store_true")
    parser.add_argument("--archs", default="edge_cnn,edge_cnn_gap,dscnn,resnet8")
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    out = args.out or tempfile.mkdtemp(prefix="edgecnn-bench-search-")
    budget = None
    if args.half_instructions:
        default = default_model_instructions()
        budget = default // 2
        print(f"default model (edge_cnn): {default:,} emulated instructions an inference; "
              f"budget {budget:,}")
    start = time.perf_counter()
    result = search(SearchConfig(dataset="fashion_mnist", board="nano33", out=out,
                                 trials=args.trials, epochs=args.epochs,
                                 min_epochs=args.min_epochs or None,
                                 train_samples=args.train_samples,
                                 archs=tuple(args.archs.split(",")), max_instructions=budget,
                                 max_model=64 * 1024, max_arena=32 * 1024), log=print)
    wall = time.perf_counter() - start
    by = {s: [r for r in result.records if r.status == s]
          for s in ("complete", "pruned", "rejected", "failed")}
    trained = by["complete"] + by["pruned"]
    print(f"\n{len(result.records)} trials in {wall:.0f} s ({wall / 60:.1f} min): "
          f"{len(by['complete'])} trained to {args.epochs} epochs, {len(by['pruned'])} stopped "
          f"early (successive halving from {args.min_epochs}), {len(by['rejected'])} rejected "
          f"before training, {len(by['failed'])} failed"
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
