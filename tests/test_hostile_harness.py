"""Hostile boards: a peer on a real pseudo-terminal, written here, that answers the protocol's
identification correctly and then lies: impossible numbers, repeated runs, endless rows,
floods of noise. The harness must count such lines as protocol errors, never as data, and
stop every stage in bounded time."""
import json
import os
import signal
import subprocess
import sys
import threading
import time
import tty

import pytest
from conftest import assert_one_line_error, run_cli

from edgecnn.build import build
from edgecnn.errors import DeviceTimeoutError, EdgecnnError, IncompleteRunError, ProtocolError
from edgecnn.harness import Faults, bench


@pytest.fixture(scope="module")
def project(tmp_path_factory, tiny_model):
    out = tmp_path_factory.mktemp("hostile") / "P"
    return build("nano33", tiny_model["tflite"], out).project


class HostilePeer:
    """The board side of a pty: answers `id` and `selfcheck` as the firmware does, and
    `bench N W` with the lines ``bench_lines(n)`` returns (an iterable: it may never end)."""

    def __init__(self, project, bench_lines, before_id=()):
        manifest = json.loads((project / "edgecnn.json").read_text())
        m = manifest["model"]
        shape = lambda t: "x".join(str(d) for d in t["shape"])  # noqa: E731
        self.ident = [
            "edgecnn id version=0.1.0 protocol=3 target=device board=nano33ble "
            "kernels=cmsis-nn clock_hz=64000000 cycles=1 profiler=0",
            f"edgecnn model sha256={m['sha256']} bytes={m['bytes']}",
            f"edgecnn arena allocated={manifest['arena']['allocated_bytes']} used=4000",
            f"edgecnn input shape={shape(m['input'])} type=9 scale=1 zero_point=0",
            f"edgecnn output shape={shape(m['output'])} type=9 scale=1 zero_point=0",
        ]
        self.vectors = manifest["test_vectors"]["count"]
        self.bench_lines = bench_lines
        self.before_id = before_id      # lines sent before the identification (may not end)
        self.master, slave = os.openpty()
        tty.setraw(slave)
        self.port = os.ttyname(slave)
        self._slave = slave
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _send(self, line: str) -> None:
        os.write(self.master, (line + "\n").encode())

    def _serve(self) -> None:
        buffer = b""
        while not self._stop.is_set():
            try:
                chunk = os.read(self.master, 4096)
            except OSError:
                return
            buffer += chunk
            while b"\n" in buffer:
                line, buffer = buffer.split(b"\n", 1)
                words = line.decode(errors="replace").split()
                if not words:
                    continue
                if words[0] == "id":
                    if not self._stream(self.before_id):
                        return
                    for ident in self.ident:
                        self._send(ident)
                elif words[0] == "selfcheck":
                    for i in range(self.vectors):
                        self._send(f"edgecnn selfcheck vector={i} label=-1 predicted=0 "
                                   "bitexact=1 mismatches=0 max_diff=0 us=10 cycles=640")
                    self._send(f"edgecnn selfcheck done passed={self.vectors} "
                               f"total={self.vectors}")
                elif words[0] == "bench":
                    if not self._stream(self.bench_lines(int(words[1]))):
                        return

    def _stream(self, lines) -> bool:
        """Send ``lines`` (which may never end) until closed; False once the peer stops."""
        for text in lines:
            if self._stop.is_set():
                return False
            try:
                self._send(text)
            except OSError:
                return False
        return True

    def close(self) -> None:
        self._stop.set()
        for fd in (self.master, self._slave):
            try:
                os.close(fd)
            except OSError:
                pass


def _bench(project, tmp_path, bench_lines, **kw):
    peer = HostilePeer(project, bench_lines, kw.pop("before_id", ()))
    try:
        return bench(project, port=peer.port, runs=kw.pop("runs", 5), warmup=0,
                     profile=False, out=tmp_path / "r.json", timeout=kw.pop("timeout", 2.0),
                     **kw)
    finally:
        peer.close()


def _rows(tmp_path):
    return [json.loads(line) for line in (tmp_path / "r.jsonl").read_text().splitlines()]


def test_impossible_numbers_are_protocol_errors_not_data(project, tmp_path):
    def lines(n):
        yield f"edgecnn bench start runs={n} warmup=0 cycles=1"
        yield "edgecnn bench run=0 us=1e30 cycles=5"          # not an integer
        yield "edgecnn bench run=0 us=10^29 cycles=5"
        yield "edgecnn bench run=0 us=-5 cycles=5"            # negative
        yield "edgecnn bench run=0 us=" + "9" * 40 + " cycles=5"   # beyond any inference
        yield f"edgecnn bench run={n + 3} us=100 cycles=5"    # a run nobody asked for
        for run in range(n):
            yield f"edgecnn bench run={run} us={100 + run} cycles={6400 + run}"
        yield "edgecnn bench run=1 us=999 cycles=1"           # the same run again
        yield "edgecnn bench run=1 us=999 cycles=1"
        yield "edgecnn bench done"

    report = _bench(project, tmp_path, lines)
    assert report.status == "complete"
    assert report.runs.received == 5 and report.runs.lost == 0
    assert report.samples_us == [100, 101, 102, 103, 104]
    assert report.link.protocol_errors == 7
    errors = [r for r in _rows(tmp_path) if r["type"] == "protocol_error"]
    assert len(errors) == 7 and all(r["line"].startswith("edgecnn bench") for r in errors)
    saved = json.loads((tmp_path / "r.json").read_text())
    assert saved["status"] == "complete"


