"""Arena sizing against the board's own figures: edgecnn's device need and allocation beside
``arena_used_bytes()`` as the pinned Arduino TFLM library (7948b85, CMSIS-NN) reports it on a
32-bit Cortex-M4.

The device figures below were measured by running each model with that library, built for
Cortex-M4F as PlatformIO builds it (arm-none-eabi-gcc 12.2, ARDUINO defined, no
TF_LITE_STATIC_MEMORY), on QEMU's mps2-an386. They cannot be re-measured here without the
library (which edgecnn does not ship); pass ``--device NAME=BYTES`` to add your own, e.g. the
``arena used=`` figure that ``edgecnn bench`` reads from a board.

Targets (issue "What runs on the board"): need >= device used for every model; allocated
<= 1.10 x device used where the arena is above 8 KB.

    python benchmarks/bench_arena.py [--models DIR] [--device kws_ref_model=24164 ...]
"""
from __future__ import annotations

import argparse
from pathlib import Path

from edgecnn.analyze import analyze
from edgecnn.boards import load_board
from edgecnn.runtimes.tflm import plan_arena

# arena_used_bytes() of the pinned Nano library on an emulated Cortex-M4, per model file stem
DEVICE_USED = {"kws_ref_model": 24_164, "pretrainedResnet_quant": 55_188, "ad01_int8": 2_596}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default=str(Path(__file__).resolve().parents[2] / "shared"
                                                / "models"))
    parser.add_argument("--device", action="append", default=[], metavar="NAME=BYTES")
    args = parser.parse_args()
    device = dict(DEVICE_USED)
    for item in args.device:
        name, _, value = item.partition("=")
        device[name] = int(value)
    board = load_board("nano33")
    print(f"{'model':<26} {'device used':>11} {'need':>8} {'need/dev':>8} {'allocated':>9} "
          f"{'alloc/dev':>9}  targets")
    for path in sorted(Path(args.models).glob("*.tflite")):
        if path.stem not in device:
            continue
        plan = plan_arena(analyze(path), board)
        used = device[path.stem]
        need_ok = plan.device_need_bytes >= used
        alloc_ok = used <= 8192 or plan.allocated_bytes <= 1.10 * used
        print(f"{path.stem:<26} {used:>11,} {plan.device_need_bytes:>8,} "
              f"{plan.device_need_bytes / used:>8.3f} {plan.allocated_bytes:>9,} "
              f"{plan.allocated_bytes / used:>9.3f}  need>=device {'met' if need_ok else 'MISSED'}"
              f", alloc<=1.10x {'met' if alloc_ok else 'MISSED'}")


if __name__ == "__main__":
    main()
