"""The MLPerf Tiny device-under-test protocol, as MLCommons defines it in ``mlcommons/tiny``
(``benchmark/api/internally_implemented.cpp``, ``submitter_implemented.h``; driven by
``benchmark/runner/``): the host side of ``firmware/edgecnn_mlperf.cpp``, which is the one
device side on every target (the virtual board runs it compiled for this computer).

- :class:`MlperfClient` drives a DUT as the runner's ``device_under_test.py`` does
  (``COMMAND%`` out, lines in until ``m-ready``; ``db`` payloads 31 bytes a command);
- :func:`mlperf_session` is the runner's performance mode that ``edgecnn bench`` runs on an
  ``--protocol mlperf-tiny`` project: identification, the input loaded with ``db``, a first
  measurement, then five ``infer N 0`` windows of at least 10 s each on the DUT's own
  ``m-lap-us`` clock, their median throughput, and the results checked against the host
  reference (:mod:`edgecnn.harness.mlperf_dataset` is the accuracy mode).

Example:
    >>> client = MlperfClient(serial.Serial(port, 115200, timeout=0.05))   # doctest: +SKIP
    >>> client.command("name")                                              # doctest: +SKIP
    ['m-name-dut-[dut]', 'm-ready']
"""
from __future__ import annotations

import math
import re
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ..errors import DeviceTimeoutError, ProtocolError
from ..mlperf_profiles import format_results
from .protocol import MAX_LINE_BYTES, MAX_SKIPPED_LINES

# Same values as firmware/edgecnn_mlperf.h (tests/test_protocol_agreement.py compares them).
CMD_SIZE = 80
TERMINATOR = "%"
FW_VERSION = "ULPMark for tinyML Firmware V0.0.1"
DEVICE_NAME = "dut"
VENDOR = "edgecnn-device"      # "edgecnn-" + what the firmware runs on
DEFAULT_WARMUP = 10
READY = "m-ready"
# The runner's DUT.load sends 31 bytes a "db" command (26 behind an energy monitor).
DB_BYTES_PER_COMMAND = 31
WINDOWS = 5            # the runner's performance mode: "loop 5", median throughput
WINDOW_S = 10.0        # the shortest window a valid performance run may have (seconds)
CALIBRATION_US = 50_000.0   # a first measurement lasts at least this long on the DUT's clock


class MlperfClient:
    """Drive a DUT as the MLCommons runner does, over an open pyserial port."""

    def __init__(self, serial_port: Any, timeout: float = 10.0):
        self.port, self.timeout = serial_port, timeout
        self._buffer = bytearray()
        self.transcript: list[str] = []

    def _line(self, deadline: float) -> str:
        while True:
            i = self._buffer.find(b"\n")
            if i >= 0:
                raw = bytes(self._buffer[:i])
                del self._buffer[:i + 1]
                return raw.decode("utf-8", errors="replace").strip("\r\0")
            if len(self._buffer) > MAX_LINE_BYTES:
                raise ProtocolError(f"{getattr(self.port, 'port', 'the DUT')} sent a line of "
                                    f"more than {MAX_LINE_BYTES:,} bytes: it is not MLPerf Tiny "
                                    "firmware (or the baud rate is wrong)")
            if time.monotonic() > deadline:
                raise DeviceTimeoutError(f"no answer ending in {READY} from "
                                         f"{getattr(self.port, 'port', 'the DUT')} within "
                                         f"{self.timeout:.0f} s; is it MLPerf Tiny firmware "
                                         "(edgecnn build --protocol mlperf-tiny)?")
            self._buffer += self.port.read(max(1, self.port.in_waiting))

    def drain(self, quiet: float = 0.3, limit: float = 3.0, first: float = 1.0) -> None:
        """Read and keep (in the transcript) whatever the DUT prints until it is quiet for
        ``quiet`` seconds (``first`` seconds before its first byte: a DUT that opening the
        port started may take that long to boot): its boot lines."""
        end, last, wait = time.monotonic() + limit, time.monotonic(), first
        while time.monotonic() < end and time.monotonic() - last < wait:
            chunk = self.port.read(max(1, self.port.in_waiting))
            if chunk:
                self._buffer += chunk
                last, wait = time.monotonic(), quiet
        while b"\n" in self._buffer:
            self.transcript.append(self._line(end))

    def read_until_ready(self, timeout: float | None = None) -> list[str]:
        deadline = time.monotonic() + (timeout or self.timeout)
        lines = []
        while True:
            line = self._line(deadline)
            self.transcript.append(line)
            if line:
                lines.append(line)
            if READY in line:
                return lines
            if len(lines) > MAX_SKIPPED_LINES:
                raise ProtocolError(f"{getattr(self.port, 'port', 'the DUT')} sent "
                                    f"{len(lines):,} lines without {READY}: it does not follow "
                                    "the MLPerf Tiny protocol")

    def command(self, text: str, timeout: float | None = None) -> list[str]:
        self.port.write((text + TERMINATOR).encode())
        self.port.flush()
        self.transcript.append(f"> {text}{TERMINATOR}")
        return self.read_until_ready(timeout)

    def name(self) -> str | None:
        for line in self.command("name"):
            m = re.match(r"^m-name-dut-\[([^]]+)]$", line)
            if m:
                return m.group(1)
        return None

    def profile(self) -> dict[str, str]:
        found = {}
        for line in self.command("profile"):
            m = re.match(r"^m-(model|profile)-\[([^]]+)]$", line)
            if m:
                found[m.group(1)] = m.group(2)
        return found

    def load(self, data: bytes) -> list[str]:
        self.command(f"db load {len(data)}")
        result: list[str] = []
        for i in range(0, len(data), DB_BYTES_PER_COMMAND):
            result = self.command("db " + data[i:i + DB_BYTES_PER_COMMAND].hex())
        return result

    def infer(self, runs: int, warmup: int, timeout: float | None = None) -> InferWindow:
        lines = self.command(f"infer {runs} {warmup}", timeout)
        return InferWindow.parse(runs, warmup, lines)


