"""The serial harness end to end: pyserial on one side of a real pseudo-terminal, the virtual
board (the project's model in the TFLM host interpreter) on the other, with injected faults."""
import csv
import errno
import json
import os
import subprocess
import sys
import zlib
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pytest
import serial
from conftest import assert_one_line_error, run_cli, shared_model

from edgecnn.build import build
from edgecnn.errors import (
    DeviceTimeoutError,
    FlashError,
    ModelMismatchError,
    PortError,
    ProjectError,
)
from edgecnn.harness import Faults, HostFirmware, bench, find_port
from edgecnn.harness.link import port_error
from edgecnn.harness.protocol import decode_output, infer_command, parse_line
from edgecnn.harness.records import Profile, Runs
from edgecnn.tflm_host import HostInterpreter

FAST = dict(timeout=3.0, warmup=1)


@pytest.fixture(scope="module")
def kws_project(tmp_path_factory):
    """A project for a model nobody here trained (MLPerf Tiny keyword spotting)."""
    out = tmp_path_factory.mktemp("harness") / "kws"
    return build("nano33", shared_model("kws_ref_model.tflite"), out).project


@pytest.fixture(scope="module")
def digits_project(tmp_path_factory, tiny_model):
    """A project from `edgecnn build` on a model trained here, with its data set in the metadata."""
    out = tmp_path_factory.mktemp("harness") / "digits"
    return build("esp32", tiny_model["tflite"], out).project


def _jsonl(path):
    return [json.loads(line) for line in Path(path).read_text(encoding="utf-8").splitlines()]


