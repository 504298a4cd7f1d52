"""edgecnn's firmware application, compiled for the host with the POSIX platform and a test
double of the runtime, run behind a real pseudo-terminal, and driven by edgecnn's own harness
(edgecnn protocol) and MLPerf Tiny client. The same sources are compiled for the boards (test_codegen type-checks them against the
pinned libraries' declarations)."""
import json
import re
from pathlib import Path

import numpy as np
import pytest
import serial
from conftest import require_tool, shared_model

from edgecnn.build import build
from edgecnn.harness.hostfirmware import HostFirmware, compile_host_firmware
from edgecnn.harness.mlperf import MlperfClient, mlperf_session
from edgecnn.harness.project import load_project

FAKE = Path(__file__).with_name("firmware_host") / "fake_runtime.cpp"


def fake_outputs(x: bytes, n: int) -> bytes:
    """What fake_runtime.cpp computes, written again here."""
    return bytes(((x[i % len(x)] if x[i % len(x)] < 128 else x[i % len(x)] - 256) * 3 + i) % 256
                 for i in range(n))


def compile_with_fake_runtime(project: Path, out: Path) -> Path:
    """edgecnn's own host build of the project, its runtime replaced by the test double; the
    program keeps the board's target ("device") in its id line."""
    require_tool("g++")
    m = json.loads((project / "edgecnn.json").read_text())["model"]
    inp, outp = m["input"], m["output"]
    defines = (f"-DFAKE_INPUT_BYTES={int(np.prod(inp['shape']))}",
               f"-DFAKE_OUTPUT_BYTES={int(np.prod(outp['shape']))}",
               f"-DFAKE_INPUT_SCALE={inp['scale']!r}f",
               f"-DFAKE_INPUT_ZERO_POINT={inp['zero_point']}",
               f"-DFAKE_OUTPUT_SCALE={outp['scale']!r}f",
               f"-DFAKE_OUTPUT_ZERO_POINT={outp['zero_point']}")
    return compile_host_firmware(load_project(project), runtime_sources=(FAKE,),
                                 defines=defines, target=None, out=out)


def running(project: Path, program: Path) -> HostFirmware:
    fw = HostFirmware(project, program)
    fw.start()
    return fw


@pytest.fixture(scope="module")
def projects(tmp_path_factory):
    root = tmp_path_factory.mktemp("host_fw")
    model = shared_model("kws_ref_model.tflite")
    line = build("nano33", model, root / "edgecnn").project
    mlperf = build("nano33", model, root / "mlperf", protocol="mlperf-tiny",
                   mlperf_model="kws01").project
    return {"edgecnn": (line, compile_with_fake_runtime(line, root / "edgecnn_build")),
            "mlperf": (mlperf, compile_with_fake_runtime(mlperf, root / "mlperf_build"))}


def test_the_harness_benches_the_compiled_firmware(projects, tmp_path):
    from edgecnn.harness.bench import bench

    project, program = projects["edgecnn"]
    fw = running(project, program)
    try:
        report = bench(project, port=fw.port, runs=12, warmup=2, profile=True,
                       out=tmp_path / "r" / "report.json")
    finally:
        fw.stop()
    assert report.status == "complete"
    assert report.device.version and report.device.target == "device"
    assert report.arena.allocated_bytes == 4096 and report.arena.used_bytes == 1000
    assert len(report.samples_us) == 12
    assert [op.tag for op in report.profile.ops] == ["FAKE_OP"]
    # the test double is not the model: the firmware's self-check says so, vector by vector
    assert report.selfcheck.total == 8 and report.selfcheck.passed == 0
    assert report.verdict.outputs_match is False


def test_mlperf_session_against_the_compiled_firmware(projects):
    project, program = projects["mlperf"]
    vectors = json.loads((project / "model" / "test_vectors.json").read_text())
    x = np.asarray(vectors["vectors"][2]["input"], dtype=np.int8).tobytes()
    m = json.loads((project / "edgecnn.json").read_text())["model"]["output"]
    y = np.frombuffer(fake_outputs(x, int(np.prod(m["shape"]))), dtype=np.int8).astype(np.int64)
    expected = (y - m["zero_point"]).astype(np.float32) * np.float32(m["scale"])
    fw = running(project, program)
    try:
        with serial.Serial(fw.port, 115200, timeout=0.05) as port:
            session = mlperf_session(MlperfClient(port, timeout=10), x, expected, runs=20)
    finally:
        fw.stop()
    assert session.name == "edgecnn-device"
    assert session.profile == {"profile": "ULPMark for tinyML Firmware V0.0.1", "model": "kws01"}
    assert len(session.windows) == 5 and session.results_match
    assert all(w.runs == 20 and w.end_us >= w.start_us for w in session.windows)
    # what the DUT printed before the first command: the end of its boot banner, or none of it
    # (pyserial's open() flushes what the DUT printed before it: some or all of the banner when
    # the program was quicker than the test)
    banner = ["m-timestamp-mode-performance", "m-lap-us-", "m-init-done", "m-ready"]
    boot = session.transcript[:session.transcript.index("> name%")]
    assert len(boot) <= 4
    for line, expected_start in zip(boot, banner[4 - len(boot):], strict=True):
        assert line.startswith(expected_start), session.transcript[:6]


