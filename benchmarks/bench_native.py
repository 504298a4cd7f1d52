"""The native C runtime against TFLM on the same models, on the emulated Cortex-M4.

Per model: the TFLM arena (``arena_used_bytes()`` of the pinned Nano library measured on an
emulated Cortex-M4, and what edgecnn allocates for the Nano) beside the native runtime's
(static plan + kernel scratch, what its firmware uses), with the ratio; the native firmware's
sections (``arm-none-eabi-size -A``) and the runtime's own code (kernels + dispatcher); the
emulated instructions per inference (QEMU mps2-an386, ``-icount shift=0``) beside the TFLM +
CMSIS-NN figures measured with the same library on the same emulator; the bench's wall time.
Every figure here is EMULATED: instruction counts, not a device's latency.

Targets (issue "The native runtime ahead of TFLM + CMSIS-NN"): instructions <= 0.85 x TFLM +
CMSIS-NN's; arena <= 0.6 x TFLM's arena_used_bytes() (or the operator bound + 1 KB); native runtime
code <= 12 KB; the model's constants <= the flatbuffer.

With ``$EDGECNN_TFLM_LIBRARY`` (a checkout of the pinned Nano library, tflite-micro-arduino-
examples at 7948b85) every model is also built with TFLM + CMSIS-NN for the same emulated chip
and benched there: the TFLM columns are then measured in this run, and a per-operator table
sets each native kernel beside TFLM's (both from the firmware's per-operator profile, emulated
instructions). Without it the TFLM columns are the figures measured so, on 2026-11-29.

With ``--zoo`` the zoo's architectures (default parameters; Fashion-MNIST's input, CIFAR-10's
for resnet8 and mobilenet_v2) and with ``--shapes`` the layer shapes public keyword, vision and
anomaly models use are benched too, as untrained int8 graphs (calibrated on random images:
the operators, shapes and memory of a trained model; the instruction counts of its kernels).

    python benchmarks/bench_native.py [--models DIR] [--zoo] [--shapes] [MODEL.tflite ...]
"""
from __future__ import annotations

import argparse
import os
import subprocess
import tempfile
import time
from pathlib import Path

from edgecnn.build import build
from edgecnn.harness.bench import bench
from edgecnn.harness.emulator import build_elf, elf_memory

# arena_used_bytes() of the pinned Nano library (7948b85, CMSIS-NN) on an emulated Cortex-M4
TFLM_ARENA_USED = {"kws_ref_model": 24_164, "pretrainedResnet_quant": 55_188, "ad01_int8": 2_596}
# instructions per inference, the same library with CMSIS-NN on QEMU mps2-an386 -icount shift=0
TFLM_INSTRUCTIONS = {"kws_ref_model": 7_940_000, "pretrainedResnet_quant": 31_900_000,
                     "ad01_int8": 580_000}
TFLM_CODE_BYTES = (33_000, 66_000)   # TFLM + CMSIS-NN text of those builds (-O2)


def operator_bound(model: Path) -> int:
    """The largest sum of one operator's non-constant inputs and outputs (RESHAPE aside: it
    moves nothing): no plan that keeps each operator's tensors apart can go below it."""
    from edgecnn.tflite_model import read_tflite

    m = read_tflite(model.read_bytes())
    bound = 0
    for op in m.operators:
        if op.opcode.name == "RESHAPE":
            continue
        tensors = {t for t in (*op.inputs, *op.outputs)
                   if t >= 0 and not m.tensors[t].is_constant}
        bound = max(bound, sum(m.tensors[t].nbytes for t in tensors))
    return bound


def model_constant_bytes(elf: Path) -> int:
    """The model's own read-only data in the ELF: the generated arrays (weights, biases,
    multipliers, shifts, offsets: symbols l<N>_...), the layer parameter structs and the layer
    table; not the self-check vectors or the C library's tables, which rodata also holds."""
    import re

    out = subprocess.run(["arm-none-eabi-nm", "-S", "-t", "d", str(elf)], capture_output=True,
                         text=True, check=True).stdout
    total = 0
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 4 and parts[2] in "rR" and (
                re.match(r"l\d+_", parts[3]) or parts[3] == "edgecnn_native_layers"):
            total += int(parts[1])
    return total


def runtime_code_bytes(elf: Path) -> int:
    """Text the native runtime's own code (kernels, entries, dispatcher) takes in the linked
    firmware: the functions its objects define, as the linker kept them (--gc-sections drops
    the kernels a model does not use)."""
    from edgecnn.runtimes.native_kernels import kernel_sources

    folder = elf.parent
    names: set[str] = set()
    for name in (*(f"{k}.o" for k in kernel_sources() if k.endswith(".c")),
                 "edgecnn_native_ops.c.o",
                 "edgecnn_runtime_native.cpp.o"):
        out = subprocess.run(["arm-none-eabi-nm", str(folder / name)], capture_output=True,
                             text=True, check=True).stdout
        names |= {line.split()[-1] for line in out.splitlines()
                  if len(line.split()) >= 2 and line.split()[-2] in "tT"}
    out = subprocess.run(["arm-none-eabi-nm", "-S", "-t", "d", str(elf)], capture_output=True,
                         text=True, check=True).stdout
    return sum(int(parts[1]) for parts in (line.split() for line in out.splitlines())
               if len(parts) == 4 and parts[2] in "tT" and parts[3] in names)