def test_bench_and_verify_a_built_model_end_to_end(digits_project, tmp_path):
    report = bench(digits_project, port="virtual", runs=40, verify=True, samples=60,
                   out=tmp_path / "r" / "report.json", **FAST)
    assert report.status == "complete" and report.source == "virtual"
    # latency rows = runs, and the statistics are consistent with the raw samples
    assert report.runs == Runs(requested=40, received=40, lost=0, segments=1, warmup=1)
    us = report.latency.us
    assert us.count == 40 and us.min <= us.p50 <= us.p90 <= us.p99 <= us.max
    assert us.p50 == float(np.percentile(report.samples_us, 50))
    assert report.latency.cycles is None   # the virtual board has no cycle counter
    # arena: used <= allocated, as the build planned
    a = report.arena
    assert 0 < a.used_bytes <= a.allocated_bytes
    assert a.headroom_bytes == a.allocated_bytes - a.used_bytes
    # correctness: every output bit-exact with the host reference (checked against TFLite's
    # own interpreter in test_virtual_board_outputs_equal_tflite_s_own_interpreter)
    assert report.selfcheck.passed == report.selfcheck.total == 8
    v = report.verify
    assert v.checked == 60 and v.bitexact == 60 and v.all_bitexact
    assert v.device_accuracy == v.host_accuracy > 0.5
    assert "digits test split" in v.source
    assert report.profile == Profile(False, "the virtual board's host interpreter has no "
                                            "per-op timer")
    # the virtual board of a TFLM project is the project's firmware, its Invoke() forwarded to
    # TFLM's host interpreter, and the report says so
    assert report.device.kernels == "tflm-host-reference"
    assert "pipe" in report.latency.clock and "host timings" in report.latency.clock
    assert report.arena.allocated_bytes == json.loads(
        (digits_project / "edgecnn.json").read_text())["arena"]["allocated_bytes"]
    # the files: JSON Lines as measured, JSON, CSV, Markdown, PNG
    files = report.files
    saved = json.loads(Path(files["json"]).read_text())
    assert saved["status"] == "complete" and saved["latency"] == asdict(report.latency)
    rows = _jsonl(files["jsonl"])
    assert [r["run"] for r in rows if r["type"] == "bench"] == list(range(40))
    assert sum(r["type"] == "verify" for r in rows) == 60 and rows[-1]["type"] == "end"
    with open(files["csv"]) as f:
        table = list(csv.DictReader(f))
    assert [int(r["us"]) for r in table] == report.samples_us
    assert {r["source"] for r in table} == {"virtual"}
    md = Path(files["md"]).read_text()
    assert "VIRTUAL BOARD" in md and "60 of 60 outputs bit-exact" in md
    with open(files["latency_png"], "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"


def test_bench_a_third_party_model_through_the_cli(kws_project, tmp_path):
    proc = run_cli("bench", "--project", kws_project, "--port", "virtual", "--runs", "15",
                   "--warmup", "0", "--verify", "--out", tmp_path / "kws")
    assert proc.returncode == 0, proc.stderr
    assert "(VIRTUAL board: host timings)" in proc.stdout
    assert "selfcheck 8/8 bit-exact" in proc.stdout and "verify    8/8 bit-exact" in proc.stdout
    report = json.loads((tmp_path / "kws" / "report.json").read_text())
    assert report["runs"]["received"] == 15
    assert report["verify"]["device_accuracy"] is None   # synthetic inputs carry no labels
    assert report["project"]["sha256"] == json.loads(
        (kws_project / "edgecnn.json").read_text())["model"]["sha256"]


def test_garbage_on_the_line_is_skipped(kws_project, tmp_path):
    report = bench(kws_project, port="virtual", runs=60, out=tmp_path,
                   faults=Faults.parse("garbage=0.5,seed=3"), **FAST)
    assert report.status == "complete" and report.runs.received == 60
    assert report.link.resynced_lines + report.link.noise_lines > 0


def test_dropped_lines_are_counted_not_invented(kws_project, tmp_path):
    """Rows lost on the link are counted, never invented, and the run is not "complete"."""
    from edgecnn.errors import IncompleteRunError

    with pytest.raises(IncompleteRunError, match="of 40 timed runs arrived") as caught:
        bench(kws_project, port="virtual", runs=40, out=tmp_path,
              faults=Faults.parse("drop=6"), **FAST)
    saved = json.loads(Path(caught.value.report_path).read_text())
    runs = saved["runs"]
    assert saved["status"] == "incomplete" and runs["lost"] > 0
    assert runs["received"] + runs["lost"] == 40
    assert saved["latency"]["us"]["count"] == runs["received"]
    sc = saved["selfcheck"]
    assert sc["passed"] <= sc["received"] < sc["total"] and not sc["all_bitexact"]


def test_a_reset_mid_run_is_survived(kws_project, tmp_path):
    # 8 self-check rows on request, then the board reboots 10 runs into the bench.
    report = bench(kws_project, port="virtual", runs=40, out=tmp_path,
                   faults=Faults.parse("reset=18"), **FAST)
    assert report.status == "complete"
    assert report.link.resets == 1 and report.runs.segments == 2
    assert report.runs.received == 40
    resets = [r for r in _jsonl(report.files["jsonl"]) if r["type"] == "reset"]
    assert len(resets) == 1


def test_silence_stops_with_a_partial_report(kws_project, tmp_path):
    with pytest.raises(DeviceTimeoutError, match="sent nothing for 1 s") as info:
        bench(kws_project, port="virtual", runs=40, out=tmp_path / "p.json",
              faults=Faults.parse("silence=18"), timeout=1.0, warmup=0)
    assert info.value.report_path == str(tmp_path / "p.json")
    saved = json.loads((tmp_path / "p.json").read_text())
    assert saved["status"] == "partial" and "sent nothing" in saved["error"]
    assert saved["runs"]["received"] == 10
    assert sum(r["type"] == "bench" for r in _jsonl(tmp_path / "p.jsonl")) == 10


def test_a_vanishing_port_stops_with_a_partial_report(kws_project, tmp_path):
    with pytest.raises(PortError, match="disappeared"):
        bench(kws_project, port="virtual", runs=40, out=tmp_path, faults=Faults.parse("vanish=12"),
              **FAST)
    saved = json.loads((tmp_path / "report.json").read_text())
    assert saved["status"] == "partial" and saved["runs"]["received"] <= 4


def test_the_cli_reports_a_fault_in_one_line_with_the_partial_report(kws_project, tmp_path):
    proc = run_cli("bench", "--project", kws_project, "--port", "virtual", "--runs", "30",
                   "--fault", "silence=20", "--timeout", "0.5", "--out", tmp_path / "f")
    assert_one_line_error(proc, "sent nothing", "partial report:")
    assert (tmp_path / "f" / "report.jsonl").is_file()
    proc = run_cli("bench", "--project", kws_project, "--port", "virtual", "--fault", "melt=1")
    assert_one_line_error(proc, "unknown fault 'melt=1'")


def test_a_busy_port_is_refused(kws_project, tmp_path):
    with HostFirmware(kws_project) as board:
        holder = serial.Serial(board.port, 115200, exclusive=True)
        try:
            with pytest.raises(PortError, match="is busy"):
                bench(kws_project, port=board.port, runs=5, out=tmp_path, **FAST)
        finally:
            holder.close()
        # Once the port is free, the same board answers (the partial report of the refused
        # run stays where it is: a new run writes beside it, or replaces it with force).
        report = bench(kws_project, port=board.port, runs=5, out=tmp_path, force=True, **FAST)
        assert report.status == "complete" and report.source == "virtual"


def test_a_board_running_another_model_is_refused(kws_project, digits_project, tmp_path):
    with HostFirmware(digits_project) as board:
        with pytest.raises(ModelMismatchError, match="flash it first"):
            bench(kws_project, port=board.port, runs=5, out=tmp_path, **FAST)


def test_missing_port_and_missing_board():
    with pytest.raises(PortError, match="does not exist"):
        bench_missing = "/dev/edgecnn-no-such-port"
        from edgecnn.harness.link import SerialLink
        SerialLink(bench_missing, 115200).open()
    with pytest.raises(PortError, match="no Arduino Nano 33 BLE found on USB"):
        find_port(["2341:805A"], "Arduino Nano 33 BLE")


def test_os_errors_become_actionable_sentences():
    denied = serial.SerialException(errno.EACCES, "could not open port /dev/ttyACM0: "
                                                  "[Errno 13] Permission denied")
    assert "dialout" in str(port_error("/dev/ttyACM0", denied))
    assert "is busy" in str(port_error("/dev/ttyACM0", OSError(errno.EBUSY, "busy")))


def test_the_virtual_board_speaks_the_firmware_protocol(kws_project):
    """Raw pyserial against `edgecnn virtual-board`, the way a user would poke at it."""
    proc = subprocess.Popen([sys.executable, "-m", "edgecnn.cli", "virtual-board", "--project",
                             str(kws_project)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    try:
        port = proc.stdout.readline().strip()
        assert port.startswith("/dev/pts/"), proc.stderr.read() if proc.poll() else port
        with serial.Serial(port, 115200, timeout=0.5) as s:
            while s.readline():   # whatever of the boot lines is still in flight
                pass
            s.timeout = 3

            def ask(data, n=1):
                s.write(data)
                lines = []
                while len(lines) < n:
                    line = s.readline().decode().strip()
                    assert line, f"no answer to {data!r}"
                    if parse_line(line) and parse_line(line).kind not in ("selfcheck", "ready"):
                        lines.append(line)
                return lines
            ident = ask(b"id\n", 5)
            assert ident[0].startswith("edgecnn id version=0.1.0 protocol=3 target=virtual board=nano33ble")
            q = json.loads((kws_project / "edgecnn.json").read_text())["model"]["input"]
            assert ident[3] == (f"edgecnn input shape=1x49x10x1 type=9 scale={q['scale']:.9g} "
                                f"zero_point={q['zero_point']}")
            assert ask(b"bench 0\n") == ["edgecnn error usage: bench RUNS [WARMUP], 1 <= RUNS <= 100000"]
            assert ask(b"x" * 200 + b"\n") == ["edgecnn error line too long"]
            assert ask(b"infer 12 00000000\n") == ["edgecnn error infer LENGTH must be 490 bytes"]
            payload = bytes(np.arange(490, dtype=np.uint8) % 251)
            assert ask(infer_command(payload)) == ["edgecnn infer ready bytes=490"]
            answer = parse_line(ask(payload)[0])
            got = decode_output(answer, 12)
            want = HostInterpreter(kws_project.joinpath("model", "model.tflite").read_bytes()).run(
                np.frombuffer(payload, np.int8))
            assert got == np.asarray(want).tobytes()
            bad = f"infer 490 {zlib.crc32(payload) ^ 0xFF:08x}\n".encode()
            assert ask(bad) == ["edgecnn infer ready bytes=490"]
            assert ask(payload) == ["edgecnn error infer checksum mismatch; input discarded"]
    finally:
        proc.terminate()
        proc.communicate(timeout=10)   # also closes the pipes


def test_protocol_lines_and_checksums():
    m = parse_line("\x00\x17garbage edgecnn bench run=3 us=1520 cycles=97280")
    assert (m.kind, m.fields) == ("bench", {"run": 3, "us": 1520, "cycles": 97280})
    assert parse_line("edgecnn model sha256=0123 bytes=5").fields["sha256"] == "0123"
    assert parse_line("edgecnn unknownkind x=1") is None and parse_line("boot rom v1") is None
    good = parse_line(f"edgecnn infer us=5 cycles=0 crc32={zlib.crc32(b'ab'):08x} output=6162")
    assert decode_output(good, 2) == b"ab"
    with pytest.raises(ValueError, match="CRC-32"):
        decode_output(parse_line("edgecnn infer us=5 cycles=0 crc32=00000000 output=6162"), 2)


def test_flash_runs_platformio_with_the_documented_command(kws_project, tmp_path):
    proc = run_cli("flash", "--project", kws_project, "--port", "/dev/ttyACM0", "--dry-run")
    assert proc.returncode == 0, proc.stderr
    command = proc.stdout.split()
    assert command[1:] == ["run", "-d", str(kws_project), "-e", "nano33ble", "-t", "upload",
                           "--upload-port", "/dev/ttyACM0"]
    # Every option used is one that this PlatformIO's `pio run` accepts.
    help_text = subprocess.run([command[0], "run", "--help"], capture_output=True, text=True,
                               timeout=120).stdout
    for option in ("-d, --project-dir", "-e, --environment", "-t, --target", "--upload-port"):
        assert option in help_text, option


def test_flash_failure_is_one_line_with_platformio_s_reason(kws_project, tmp_path):
    # Stands in for `pio` offline: prints what PlatformIO 6.2 printed here without network.
    fake = tmp_path / "pio"
    fake.write_text("#!/bin/sh\necho \"Processing nano33ble (platform: nordicnrf52@10.4.0)\"\n"
                    "echo \"Platform Manager: Installing nordicnrf52 @ 10.4.0\"\n"
                    "echo \"HTTPClientError: \"\necho \"args: $*\" >&2\nexit 1\n")
    fake.chmod(0o755)
    proc = subprocess.run([sys.executable, "-m", "edgecnn.cli", "flash", "--project",
                           str(kws_project)], capture_output=True, text=True, timeout=60,
                          env={**os.environ, "EDGECNN_PIO": str(fake)})
    assert "Platform Manager: Installing nordicnrf52 @ 10.4.0" in proc.stdout   # streamed
    assert f"args: run -d {kws_project} -e nano33ble -t upload" in proc.stdout
    assert_one_line_error(proc, "PlatformIO failed (exit 1)", "needs the network")


def test_flash_and_bench_refuse_a_folder_that_is_not_a_project(tmp_path):
    assert_one_line_error(run_cli("flash", "--project", tmp_path), "no edgecnn.json")
    assert_one_line_error(run_cli("bench", "--project", tmp_path / "nope", "--port", "virtual"),
                          "is not a folder")
    with pytest.raises(ProjectError):
        bench(tmp_path, port="virtual")
    with pytest.raises(FlashError.__mro__[1]):   # EdgecnnError
        Faults.parse("garbage=2")


def test_outputs_that_differ_fail_the_run_with_exit_status_3(kws_project, tmp_path):
    """A board whose kernels compute differently (every 3rd output one step off): the verdict
    fails, every mismatch is counted, and the report's first lines say so."""
    proc = run_cli("bench", "--project", kws_project, "--port", "virtual", "--runs", "5",
                   "--warmup", "0", "--verify", "--fault", "corrupt=3", "--timeout", "3",
                   "--out", tmp_path / "r")
    assert proc.returncode == 3, (proc.returncode, proc.stderr)
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("edgecnn: error: OUTPUTS DIFFER from the host reference"), last
    report = json.loads((tmp_path / "r" / "report.json").read_text())
    # 8 self-check vectors at boot are not reported; on request outputs 9..16 are computed:
    # every 3rd one is off, then 8 verified outputs continue the count
    assert report["verdict"]["outputs_match"] is False
    v, sc = report["verify"], report["selfcheck"]
    assert v["checked"] == 8 and v["mismatched"] == 8 - v["bitexact"] > 0
    assert v["max_diff"] == 1 and len(v["mismatched_samples"]) == v["mismatched"]
    assert sc["total"] - sc["passed"] > 0
    assert f"outputs differ on {v['mismatched']} of 8 samples, max 1 step" in last
    md = (tmp_path / "r" / "report.md").read_text().splitlines()
    assert md[2].startswith("**OUTPUTS DIFFER from the host reference")


def test_every_mismatch_is_counted_when_the_list_is_capped(kws_project, tmp_path):
    from edgecnn.harness.edgecnn_session import MISMATCH_LIST

    report = bench(kws_project, port="virtual", runs=1, verify=True, samples=8,
                   out=tmp_path, faults=Faults.parse("corrupt=1"), **FAST)
    assert report.verify.mismatched == 8 and report.verify.bitexact == 0
    assert report.selfcheck.passed == 0
    assert MISMATCH_LIST < 60   # the cap applies to the listed indices only
    assert report.verdict.outputs_match is False


def test_a_virtual_board_opened_by_its_path_is_labelled_virtual(kws_project, tmp_path):
    """The report's source is what the firmware says it runs on, not how the port is named."""
    with HostFirmware(kws_project) as board:
        assert board.port.startswith("/dev/")
        report = bench(kws_project, port=board.port, runs=3, out=tmp_path, **FAST)
    assert report.source == "virtual" and report.device.target == "virtual"
    assert json.loads(Path(report.files["json"]).read_text())["source"] == "virtual"
    assert "VIRTUAL BOARD" in Path(report.files["md"]).read_text()


def test_a_cycle_counter_that_reads_zero_is_unavailable_not_a_figure():
    from edgecnn.harness.edgecnn_session import cycle_counter_state
    from edgecnn.harness.link import Identification

    counting = Identification(has_cycles=True)
    assert cycle_counter_state(counting, [0, 0, 0]) == (
        False, "the cycle counter read 0 on every run (not running on this target)")
    assert cycle_counter_state(counting, [120, 118]) == (True, None)
    assert cycle_counter_state(Identification(has_cycles=False), [5])[0] is False


def test_a_board_behind_a_tcp_socket_is_benched_through_a_pyserial_url(kws_project, tmp_path):
    """`--port socket://host:port` (an emulator's or ser2net's TCP UART): the harness opens any
    pyserial URL. Here a relay written in the test forwards TCP to the virtual board's pty."""
    import select
    import socket
    import threading

    with HostFirmware(kws_project) as board:
        server = socket.socket()
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        stop = threading.Event()

        def relay():
            conn, _ = server.accept()
            fd = os.open(board.port, os.O_RDWR | os.O_NOCTTY)
            try:
                while not stop.is_set():
                    ready, _, _ = select.select([conn, fd], [], [], 0.1)
                    if conn in ready:
                        data = conn.recv(4096)
                        if not data:
                            return
                        os.write(fd, data)
                    if fd in ready:
                        conn.sendall(os.read(fd, 4096))
            finally:
                os.close(fd)
                conn.close()

        thread = threading.Thread(target=relay, daemon=True)
        thread.start()
        try:
            report = bench(kws_project, port=f"socket://127.0.0.1:{server.getsockname()[1]}",
                           runs=10, out=tmp_path, **FAST)
        finally:
            stop.set()
            thread.join(timeout=5)
            server.close()
    assert report.status == "complete" and report.runs.received == 10
    assert report.source == "virtual" and report.port.startswith("socket://")
    assert report.selfcheck.all_bitexact


# TensorFlow Lite's own interpreter with its reference kernels (no XNNPACK delegate), in a
# separate process: a second implementation of the int8 ops, independent of tflite-micro.
# Known differences from TFLM (none occur in this model): TFLite computes int8 MEAN and some
# LOGISTIC/TANH cases with other rounding, and its SOFTMAX may use a lookup table.
_TFLITE_REFERENCE = """
import sys, numpy as np, tensorflow as tf
model, inputs, outputs = sys.argv[1:4]
i = tf.lite.Interpreter(model_path=model,
    experimental_op_resolver_type=tf.lite.experimental.OpResolverType.BUILTIN_REF)
i.allocate_tensors()
inp, out = i.get_input_details()[0], i.get_output_details()[0]
ys = []
for x in np.load(inputs):
    i.set_tensor(inp["index"], x.reshape(inp["shape"]).astype(inp["dtype"]))
    i.invoke()
    ys.append(i.get_tensor(out["index"]).reshape(-1))
np.save(outputs, np.stack(ys))
"""


def test_virtual_board_outputs_equal_tflite_s_own_interpreter(kws_project, tmp_path):
    """What the virtual board answers to ``infer`` (TFLM's host kernels) equals what TFLite's
    interpreter computes in another process: the verification reference is checked against
    a second one."""
    from edgecnn.harness import HostFirmware
    from edgecnn.harness.link import SerialLink
    from edgecnn.harness.protocol import decode_output, infer_command

    rng = np.random.default_rng(7)
    xs = rng.integers(-128, 128, (24, 490)).astype(np.int8)
    got = []
    with HostFirmware(kws_project) as board, SerialLink(board.port, 115200) as link:
        link.drain(quiet=0.3, limit=3.0)
        for x in xs:
            link.write(infer_command(x.tobytes()))
            assert link.read().kind == "infer"                # "infer ready"
            link.write(x.tobytes())
            m = link.read()
            got.append(np.frombuffer(decode_output(m, 12), dtype=np.int8))
    np.save(tmp_path / "x.npy", xs)
    subprocess.run([sys.executable, "-c", _TFLITE_REFERENCE,
                    str(shared_model("kws_ref_model.tflite")), str(tmp_path / "x.npy"),
                    str(tmp_path / "y.npy")], check=True, capture_output=True, timeout=300)
    want = np.load(tmp_path / "y.npy")
    assert want.shape == (24, 12)
    assert (np.stack(got) == want).all()


def test_monitor_refuses_the_virtual_port_with_a_hint(kws_project):
    from edgecnn.errors import EdgecnnError
    from edgecnn.harness.monitor import monitor

    with pytest.raises(EdgecnnError, match="edgecnn virtual-board --project DIR"):
        monitor(kws_project, "virtual")
