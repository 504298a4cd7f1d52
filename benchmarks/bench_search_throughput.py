"""Trial throughput of `edgecnn search`: one worker against two on one study, each worker on its
own core — as plain processes sharing the journal (each pinned to a core with taskset), and as
Ray workers (a Ray cluster on 127.0.0.1 of one node, then of two nodes, one CPU each, started
and stopped here). Prints trials a minute and the speed-up of two over one.

The trials are the same small candidate every time (digits, edge_cnn at fixed widths, one
epoch), so that the figure is the engine's, not the search space's.

    python benchmarks/bench_search_throughput.py [--trials 8] [--skip-ray] [--skip-processes]
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SEARCH = ["--dataset", "digits", "--board", "nano33", "--epochs", "1", "--archs", "edge_cnn",
          "--param", "filters=16..16", "--param", "dense=32..32", "--param", "dropout=0..0"]
CLUSTER = """
import os, sys
os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"
from ray.cluster_utils import Cluster
cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1})
for _ in range(int(sys.argv[1]) - 1):
    cluster.add_node(num_cpus=1)
cluster.wait_for_nodes()
print(cluster.address, flush=True)
sys.stdin.read()
cluster.shutdown()
"""


def _search(out: Path, trials: int, extra=(), core: int | None = None) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "edgecnn.cli", "search", *SEARCH, "--trials", str(trials),
           "--out", str(out), *extra]
    if core is not None and shutil.which("taskset"):
        cmd = ["taskset", "-c", str(core), *cmd]
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def _finish(procs) -> None:
    for p in procs:
        _, err = p.communicate()
        if p.returncode != 0:
            raise SystemExit(f"search failed: {err.strip().splitlines()[-1:]}")


def _trained(out: Path) -> int:
    rows = json.loads((out / "trials.json").read_text())
    return sum(r["status"] == "complete" for r in rows)


def processes(workers: int, trials: int, root: Path) -> float:
    out = root / f"processes-{workers}"
    start = time.perf_counter()
    _finish([_search(out, trials, core=i % (os.cpu_count() or 1)) for i in range(workers)])
    return _trained(out) / (time.perf_counter() - start) * 60


def ray(nodes: int, trials: int, root: Path) -> float:
    cluster = subprocess.Popen([sys.executable, "-c", CLUSTER, str(nodes)], text=True,
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                               stderr=subprocess.DEVNULL)
    try:
        address = cluster.stdout.readline().strip()
        out = root / f"ray-{nodes}"
        start = time.perf_counter()
        _finish([_search(out, trials, ["--ray", address, "--cpus-per-trial", "1"])])
        return _trained(out) / (time.perf_counter() - start) * 60
    finally:
        cluster.stdin.close()
        cluster.wait(timeout=120)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=8)
    parser.add_argument("--skip-ray", action="store_true")
    parser.add_argument("--skip-processes", action="store_true")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="edgecnn-bench-throughput-"))
    print(f"{os.cpu_count()} CPUs; {args.trials} trials of one fixed candidate per run")
    rows = []
    if not args.skip_processes:
        rows.append(("processes on one journal", processes(1, args.trials, root),
                     processes(2, args.trials, root)))
    if not args.skip_ray:
        rows.append(("Ray workers (1 CPU each)", ray(1, args.trials, root),
                     ray(2, args.trials, root)))
    print(f"{'engine':28} {'1 worker':>12} {'2 workers':>12} {'speed-up':>9}")
    for name, a, b in rows:
        print(f"{name:28} {a:9.2f}/min {b:9.2f}/min {b / a:8.2f}x")
    shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
