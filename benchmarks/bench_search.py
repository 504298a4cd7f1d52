"""`edgecnn search` on Fashion-MNIST for the Arduino Nano 33 BLE with the budgets of the issue
(int8 model <= 64 KB, arena <= 32 KB): prints the best int8 test accuracy found, the trials
trained and rejected before training, and the wall time on this machine.

    python benchmarks/bench_search.py [--trials 20] [--epochs 6] [--train-samples N] [--out DIR]
"""
from __future__ import annotations

import argparse
import tempfile
import time

from edgecnn.search import SearchConfig, search


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--train-samples", type=int)
    parser.add_argument("--archs", default="edge_cnn,edge_cnn_gap,dscnn,resnet8")
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    out = args.out or tempfile.mkdtemp(prefix="edgecnn-bench-search-")
    start = time.perf_counter()
    result = search(SearchConfig(dataset="fashion_mnist", board="nano33", out=out,
                                 trials=args.trials, epochs=args.epochs,
                                 train_samples=args.train_samples,
                                 archs=tuple(args.archs.split(",")),
                                 max_model=64 * 1024, max_arena=32 * 1024), log=print)
    wall = time.perf_counter() - start
    trained = sum(r.status == "complete" for r in result.records)
    print(f"\n{len(result.records)} trials ({trained} trained, {result.rejected} rejected before "
          f"training) in {wall:.0f} s, {args.epochs} epochs each"
          + (f" on {args.train_samples} images" if args.train_samples else ""))
    if result.best is not None:
        b = result.best
        print(f"best: trial {b.number} {b.arch} {b.params}: int8 "
              f"{result.best_test_int8_accuracy:.4f} (test), model {b.model_bytes:,} B, arena "
              f"{b.arena_bytes:,} B; target >= 0.925")
    print(f"outputs in {out}")


if __name__ == "__main__":
    main()
