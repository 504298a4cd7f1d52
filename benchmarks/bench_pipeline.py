"""The first run, measured: `edgecnn build --board nano33` from nothing, then a second build for
another board (the trained-model cache), then the quick commands on a ready model.

Each command runs as a user runs it (a subprocess in an empty folder) with a fresh, empty
trained-model cache, so the first build really trains. Prints the machine's core count and each
figure beside its target (issue "The first run"):

    python benchmarks/bench_pipeline.py [--board nano33] [--second-board esp32]
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def timed(cmd, cwd, env):
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        sys.exit(f"{' '.join(map(str, cmd))} failed:\n{proc.stderr[-2000:]}")
    return time.perf_counter() - start, proc.stdout, proc.stderr


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--board", default="nano33")
    parser.add_argument("--second-board", default="esp32")
    args = parser.parse_args()
    edgecnn = [sys.executable, "-m", "edgecnn.cli"]
    print(f"machine: {os.cpu_count()} cores, Python {sys.version.split()[0]}", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(os.environ, EDGECNN_CACHE_DIR=str(Path(tmp) / "cache"))
        t_first, out, err = timed([*edgecnn, "build", "--board", args.board, "--out", "first"],
                                  tmp, env)
        console = (out + err).splitlines()
        manifest = json.loads((Path(tmp) / "first" / "edgecnn.json").read_text())
        meta = json.loads((Path(tmp) / "first" / "model" / "model.json").read_text())
        t_second, out2, err2 = timed([*edgecnn, "build", "--board", args.second_board,
                                      "--out", "second"], tmp, env)
        reused = "reusing" in err2
        tflite = str(Path(tmp) / "first" / "model" / "model.tflite")
        t_analyze, _, _ = timed([*edgecnn, "analyze", tflite], tmp, env)
        t_ready, _, _ = timed([*edgecnn, "build", "--board", args.board, "--model", tflite,
                               "--out", "ready"], tmp, env)

    m, arena = manifest["model"], manifest["arena"]
    t = meta["training"]
    rows = [
        ("int8 test accuracy (TFLM kernels, 10,000)", f"{100 * m['int8_accuracy']:.2f} %",
         ">= 91.5 %"),
        ("float test accuracy (Keras)", f"{100 * m['float_accuracy']:.2f} %", ""),
        (".tflite size", f"{m['bytes']:,} B", "<= 65,536 B"),
        ("parameters / MACs", f"{m['params']:,} / {m['macs']:,}", ""),
        (f"arena allocated for {manifest['board']['name']}", f"{arena['allocated_bytes']:,} B",
         "<= 32,768 B"),
        ("epochs run / training time", f"{t['epochs_run']} / {t['seconds']:.0f} s", ""),
        (f"build --board {args.board} from nothing (wall)", f"{t_first:.0f} s", "<= 180 s"),
        ("console lines of that build", str(len(console)), "edgecnn's own only"),
        (f"build --board {args.second_board} after it (wall)", f"{t_second:.1f} s",
         "seconds (cache)" + ("" if reused else ": CACHE NOT USED")),
        ("edgecnn analyze (wall)", f"{t_analyze:.2f} s", "<= 5 s"),
        ("edgecnn build, ready .tflite (wall)", f"{t_ready:.2f} s", "<= 5 s"),
    ]
    for name, value, target in rows:
        print(f"{name:<46} {value:>18}   {target}")
    print("\nconsole of the first build:")
    for line in console:
        print(f"  | {line}")


if __name__ == "__main__":
    main()