# command -> the firmware's answer, as MLCommons' reference DUT API words it (timestamps masked)
ANSWERS = [
    ("name", ["m-name-dut-[edgecnn-device]", "m-ready"]),
    ("profile", ["m-profile-[ULPMark for tinyML Firmware V0.0.1]", "m-model-[kws01]", "m-ready"]),
    ("db", ["e-[Command 'db' requires a subcommand]", "m-ready"]),
    ("db load", ["e-[Command 'db load' requires the # of bytes]", "m-ready"]),
    ("db load 0", ["e-[Command 'db load' must be >0 bytes]", "m-ready"]),
    ("db load 99999", ["e-[Supplied buffer size 99999 exceeds maximum of 490]", "m-ready"]),
    ("db load 490", ["m-[Expecting 490 bytes]", "m-ready"]),
    ("db 0g", ["e-[Invalid hex digit '0g']", "m-ready"]),
    ("db 123", ["e-[Insufficient number of hex digits]", "m-ready"]),
    ("db print", ["m-ready"]),
    ("LOAD", None),          # the 490 bytes, 31 a command, as the runner sends them
    ("infer 1 0", ["m-warmup-start-0", "m-warmup-done", "m-infer-start-1", "m-lap-us-T",
                   "m-lap-us-T", "m-infer-done", "RESULTS", "m-ready"]),
    ("infer 0", ["e-[Inference iterations must be >0]", "m-ready"]),
    ("infer 2 -1", ["e-[Inference warmup must be >=0]", "m-ready"]),
    ("infer x", ["e-[Inference iterations must be >0]", "m-ready"]),
    ("timestamp", ["m-lap-us-T", "m-ready"]),
    ("bogus words", ["e-[Unknown command: bogus]", "m-ready"]),
    ("", ["m-ready"]),
    ("  name  ", ["m-name-dut-[edgecnn-device]", "m-ready"]),
    ("results", ["RESULTS", "m-ready"]),
    ("infer 3 1", ["m-warmup-start-1", "m-warmup-done", "m-infer-start-3", "m-lap-us-T",
                   "m-lap-us-T", "m-infer-done", "RESULTS", "m-ready"]),
    ("x" * 85, ["e-[Command longer than 80 characters]", "m-ready"]),
]


def test_the_firmware_answers_every_mlperf_command_as_the_reference_dut_does(projects):
    """The one device side of the MLPerf Tiny protocol, command by command, errors included;
    the results line is the test double's outputs dequantized, computed here."""
    project, program = projects["mlperf"]
    data = bytes(range(256)) * 2
    m = json.loads((project / "edgecnn.json").read_text())["model"]["output"]
    y = np.frombuffer(fake_outputs(data[:490], 12), dtype=np.int8).astype(np.int64)
    values = (y - m["zero_point"]).astype(np.float32) * np.float32(m["scale"])
    results = "m-results-[" + ",".join(f"{v:.3f}" for v in values) + "]"
    fw = running(project, program)
    try:
        with serial.Serial(fw.port, 115200, timeout=0.05) as port:
            client = MlperfClient(port, timeout=10)
            client.drain()
            for command, want in ANSWERS:
                if command == "LOAD":
                    for i in range(0, 490, 31):
                        assert client.command(f"db {data[i:i + 31].hex()}")[-1] in (
                            "m-ready", "m-load-done")
                    continue
                got = [re.sub(r"^m-lap-us-\d+$", "m-lap-us-T", x)
                       for x in client.command(command) if x]
                assert got == [results if x == "RESULTS" else x for x in want], command
            dump = client.command("db print")
            assert dump[0] == "m-buffer-00-01-02-03-04-05-06-07" and dump[-2] == "m-buffer-e8-e9"
    finally:
        fw.stop()
