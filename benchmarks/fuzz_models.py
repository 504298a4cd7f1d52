"""Mutation fuzzing of real models: one-byte mutants of each .tflite, each opened the way
`edgecnn analyze` and `edgecnn build` open a user's model (``--runtime tflm``: the model read,
checked against the Nano's TFLM library and fitted; ``--runtime native``: a whole
`edgecnn build --runtime native` for the emulated Cortex-M4 into a temporary folder: lowering,
memory plan, test vectors from the host reference, the rendered C).

Every mutant must end in one of two ways: a result, or an EdgecnnError (one line, exit 2 at
the command line). Anything else is a bug and is listed: another exception (an internal
error, exit 1) or the worker process dying (a segfault that took edgecnn down). Each mutant is
tried in a worker process of its own, so that such a death is observed, not suffered.

    python benchmarks/fuzz_models.py [--models DIR] [--count 1000] [--seed 0] [--jobs 2]
                                     [--runtime tflm|native]
"""
from __future__ import annotations

import argparse
import concurrent.futures as cf
import multiprocessing as mp
import random
import sys
import time
from collections import Counter
from pathlib import Path


def _try(data: bytes, runtime: str) -> str:
    import tempfile

    from edgecnn.analyze import analyze
    from edgecnn.boards import load_board
    from edgecnn.build import build
    from edgecnn.errors import EdgecnnError
    from edgecnn.fit import check_fit
    from edgecnn.runtimes.tflm_compat import check_model
    from edgecnn.tflite_model import read_tflite

    try:
        if runtime == "native":
            with tempfile.TemporaryDirectory() as tmp:
                model = Path(tmp) / "mutant.tflite"
                model.write_bytes(data)
                build("mps2-an386", model, Path(tmp) / "project", runtime="native")
            return "ok"
        m = read_tflite(data)
        board = load_board("nano33")
        check_model(m, board, force=False)
        check_fit(analyze(m), board)
        return "ok"
    except EdgecnnError:
        return "clean error"
    except Exception as exc:   # what the fuzzer is here to find
        return f"INTERNAL {type(exc).__name__}: {str(exc)[:120]}"


def _child(data: bytes, runtime: str, conn) -> None:
    conn.send(_try(data, runtime))


def _worker(args) -> tuple[str, int, str]:
    name, offset, value, data, runtime = args
    mutant = bytearray(data)
    mutant[offset] = value
    ctx = mp.get_context("spawn")   # forking from a thread pool is not safe
    receive, send = ctx.Pipe(duplex=False)
    child = ctx.Process(target=_child, args=(bytes(mutant), runtime, send))
    child.start()
    child.join(300)
    if child.is_alive():
        child.kill()
        child.join()
        return name, offset, "HANG (300 s)"
    if child.exitcode != 0:
        return name, offset, f"DIED: exit {child.exitcode}"
    return name, offset, receive.recv() if receive.poll() else "DIED: no answer"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default=str(Path(__file__).resolve().parents[2] / "shared"
                                                / "models"))
    parser.add_argument("--count", type=int, default=1000, help="mutants per model")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--runtime", choices=("tflm", "native"), default="tflm")
    args = parser.parse_args()
    models = sorted(Path(args.models).glob("*.tflite"))
    if not models:
        sys.exit(f"no .tflite files in {args.models}")
    rng = random.Random(args.seed)
    cases = []
    for path in models:
        data = path.read_bytes()
        for _ in range(args.count):
            offset = rng.randrange(len(data))
            value = rng.choice([0x00, 0xFF, 0x7F, 0x80, data[offset] ^ (1 << rng.randrange(8))])
            cases.append((path.name, offset, value, data, args.runtime))
    start = time.perf_counter()
    outcomes: Counter = Counter()
    bugs = []
    # threads, each waiting on its own child process: a child that dies is an observation
    with cf.ThreadPoolExecutor(args.jobs) as pool:
        for name, offset, outcome in pool.map(_worker, cases):
            kind = outcome if outcome in ("ok", "clean error") else outcome.split(":")[0]
            outcomes[kind] += 1
            if outcome not in ("ok", "clean error"):
                bugs.append((name, offset, outcome))
    elapsed = time.perf_counter() - start
    print(f"{len(cases)} mutants of {len(models)} models in {elapsed:.0f} s "
          f"({args.jobs} jobs, seed {args.seed}, {args.runtime} runtime)")
    for kind, n in outcomes.most_common():
        print(f"  {kind:<24} {n}")
    print(f"clean: {len(cases) - len(bugs)} of {len(cases)}  (target: all)")
    for name, offset, outcome in sorted(bugs)[:50]:
        print(f"  BUG {name} byte {offset}: {outcome}")


if __name__ == "__main__":
    main()
