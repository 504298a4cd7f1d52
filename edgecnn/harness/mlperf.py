"""The MLPerf Tiny device-under-test protocol, as MLCommons defines it in ``mlcommons/tiny``
(``benchmark/api/internally_implemented.cpp``, ``submitter_implemented.h``; driven by
``benchmark/runner/``): the Python side of ``firmware/edgecnn_mlperf.cpp``.

- :class:`MlperfDut` answers commands as the firmware does (the virtual board serves it);
- :class:`MlperfClient` drives a DUT as the runner's ``device_under_test.py`` does
  (``COMMAND%`` out, lines in until ``m-ready``; ``db`` payloads 31 bytes a command);
- :func:`mlperf_session` is what ``edgecnn bench`` runs on an ``--protocol mlperf-tiny``
  project: identification, the input loaded with ``db``, five ``infer N 0`` windows, the
  throughput of each from the device's own ``m-lap-us`` timestamps and their median (as the
  runner's performance mode computes it), and the results checked against the host reference.

Example:
    >>> MlperfDut(lambda x: x, 4, output=None).handle("db load 4")     # doctest: +SKIP
    ['m-[Expecting 4 bytes]', 'm-ready']
"""
from __future__ import annotations

import re
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..artifacts import QuantParams, TensorSpec
from ..errors import DeviceTimeoutError, ProtocolError

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


def format_results(values: Sequence[float] | np.ndarray) -> str:
    """``m-results-[...]``: every value with 3 decimals, as the firmware's "%0.3f"."""
    return "m-results-[" + ",".join(f"{float(v):.3f}" for v in values) + "]"


def dequantized(output: np.ndarray, spec: TensorSpec) -> np.ndarray:
    """What the firmware prints for an output tensor: float32 (q - zero point) * scale."""
    if spec.quant is None:
        return np.asarray(output, dtype=np.float32).reshape(-1)
    return spec.quant.dequantize(np.asarray(output).reshape(-1))


class MlperfDut:
    """The DUT side: one command (without its '%') in, the answer lines out."""

    def __init__(self, invoke: Callable[[bytes], bytes], input_bytes: int,
                 output: TensorSpec | None, model: str = "model", vendor: str = VENDOR,
                 clock_us: Callable[[], int] = lambda: time.monotonic_ns() // 1000):
        self.invoke, self.input_bytes, self.output = invoke, input_bytes, output
        self.model, self.vendor, self.clock_us = model, vendor, clock_us
        self.buffer = bytearray(input_bytes)
        self.expected = self.loaded = 0
        self.last_output: bytes | None = None
        self._command = bytearray()
        self._overflowed = False

    def boot(self) -> list[str]:
        return ["m-timestamp-mode-performance", self._timestamp(), "m-init-done", READY]

    def _timestamp(self) -> str:
        return f"m-lap-us-{self.clock_us() % 2**32}"

    def _results(self) -> str:
        out = self.last_output if self.last_output is not None else bytes(
            self.output.nbytes if self.output else 0)
        if self.output is None:
            return format_results([])
        values = np.frombuffer(out, dtype=np.dtype(self.output.dtype))
        return format_results(dequantized(values, self.output))

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
            self.last_output = self.invoke(bytes(self.buffer))
        lines += ["m-warmup-done", f"m-infer-start-{runs}", self._timestamp()]
        for _ in range(runs):
            self.last_output = self.invoke(bytes(self.buffer))
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
            if time.monotonic() > deadline:
                raise DeviceTimeoutError(f"no answer ending in {READY} from "
                                         f"{getattr(self.port, 'port', 'the DUT')} within "
                                         f"{self.timeout:.0f} s; is it MLPerf Tiny firmware "
                                         "(edgecnn build --protocol mlperf-tiny)?")
            self._buffer += self.port.read(max(1, self.port.in_waiting))

    def drain(self, quiet: float = 0.3, limit: float = 3.0) -> None:
        """Read and keep (in the transcript) whatever the DUT prints until it is quiet for
        ``quiet`` seconds: its boot lines, when opening the port started it."""
        end, last = time.monotonic() + limit, time.monotonic()
        while time.monotonic() < end and time.monotonic() - last < quiet:
            chunk = self.port.read(max(1, self.port.in_waiting))
            if chunk:
                self._buffer += chunk
                last = time.monotonic()
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
    expected_results: list[str]          # the host reference, dequantized, 3 decimals
    transcript: list[str] = field(default_factory=list)

    @property
    def median_throughput(self) -> float:
        return statistics.median(w.throughput for w in self.windows)

    @property
    def results_match(self) -> bool:
        return all([f"{v:.3f}" for v in w.results] == self.expected_results
                   for w in self.windows)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "profile": self.profile,
                "windows": [{"runs": w.runs, "warmup": w.warmup, "elapsed_us": w.elapsed_us,
                             "throughput": w.throughput, "results": w.results}
                            for w in self.windows],
                "median_throughput": self.median_throughput,
                "expected_results": self.expected_results, "results_match": self.results_match}


def mlperf_session(client: MlperfClient, input_data: bytes, expected: np.ndarray,
                   runs: int, warmup: int = 0, windows: int = WINDOWS) -> MlperfSession:
    """The runner's performance mode on one input: identify, load, ``windows`` x ``infer``."""
    client.drain()                       # boot lines, if opening the port started the DUT
    name, profile = client.name(), client.profile()
    client.load(input_data)
    measured = [client.infer(runs, warmup, timeout=max(client.timeout, 60.0))
                for _ in range(windows)]
    return MlperfSession(name, profile, measured, [f"{v:.3f}" for v in expected],
                         client.transcript)


def host_results(reference, x: np.ndarray, output: TensorSpec) -> np.ndarray:
    """The host reference's output for ``x``, dequantized as the firmware prints it."""
    return dequantized(np.asarray(reference.run(x)), output)


__all__ = ["MlperfClient", "MlperfDut", "MlperfSession", "InferWindow", "QuantParams",
           "mlperf_session", "host_results", "format_results"]