def _shape_models(keras):
    """Layer shapes public models use, each as a small model."""
    layers = keras.layers

    def pool(x):        # AVERAGE_POOL_2D over the whole map (GAP would convert to MEAN)
        return layers.Flatten()(layers.AveragePooling2D(tuple(x.shape[1:3]))(x))

    def model(name, shape, body):
        inputs = keras.Input(shape, name="input")
        return keras.Model(inputs, body(inputs), name=name)

    return [
        # a keyword spotter's first layer as some write it: depthwise with a channel
        # multiplier on the one-channel spectrogram, then pointwise
        model("dw_multiplier_kws", (49, 10, 1), lambda x: layers.Dense(12)(
            pool(layers.Conv2D(32, 1, activation="relu")(
                layers.DepthwiseConv2D(3, depth_multiplier=8, padding="same",
                                       activation="relu")(x))))),
        # a vision stem: a large strided kernel, then a 5x5 strided one
        model("large_kernel_strides", (64, 64, 3), lambda x: layers.Dense(10)(
            pool(layers.Conv2D(32, 5, strides=2, padding="same",
                                                          activation="relu")(
                layers.Conv2D(16, 7, strides=2, padding="same", activation="relu")(x))))),
        # MobileNet-style strided depthwise 3x3 and 5x5 between pointwise convolutions
        model("depthwise_strided", (32, 32, 16), lambda x: layers.Dense(10)(
            pool(layers.Conv2D(64, 1, activation="relu")(
                layers.DepthwiseConv2D(5, strides=2, padding="same", activation="relu")(
                    layers.Conv2D(32, 1, activation="relu")(layers.DepthwiseConv2D(
                        3, strides=2, padding="same", activation="relu")(x))))))),
        # a pointwise stack
        model("pointwise_stack", (16, 16, 32), lambda x: layers.Dense(10)(
            pool(layers.Conv2D(64, 1, activation="relu")(
                layers.Conv2D(32, 1, activation="relu")(
                    layers.Conv2D(64, 1, activation="relu")(x)))))),
        # an anomaly-detection autoencoder's dense-only stack
        model("dense_only", (640,), lambda x: layers.Dense(640)(
            layers.Dense(128, activation="relu")(layers.Dense(8, activation="relu")(
                layers.Dense(128, activation="relu")(x))))),
    ]


