"""The MLPerf Tiny device-under-test protocol, as MLCommons defines it in ``mlcommons/tiny``
(``benchmark/api/internally_implemented.cpp``, ``submitter_implemented.h``; driven by
``benchmark/runner/``): the Python side of ``firmware/edgecnn_mlperf.cpp``.

- :class:`MlperfDut` answers commands as the firmware does (the virtual board serves it);
- :class:`MlperfClient` drives a DUT as the runner's ``device_under_test.py`` does
  (``COMMAND%`` out, lines in until ``m-ready``; ``db`` payloads 31 bytes a command);
- :func:`mlperf_session` is the runner's performance mode that ``edgecnn bench`` runs on an
  ``--protocol mlperf-tiny`` project: identification, the input loaded with ``db``, a first
  measurement, then five ``infer N 0`` windows of at least 10 s each on the DUT's own
  ``m-lap-us`` clock, their median throughput, and the results checked against the host
  reference (:mod:`edgecnn.harness.mlperf_dataset` is the accuracy mode).

Example:
    >>> dut = MlperfDut(lambda x: x, spec, spec, mlperf_profile("kws01"))   # doctest: +SKIP
    >>> dut.handle("db load 490")                                            # doctest: +SKIP
    ['m-[Expecting 490 bytes]', 'm-ready']
"""
from __future__ import annotations

import math
import re
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..artifacts import TensorSpec
from ..errors import DeviceTimeoutError, ProtocolError
from ..mlperf_profiles import MlperfProfile, format_results
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


class MlperfDut:
    """The DUT side: one command (without its '%') in, the answer lines out. ``invoke`` takes
    the input tensor's bytes and returns the output tensor's; the benchmark's ``profile``
    turns the ``db`` bytes into the input and the output into ``m-results``."""

    def __init__(self, invoke: Callable[[bytes], bytes], input_spec: TensorSpec,
                 output: TensorSpec, profile: MlperfProfile, vendor: str = VENDOR,
                 clock_us: Callable[[], int] = lambda: time.monotonic_ns() // 1000):
        self.invoke, self.input_spec, self.output = invoke, input_spec, output
        self.profile, self.vendor, self.clock_us = profile, vendor, clock_us
        self.model = profile.model
        self.input_bytes = profile.db_bytes(input_spec)
        self.buffer = bytearray(self.input_bytes)
        self.expected = self.loaded = 0
        self.last_output: bytes | None = None
        self._staged = b""
        self._command = bytearray()
        self._overflowed = False

    def boot(self) -> list[str]:
        return ["m-timestamp-mode-performance", self._timestamp(), "m-init-done", READY]

    def _timestamp(self) -> str:
        return f"m-lap-us-{self.clock_us() % 2**32}"

    def _results(self) -> str:
        out = self.last_output if self.last_output is not None else bytes(self.output.nbytes)
        values = np.frombuffer(out, dtype=np.dtype(self.output.dtype))
        return format_results(self.profile.results(values, self.output, bytes(self.buffer)))

    def feed(self, data: bytes) -> list[str]:
        """Bytes from the wire in, answer lines out: '%' ends a command; line endings and NULs
        are not command text; a command longer than CMD_SIZE is refused whole."""
        lines: list[str] = []
        for byte in data:
            if byte == ord(TERMINATOR):
                if self._overflowed:
                    lines += [f"e-[Command longer than {CMD_SIZE} characters]", READY]
                else:
                    lines += self.handle(self._command.decode("ascii", errors="replace"))
                self._command.clear()
                self._overflowed = False
            elif byte in (0x0A, 0x0D, 0x00):
                continue
            elif len(self._command) >= CMD_SIZE:
                self._overflowed = True
            else:
                self._command.append(byte)
        return lines

    def handle(self, command: str) -> list[str]:
        words = command.split()
        lines: list[str] = []
        if not words:
            pass
        elif words[0] == "name":
            lines.append(f"m-name-{DEVICE_NAME}-[{self.vendor}]")
        elif words[0] == "timestamp":
            lines.append(self._timestamp())
        elif words[0] == "profile":
            lines += [f"m-profile-[{FW_VERSION}]", f"m-model-[{self.model}]"]
        elif words[0] == "help":
            lines += [FW_VERSION, "", "help name profile timestamp db infer results"]
        elif words[0] == "db":
            lines += self._db(words)
        elif words[0] == "infer":
            lines += self._infer(words)
        elif words[0] == "results":
            lines.append(self._results())
        else:
            lines.append(f"e-[Unknown command: {words[0]}]")
        return [*lines, READY]

    def _db(self, words: list[str]) -> list[str]:
        if len(words) < 2:
            return ["e-[Command 'db' requires a subcommand]"]
        if words[1] == "load":
            if len(words) < 3:
                return ["e-[Command 'db load' requires the # of bytes]"]
            n = _int_token(words[2])
            if n is None or n <= 0:
                return ["e-[Command 'db load' must be >0 bytes]"]
            if n > self.input_bytes:
                self.expected = self.loaded = 0
                return [f"e-[Supplied buffer size {n} exceeds maximum of {self.input_bytes}]"]
            self.expected, self.loaded = n, 0
            return [f"m-[Expecting {n} bytes]"]
        if words[1] == "print":
            data = self.buffer[:self.loaded]
            return ["m-buffer-" + "-".join(f"{b:02x}" for b in data[i:i + 8])
                    for i in range(0, len(data), 8)]
        digits = words[1]
        if len(digits) % 2:
            return ["e-[Insufficient number of hex digits]"]
        if self.expected == 0 or self.loaded >= self.expected:
            return ["e-[No bytes expected: send db load N first]"]
        for i in range(0, len(digits), 2):
            pair = digits[i:i + 2]
            if not re.fullmatch(r"[0-9a-fA-F]{2}", pair):
                return [f"e-[Invalid hex digit '{pair}']"]
            self.buffer[self.loaded] = int(pair, 16)
            self.loaded += 1
            if self.loaded == self.expected:
                if self.loaded == self.input_bytes:
                    self._staged = self.profile.to_input(bytes(self.buffer),
                                                         self.input_spec).tobytes()
                return ["m-load-done"]
        return []

    def _infer(self, words: list[str]) -> list[str]:
        runs, warmup = 1, DEFAULT_WARMUP
        if len(words) > 1:
            parsed = _int_token(words[1])
            if parsed is None or parsed <= 0:
                return ["e-[Inference iterations must be >0]"]
            runs = parsed
        if len(words) > 2:
            parsed = _int_token(words[2])
            if parsed is None or parsed < 0:
                return ["e-[Inference warmup must be >=0]"]
            warmup = parsed
        if self.expected != self.input_bytes or self.loaded != self.expected:
            n = self.input_bytes
            return [f"e-[Load the {n} input bytes first: db load {n}, then db HEX...]"]
        lines = [f"m-warmup-start-{warmup}"]
        for _ in range(warmup):
            self.last_output = self.invoke(self._staged)
        lines += ["m-warmup-done", f"m-infer-start-{runs}", self._timestamp()]
        for _ in range(runs):
            self.last_output = self.invoke(self._staged)
        lines += [self._timestamp(), "m-infer-done", self._results()]
        return lines


def _int_token(token: str) -> int | None:
    """A decimal as the firmware reads it (optional sign, digits only), saturated to int32."""
    if not re.fullmatch(r"[+-]?\d+", token):
        return None
    return max(-(2**31 - 1), min(2**31 - 1, int(token)))


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


__all__ = ["MlperfClient", "MlperfDut", "MlperfSession", "InferWindow", "identify",
           "mlperf_session", "runs_for_window", "measure_inference_us", "format_results"]
