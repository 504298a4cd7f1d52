"""End to end on an emulated Cortex-M4 (QEMU mps2-an386): edgecnn's firmware with the native
runtime, built by Debian's arm-none-eabi-gcc, benched through the emulated UART, and every
output verified bit for bit against the host TFLM interpreter. The figures are emulated
instruction counts, and the report says so."""
import json
import os

import pytest
from conftest import MLPERF_MODELS, require_tool, shared_model

from edgecnn.build import build
from edgecnn.harness.bench import bench

TOOLS = ("qemu-system-arm", "arm-none-eabi-gcc", "arm-none-eabi-g++", "arm-none-eabi-size")


def _emulated_bench(model, tmp_path, samples):
    for tool in TOOLS:
        require_tool(tool)
    result = build("mps2-an386", model, tmp_path / "p")
    assert result.manifest.firmware.runtime == "native"     # the board's only runtime
    report = bench(result.project, port="emulator", runs=3, warmup=1, verify=True,
                   samples=samples, out=tmp_path / "r" / "report.json", timeout=60)
    return result, report


@pytest.mark.parametrize("name", sorted(MLPERF_MODELS))
def test_mlperf_models_on_the_emulator(name, tmp_path):
    result, report = _emulated_bench(shared_model(name), tmp_path, samples=100)
    assert report.status == "complete" and report.source == "emulator"
    assert report.device.target == "emulator" and report.device.has_cycles
    assert report.verify.checked == report.verify.bitexact == 100
    assert report.selfcheck.all_bitexact and report.verdict.outputs_match
    # instruction counts: deterministic under -icount (1 ns per instruction); runs differ only
    # through data-dependent branches (the arena's input bytes are reused by later layers; an
    # output clamped low skips the high clamp): within 0.1 % on the reference models, 1.1 % on
    # a stand-in with untrained weights, whose outputs saturate far more often
    cycles = report.latency.cycles
    assert cycles is not None and cycles.min > 10_000 and cycles.max - cycles.min <= 2e-2 * cycles.min
    assert abs(report.latency.us.p50 - cycles.p50 / 1000) <= 1
    # memory: from the ELF that ran, beside the arena the firmware reports
    mem = report.memory
    assert mem.text > 0 and mem.rodata > 0 and mem.bss >= result.arena.allocated_bytes
    assert report.arena.used_bytes == result.arena.device_need_bytes
    md = (tmp_path / "r" / "report.md").read_text()
    assert "EMULATOR (instruction counts, not device time)" in md and "| instructions |" in md
    assert json.loads((tmp_path / "r" / "report.json").read_text())["memory"]["text"] == mem.text


def test_the_default_architecture_on_the_emulator(tmp_path):
    """edge_cnn, the default model's architecture, trained briefly on real Fashion-MNIST."""
    from edgecnn.data import load_dataset
    from edgecnn.quantize import quantize
    from edgecnn.train import TrainConfig, train

    ds = load_dataset("fashion_mnist").subset(train=2000, test=300)
    trained = train("edge_cnn", ds, TrainConfig(epochs=2, verbose=0), out=tmp_path / "m.keras")
    quantize(trained.model, ds, out=tmp_path / "edge_cnn.tflite", meta=trained.meta)
    result, report = _emulated_bench(tmp_path / "edge_cnn.tflite", tmp_path, samples=100)
    assert report.verify.checked == report.verify.bitexact == 100
    assert "fashion_mnist" in report.verify.source
    # a trained model (2 epochs on 2,000 images: 0.5-0.7 here, depending on TensorFlow's
    # thread scheduling), well above the 0.1 of chance; equal on the board and the host
    assert report.verify.device_accuracy == report.verify.host_accuracy > 0.3


@pytest.mark.skipif(not os.environ.get("EDGECNN_TFLM_LIBRARY"),
                    reason="opt-in: set EDGECNN_TFLM_LIBRARY to a checkout of the pinned TFLM "
                           "Arduino library (tflite-micro-arduino-examples at 7948b85), which is "
                           "in no package registry CI can reach")
def test_the_tflm_runtime_on_the_emulator(tmp_path):
    """The same firmware with the board's TFLM library (CMSIS-NN) built from its sources for
    the emulated Cortex-M4: bit-exact, and its arena figure is the library's own."""
    for tool in TOOLS:
        require_tool(tool)
    result = build("mps2-an386", shared_model("kws_ref_model.tflite"), tmp_path / "p",
                   runtime="tflm")
    report = bench(result.project, port="emulator", runs=3, warmup=1, verify=True, samples=20,
                   out=tmp_path / "r" / "report.json", timeout=120)
    assert report.verify.checked == report.verify.bitexact == 20
    assert report.selfcheck.all_bitexact and report.source == "emulator"
    assert 0 < report.arena.used_bytes <= report.arena.allocated_bytes
    assert report.profile.available and len(report.profile.ops) == 13


def _children(pid: int, name: str) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = open(f"/proc/{entry}/stat").read()
            except OSError:
                continue
            comm, rest = stat[stat.index("(") + 1:stat.rindex(")")], stat[stat.rindex(")") + 2:]
            if comm == name[:15] and int(rest.split()[1]) == pid:
                found.append(int(entry))
    return found


def _gone(pid: int) -> bool:
    try:
        state = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return True
    return state in ("Z", "X")      # killed, waiting to be reaped


@pytest.mark.parametrize("how", ["SIGKILL", "SIGTERM"])
def test_qemu_dies_with_edgecnn(tmp_path, tiny_model, how):
    """SIGKILL leaves no finally to run: the kernel's parent-death signal stops QEMU. SIGTERM
    stops it through the command's cleanup, and the command exits 128 + 15."""
    import signal
    import subprocess
    import sys
    import time

    for tool in TOOLS:
        require_tool(tool)
    result = build("mps2-an386", tiny_model["tflite"], tmp_path / "p")
    proc = subprocess.Popen([sys.executable, "-m", "edgecnn.cli", "emulate", "--project",
                             str(result.project)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    lines = []
    while not any(line.startswith("port") for line in lines):
        line = proc.stdout.readline()
        assert line, proc.stderr.read()
        lines.append(line)
    qemu = _children(proc.pid, "qemu-system-arm")
    assert len(qemu) == 1
    proc.send_signal(getattr(signal, how))
    proc.communicate(timeout=30)
    assert proc.returncode == (-9 if how == "SIGKILL" else 128 + 15)
    deadline = time.monotonic() + 10
    while not _gone(qemu[0]) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _gone(qemu[0])