def test_a_board_that_never_says_done_is_stopped(project, tmp_path):
    def endless(n):
        while True:
            yield "edgecnn bench run=0 us=100 cycles=1"

    start = time.monotonic()
    with pytest.raises(ProtocolError, match="more than the 5 asked for"):
        _bench(project, tmp_path, endless)
    assert time.monotonic() - start < 15
    saved = json.loads((tmp_path / "r.json").read_text())
    assert saved["status"] == "partial" and saved["runs"]["received"] == 1


def test_a_flood_of_noise_is_named_as_noise_not_silence(project, tmp_path):
    def noise(n):
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            yield "\x7f\x00 boot rom checksum garbage " * 3

    with pytest.raises(DeviceTimeoutError, match=r"lines in 1 s, none of them edgecnn's"):
        _bench(project, tmp_path, noise, timeout=1.0)


def test_a_reset_starts_a_new_sequence_that_never_overwrites(tmp_path, project):
    with pytest.raises(IncompleteRunError):      # drop=7 loses rows: never "complete"
        bench(project, port="virtual", runs=60, warmup=0, profile=False, timeout=2.0,
              out=tmp_path / "r.json", faults=Faults.parse("garbage=0.2,drop=7,reset=30"))
    saved = json.loads((tmp_path / "r.json").read_text())
    assert saved["status"] == "incomplete"
    rows = [r for r in _rows(tmp_path) if r["type"] == "bench"]
    keys = [(r["segment"], r["run"]) for r in rows]
    assert len(keys) == len(set(keys))                    # every row its own run
    assert saved["runs"]["received"] == len(rows) == saved["latency"]["us"]["count"]
    assert saved["runs"]["received"] + saved["runs"]["lost"] <= 60
    assert saved["runs"]["segments"] >= 2


@pytest.mark.parametrize("fault", ["drop=1", "drop=3"])
def test_a_run_that_lost_its_data_never_says_complete(tmp_path, project, fault):
    """Every line lost (drop=1) or many (drop=3): exit 2, one line naming what arrived, and the
    report claims nothing it did not see."""
    proc = run_cli("bench", "--project", project, "--port", "virtual", "--fault", fault,
                   "--runs", "6", "--no-profile", "--timeout", "2", "--out", tmp_path / "r")
    assert_one_line_error(proc, "the run is incomplete", "arrived")
    assert "selfcheck" not in proc.stdout
    saved = json.loads((tmp_path / "r" / "report.json").read_text())
    assert saved["status"] == "incomplete"
    sc = saved["selfcheck"]
    if sc is not None:
        assert sc["passed"] <= sc["received"] and not sc["all_bitexact"]


@pytest.mark.parametrize("spec", ["drop=-1", "reset=-5", "garbage=nan", "corrupt=1e3",
                                  "seed=-1", "vanish=99999999999"])
def test_fault_values_are_validated(spec):
    with pytest.raises(EdgecnnError):
        Faults.parse(spec)


def test_lost_verify_answers_cost_less_than_the_link_timeout(tmp_path, project):
    start = time.monotonic()
    with pytest.raises(IncompleteRunError):      # self-check and bench rows were lost
        bench(project, port="virtual", runs=10, warmup=0, profile=False, timeout=10.0,
              verify=True, samples=20, out=tmp_path / "r.json", faults=Faults.parse("drop=7"))
    elapsed = time.monotonic() - start
    assert json.loads((tmp_path / "r.json").read_text())["verify"]["checked"] == 20
    # each lost answer waits for the slowest measured run plus the wire, not 10 s
    assert elapsed < 30, elapsed


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP])
def test_sigterm_and_sighup_write_the_partial_report(project, tmp_path, sig):
    proc = subprocess.Popen([sys.executable, "-m", "edgecnn.cli", "bench", "--project",
                             str(project), "--port", "virtual", "--runs", "100000",
                             "--warmup", "0", "--out", str(tmp_path / "r.json")],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if (tmp_path / "r.jsonl").is_file() and "bench" in (tmp_path / "r.jsonl").read_text():
            break
        time.sleep(0.2)
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 128 + sig, err
    assert f"stopped by {signal.Signals(sig).name}" in err and "partial report" in err
    saved = json.loads((tmp_path / "r.json").read_text())
    assert saved["status"] == "partial" and saved["error"] == f"stopped by {signal.Signals(sig).name}"
    assert saved["runs"]["received"] > 0


def test_a_closed_stdout_is_one_line_not_a_traceback():
    proc = subprocess.run(f"{sys.executable} -m edgecnn.cli boards | true", shell=True,
                          capture_output=True, text=True)
    assert "Traceback" not in proc.stderr and "BrokenPipe" not in proc.stderr
    r = run_cli("models", "--classes", "0")
    assert r.returncode == 2 and "Traceback" not in r.stderr
    r = run_cli("models", "--input-shape", "0,0,0")
    assert r.returncode == 2 and "--input-shape" in r.stderr


@pytest.mark.parametrize("line", ["edgecnn ready", "edgecnn error message=busy",
                                  "x" * 200_000])
def test_a_flood_of_protocol_lines_before_the_identification_is_stopped(project, tmp_path,
                                                                        line):
    import itertools

    start = time.monotonic()
    with pytest.raises((DeviceTimeoutError, ProtocolError)):
        _bench(project, tmp_path, lambda n: [], before_id=itertools.repeat(line),
               timeout=1.0)
    # the link's timeout for each of the three identification attempts, plus the drains
    assert time.monotonic() - start < 30


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP])
def test_a_serving_virtual_board_exits_128_plus_the_signal(project, sig):
    proc = subprocess.Popen([sys.executable, "-m", "edgecnn.cli", "virtual-board", "--project",
                             str(project)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    assert proc.stdout.readline().startswith("/dev/")     # it serves
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 128 + sig, err
    assert f"stopped by {signal.Signals(sig).name}" in err