def probe_models(folder: Path, zoo: bool, shapes: bool) -> list[Path]:
    """The zoo's architectures and the layer shapes, as untrained int8 .tflite files."""
    import numpy as np

    from edgecnn.console import import_tensorflow
    from edgecnn.data import Dataset
    from edgecnn.quantize import _convert

    import_tensorflow()
    import keras

    from edgecnn.zoo import ARCHITECTURES, build_model

    models = []
    if zoo:
        for arch in ARCHITECTURES:
            shape, classes = ((32, 32, 3), 10) if arch in ("resnet8", "mobilenet_v2") else \
                ((28, 28, 1), 10)
            models.append(build_model(arch, shape, classes))
    if shapes:
        models += _shape_models(keras)
    paths = []
    rng = np.random.default_rng(0)
    for model in models:
        x = rng.uniform(0, 1, (64, *model.input_shape[1:])).astype(np.float32)
        for layer in model.layers:
            # biases as trained ones are: not all zero (the converter would share one buffer
            # among equal zero biases, which shrinks the flatbuffer below a trained model's)
            if isinstance(layer, (keras.layers.Dense, keras.layers.Conv2D,
                                  keras.layers.DepthwiseConv2D)) and layer.use_bias:
                kernel, bias = layer.get_weights()
                layer.set_weights([kernel, rng.normal(0, 0.05, bias.shape).astype(np.float32)])
        last = model.layers[-1]
        if isinstance(last, keras.layers.Dense):
            # logits of unit spread: an untrained network's can span so little that TFLM's
            # softmax refuses its scale
            features = keras.Model(model.inputs, last.input).predict(x, verbose=0)
            kernel, bias = last.get_weights()
            spread = float(np.std(features)) or 1.0
            kernel = rng.normal(0, 1 / (spread * np.sqrt(kernel.shape[0])), kernel.shape)
            last.set_weights([kernel.astype(np.float32), bias])
        y = np.zeros(64, dtype=np.int64)
        data = Dataset("random", x, y, x, y, x, y, tuple(str(i) for i in range(10)))
        path = folder / f"{model.name}.tflite"
        path.write_bytes(_convert(model, data, 64))
        paths.append(path)
    return paths


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="*")
    parser.add_argument("--models-dir", default=str(Path(__file__).resolve().parents[2] /
                                                    "shared" / "models"))
    parser.add_argument("--zoo", action="store_true", help="also every zoo architecture")
    parser.add_argument("--shapes", action="store_true",
                        help="also the layer shapes public models use")
    args = parser.parse_args()
    models = [Path(m) for m in args.models] or sorted(Path(args.models_dir).glob("*.tflite"))
    probes = tempfile.TemporaryDirectory()
    if args.zoo or args.shapes:
        models += probe_models(Path(probes.name), args.zoo, args.shapes)
    rows = []
    consts: dict[str, int] = {}
    per_op: list = []
    bounds = {model.stem: operator_bound(model) for model in models}
    with tempfile.TemporaryDirectory() as tmp:
        for model in models:
            nano = build("nano33", model, Path(tmp) / f"tflm_{model.stem}", force=True)
            native = build("mps2-an386", model, Path(tmp) / f"native_{model.stem}")
            start = time.monotonic()
            report = bench(native.project, port="emulator", runs=5, warmup=1, verify=True,
                           samples=20, out=Path(tmp) / f"r_{model.stem}" / "report.json",
                           timeout=120)
            wall = time.monotonic() - start
            elf = build_elf(native.project)
            mem = elf_memory(elf)
            code = runtime_code_bytes(elf)
            consts[model.stem] = model_constant_bytes(elf)
            instructions = report.latency.cycles.p50 if report.latency.cycles else 0.0
            if os.environ.get("EDGECNN_TFLM_LIBRARY"):
                # forced: a zoo model's MEAN runs (one step apart) on the pinned library
                tflm = build("mps2-an386", model, Path(tmp) / f"tflmemu_{model.stem}",
                             runtime="tflm", force=True)
                tflm_report = bench(tflm.project, port="emulator", runs=3, warmup=1,
                                    out=Path(tmp) / f"rt_{model.stem}" / "report.json",
                                    timeout=300)
                TFLM_ARENA_USED[model.stem] = tflm_report.arena.used_bytes
                TFLM_INSTRUCTIONS[model.stem] = int(tflm_report.latency.cycles.p50)
                per_op.append((model.stem, report.profile.ops, tflm_report.profile.ops))
            rows.append((model.stem, nano, native, report, mem, code, instructions, wall))
    print("EMULATED figures (QEMU mps2-an386, Cortex-M4F, -icount shift=0): instruction counts,"
          " not device time.\n")
    print(f"{'model':<24} {'TFLM used':>9} {'TFLM alloc':>10} {'native':>8} {'ratio':>6} "
          f"{'op bound':>8} {'target':>8} {'met':>4}")
    for name, nano, native, *_ in rows:
        used = TFLM_ARENA_USED.get(name)
        nat = native.arena.allocated_bytes
        ratio = f"{nat / used:.2f}" if used else "–"
        bound = bounds[name]
        # the target: 0.6 x TFLM's arena, or the operator bound + 1 KB where it is higher
        target = max(int(0.6 * used), bound + 1024) if used else bound + 1024
        print(f"{name:<24} {used or 0:>9,} {nano.arena.allocated_bytes:>10,} {nat:>8,} "
              f"{ratio:>6} {bound:>8,} {target:>8,} {'yes' if nat <= target else 'no':>4}")
    print(f"\n{'model':<24} {'text':>7} {'rodata':>8} {'data':>5} {'bss':>7} {'runtime code':>12}"
          f" {'model consts':>12} {'flatbuffer':>10}")
    for name, _, native, _, mem, code, *_ in rows:
        print(f"{name:<24} {mem.text:>7,} {mem.rodata:>8,} {mem.data:>5,} {mem.bss:>7,} "
              f"{code:>12,} {consts[name]:>12,} {native.manifest.model.bytes:>10,}")
    print(f"\n{'model':<24} {'native instr':>13} {'TFLM+CMSIS-NN':>13} {'ratio':>6} "
          f"{'target':>6} {'bit-exact':>9} {'bench wall':>10}")
    for name, _, _, report, _, _, instructions, wall in rows:
        ref = TFLM_INSTRUCTIONS.get(name)
        ratio = f"{instructions / ref:.2f}" if ref else "–"
        exact = f"{report.verify.bitexact}/{report.verify.checked}"
        print(f"{name:<24} {instructions:>13,.0f} {ref or 0:>13,} {ratio:>6} {'<=0.85':>6} "
              f"{exact:>9} "
              f"{wall:>9.1f}s")
    for name, native_ops, tflm_ops in per_op:
        print(f"\n{name}: per operator, emulated instructions (the profile's µs x 1000)")
        print(f"{'op':>3} {'operator':<20} {'native':>11} {'TFLM+CMSIS':>11} {'ratio':>6}")
        for a, b in zip(native_ops, tflm_ops, strict=False):
            ratio = f"{a.us / b.us:.2f}" if b.us else "–"
            print(f"{a.op:>3} {a.tag[:20]:<20} {a.us * 1000:>11,} {b.us * 1000:>11,} {ratio:>6}")
    print(f"\nTFLM + CMSIS-NN code, -O2: {TFLM_CODE_BYTES[0]:,}-{TFLM_CODE_BYTES[1]:,} B; "
          "native runtime code is the 'runtime code' column (kernels, entries and dispatcher as "
          "linked); 'model consts' the generated arrays, parameters and layer table.")


if __name__ == "__main__":
    main()