@dataclass
class InferWindow:
    """One ``infer N W`` answer: its lap timestamps and results, as the runner reads them."""

    runs: int
    warmup: int
    start_us: int
    end_us: int
    results: list[float]

    @property
    def elapsed_us(self) -> int:
        return (self.end_us - self.start_us) % 2**32     # a 32-bit µs clock may wrap once

    @property
    def throughput(self) -> float:
        """Inferences per second, as the runner's performance mode computes it."""
        return self.runs / (self.elapsed_us / 1e6) if self.elapsed_us else 0.0

    @classmethod
    def parse(cls, runs: int, warmup: int, lines: list[str]) -> InferWindow:
        errors = [line for line in lines if line.startswith("e-[")]
        if errors:
            raise ProtocolError(f"the DUT refused infer {runs} {warmup}: {errors[0]}")
        laps = [int(m.group(1)) for m in (re.match(r"^m-lap-us-([0-9]+)$", x) for x in lines) if m]
        results = [m.group(1) for m in (re.match(r"^m-results-\[([^]]*)\]$", x) for x in lines)
                   if m]
        if len(laps) != 2 or len(results) != 1:
            raise ProtocolError(f"infer {runs} {warmup} answered {len(laps)} m-lap-us and "
                                f"{len(results)} m-results lines (want 2 and 1)")
        try:
            values = [float(x) for x in results[0].split(",") if x.strip()]
        except ValueError:
            raise ProtocolError(f"unreadable m-results: {results[0][:80]}") from None
        return cls(runs, warmup, laps[0], laps[1], values)


@dataclass
class MlperfSession:
    name: str | None
    profile: dict[str, str]
    windows: list[InferWindow]
    expected_results: list[str]          # the host reference, as the DUT prints it
    transcript: list[str] = field(default_factory=list)

    @property
    def median_throughput(self) -> float:
        return statistics.median(w.throughput for w in self.windows)

    @property
    def results_match(self) -> bool:
        return all([f"{v:.3f}" for v in w.results] == self.expected_results
                   for w in self.windows)


def identify(client: MlperfClient) -> tuple[str | None, dict[str, str]]:
    """The DUT's name and profile, after whatever it printed when the port opened."""
    client.drain()                       # boot lines, if opening the port started the DUT
    return client.name(), client.profile()


def runs_for_window(per_inference_us: float, window_s: float = WINDOW_S,
                    margin: float = 1.02) -> int:
    """Inferences one window needs to last at least ``window_s`` on the DUT's clock (with a
    ``margin``, so that clock granularity and jitter never leave it short)."""
    return max(1, math.ceil(window_s * 1e6 * margin / max(per_inference_us, 1e-3)))


def measure_inference_us(client: MlperfClient, limit_us: float = CALIBRATION_US) -> float:
    """Microseconds per inference on the DUT's own clock: ``infer K 0`` with K growing tenfold
    until one call lasts ``limit_us`` (or K reaches 100,000)."""
    runs = 1
    while True:
        window = client.infer(runs, 0, timeout=max(client.timeout, 60.0))
        if window.elapsed_us >= limit_us or runs >= 100_000:
            return window.elapsed_us / runs
        runs = runs * 10 if window.elapsed_us < limit_us / 10 else math.ceil(
            runs * 1.2 * limit_us / max(1, window.elapsed_us))


def mlperf_session(client: MlperfClient, input_data: bytes, expected: Sequence[float],
                   runs: int | None = None, warmup: int = 0, windows: int = WINDOWS,
                   window_s: float = WINDOW_S) -> MlperfSession:
    """The runner's performance mode on one input: identify, load, ``windows`` x ``infer``.
    ``runs`` None: as many inferences as a window of ``window_s`` seconds needs on this DUT,
    from a first measurement of a tenth of a window (the runner requires windows of at least
    10 s); when a window still came out short (a DUT whose speed varies), the five are run
    again with the count their own timings call for."""
    name, profile = identify(client)
    client.load(input_data)
    fixed = runs is not None
    if runs is None:
        per_inference = measure_inference_us(client, max(CALIBRATION_US, window_s * 1e5))
        runs = runs_for_window(per_inference, window_s, margin=1.1)
    timeout = max(client.timeout, 60.0, 3 * window_s + 30.0)
    for _ in range(2):
        measured = [client.infer(runs, warmup, timeout=timeout) for _ in range(windows)]
        if fixed or all(w.elapsed_us >= window_s * 1e6 for w in measured):
            break
        fastest = min(w.elapsed_us / w.runs for w in measured)
        runs = runs_for_window(fastest, window_s, margin=1.25)
    return MlperfSession(name, profile, measured, [f"{v:.3f}" for v in expected],
                         client.transcript)


__all__ = ["MlperfClient", "MlperfSession", "InferWindow", "identify",
           "mlperf_session", "runs_for_window", "measure_inference_us", "format_results"]
