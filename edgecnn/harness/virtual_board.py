"""A virtual board: a pseudo-terminal behind which the project's model runs in the TFLM host
interpreter and speaks exactly the device protocol of the generated sketch.

It exists so that the harness is tested end to end, through pyserial and a real pty, without
hardware, and so that a user can dry-run ``edgecnn bench``. Its latencies are host timings
and are labelled ``virtual`` everywhere; its outputs are TFLM's own reference kernels.

Faults can be injected to exercise the harness's recovery (``Faults.parse``):
``garbage=P`` (a burst of random bytes before a line, with probability P), ``drop=N`` (every
Nth result line is lost), ``reset=N`` (the board reboots after N result lines, once),
``silence=N`` (it stops answering after N result lines), ``vanish=N`` (the port disappears
after N result lines), ``corrupt=N`` (every Nth computed output, self-check or ``infer``, has one
byte off by one step, with a matching CRC: a board whose kernels compute differently).

Example:
    >>> with VirtualBoard("nano33ble_kws") as board:        # doctest: +SKIP
    ...     print(board.port)
    /dev/pts/7
"""
from __future__ import annotations

import os
import random
import select
import threading
import time
import tty
import zlib
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np

from .. import __version__
from ..errors import EdgecnnError, ProjectError
from .project import Project, load_project
from .protocol import HELP, LINE_MAX, PROTOCOL_VERSION, parse_command

PAYLOAD_TIMEOUT_S = 2.0      # kPayloadTimeoutMs in the sketch


@dataclass
class Faults:
    garbage: float = 0.0
    drop: int = 0
    reset: int = 0
    silence: int = 0
    vanish: int = 0
    corrupt: int = 0
    seed: int = 0

    @classmethod
    def parse(cls, spec: str | None) -> Faults:
        """``"garbage=0.2,drop=7"`` → ``Faults(garbage=0.2, drop=7)``; raise on unknown keys."""
        faults = cls()
        if not spec:
            return faults
        names = {f.name: f.type for f in fields(cls)}
        for item in spec.split(","):
            key, _, value = item.strip().partition("=")
            if key not in names or not value:
                raise EdgecnnError(f"unknown fault {item.strip()!r}; use any of garbage=P, "
                                   "drop=N, reset=N, silence=N, vanish=N, corrupt=N, seed=N")
            try:
                setattr(faults, key, float(value) if key == "garbage" else int(value))
            except ValueError:
                raise EdgecnnError(f"fault {key} needs a number, not {value!r}") from None
        if not 0.0 <= faults.garbage <= 1.0:    # NaN fails too
            raise EdgecnnError("fault garbage=P needs 0 <= P <= 1")
        for key in ("drop", "reset", "silence", "vanish", "corrupt"):
            value = getattr(faults, key)
            if not 0 <= value <= 1_000_000:
                raise EdgecnnError(f"fault {key}=N needs 0 <= N <= 1,000,000 (every Nth line or "
                                   f"answer; 0 = never), not {value}")
        if not 0 <= faults.seed < 2**32:
            raise EdgecnnError("fault seed=N needs 0 <= N < 2^32")
        return faults


def _shape_text(shape) -> str:
    return "x".join(str(int(d)) for d in shape)


_DTYPE_CODES = {"float32": 1, "int32": 2, "uint8": 3, "int16": 7, "int8": 9}  # TfLiteType


class VirtualBoard:
    """Serve the device protocol on a new pseudo-terminal until ``stop()``."""

    def __init__(self, project: str | Path | Project, faults: Faults | None = None):
        from ..tflite_model import read_tflite
        from ..tflm import HostInterpreter

        self.project = project if isinstance(project, Project) else load_project(project)
        self.faults = faults or Faults()
        self._random = random.Random(self.faults.seed)
        self._model = read_tflite(self.project.model_bytes)
        self._interpreter = HostInterpreter(self.project.model_bytes)
        self._input = self._model.input_tensor()
        self._output = self._model.output_tensor()
        self._input_bytes = bytearray(self._input.nbytes)
        self._master: Any = None     # pty file descriptors once started
        self._slave: Any = None
        self._thread: Any = None
        self._stop = threading.Event()
        self._results_sent = 0
        self._outputs_computed = 0
        self._reset_done = False
        self._silent = False
        self.port = ""

    # -- lifetime -----------------------------------------------------------------------------
    def start(self) -> str:
        self._master, self._slave = os.openpty()
        tty.setraw(self._slave)   # a serial port passes bytes as they are: no echo, no CR/LF games
        self.port = os.ttyname(self._slave)
        self._thread = threading.Thread(target=self._serve, name="edgecnn-virtual-board",
                                        daemon=True)
        self._thread.start()
        return self.port

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._close_pty()

    def _close_pty(self) -> None:
        for fd in (self._master, self._slave):
            if fd is not None:
                try:
                    os.close(fd)
                except OSError:
                    pass
        self._master = self._slave = None

    def serve_forever(self) -> None:
        while self._thread is not None and self._thread.is_alive():
            self._thread.join(timeout=0.5)

    def __enter__(self) -> VirtualBoard:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- output ---------------------------------------------------------------------------------
    def _write(self, data: bytes) -> None:
        if self._master is None or self._silent:
            return
        view = memoryview(data)
        while view:
            try:
                written = os.write(self._master, view)
            except BlockingIOError:
                time.sleep(0.001)
                continue
            except OSError:
                return
            view = view[written:]

    def _line(self, text: str, result: bool = False) -> None:
        """Print one line as Serial.println does; ``result`` lines are subject to faults."""
        f = self.faults
        if result:
            self._results_sent += 1
            n = self._results_sent
            if f.vanish and n > f.vanish:
                self._vanish()
                return
            if f.silence and n > f.silence:
                self._silent = True
                return
            if f.reset and n > f.reset and not self._reset_done:
                self._reset_done = True
                self._boot()
                raise _Reset()
            if f.drop and n % f.drop == 0:
                return
        if f.garbage and self._random.random() < f.garbage:
            burst = bytes(self._random.randrange(256) for _ in range(self._random.randrange(1, 24)))
            self._write(burst.replace(b"\n", b"\x00"))
        self._write(text.encode() + b"\r\n")

    def _vanish(self) -> None:
        self._silent = True
        self._stop.set()
        self._close_pty()

    # -- protocol -------------------------------------------------------------------------------
    def _identify(self) -> None:
        p = self.project
        arena = p.manifest.arena
        used = arena.host_32bit_bytes
        self._line(f"edgecnn id version={__version__} protocol={PROTOCOL_VERSION} target=virtual "
                   f"board={p.manifest.board.name} kernels=tflm-host-reference "
                   f"clock_hz=0 cycles=0 profiler=0")
        self._line(f"edgecnn model sha256={p.sha256} bytes={len(p.model_bytes)}")
        self._line(f"edgecnn arena allocated={arena.allocated_bytes} used={used}")
        for label, t in (("input", self._input), ("output", self._output)):
            self._line(f"edgecnn {label} shape={_shape_text(t.shape)} "
                       f"type={_DTYPE_CODES.get(t.dtype, 0)} "
                       f"scale={t.scales[0] if t.scales else 0:.9g} "
                       f"zero_point={t.zero_points[0] if t.zero_points else 0}")

    def _boot(self) -> None:
        self._identify()
        self._selfcheck()
        self._line("edgecnn ready")

    def _invoke(self, data: bytes) -> tuple[bytes, int]:
        x = np.frombuffer(bytes(data), dtype=self._interpreter.input_dtype)
        start = time.perf_counter_ns()
        y = self._interpreter.run(x)
        elapsed_us = max(1, (time.perf_counter_ns() - start) // 1000)
        return np.ascontiguousarray(y).tobytes(), int(elapsed_us)

    def _as_computed(self, out: bytes) -> bytes:
        """The output as this (possibly faulty) board computes it: with ``corrupt=N`` every Nth
        one has its first byte one step off."""
        self._outputs_computed += 1
        n = self.faults.corrupt
        if not n or self._outputs_computed % n:
            return out
        wrong = bytearray(out)
        wrong[0] = (wrong[0] + 1) % 256 if wrong[0] not in (0x7F, 0xFF) else wrong[0] - 1
        return bytes(wrong)

    def _selfcheck(self) -> None:
        passed = 0
        vectors = self.project.vectors.vectors
        dtype = self._interpreter.input_dtype
        for i, v in enumerate(vectors):
            x = np.asarray(v.input, dtype=dtype).tobytes()
            out, us = self._invoke(x)
            out = self._as_computed(out)
            got = np.frombuffer(out, dtype=np.dtype(self._output.dtype)).astype(int)
            want = np.asarray(v.output, dtype=int)
            diff = np.abs(got - want)
            mismatches = int(np.count_nonzero(diff))
            passed += mismatches == 0
            self._line(f"edgecnn selfcheck vector={i} label={v.label} "
                       f"predicted={int(np.argmax(got))} bitexact={int(mismatches == 0)} "
                       f"mismatches={mismatches} max_diff={int(diff.max(initial=0))} "
                       f"us={us} cycles=0", result=True)
        self._line(f"edgecnn selfcheck done passed={passed} total={len(vectors)}")

    def _bench(self, runs: int, warmup: int) -> None:
        x = bytes(self._input_bytes)
        for _ in range(warmup):
            self._invoke(x)
        self._line(f"edgecnn bench start runs={runs} warmup={warmup} cycles=0")
        for i in range(runs):
            _, us = self._invoke(x)
            self._line(f"edgecnn bench run={i} us={us} cycles=0", result=True)
            if self._stop.is_set():
                return
        self._line("edgecnn bench done")

    def _infer(self, payload: bytes) -> None:
        out, us = self._invoke(payload)
        out = self._as_computed(out)
        self._line(f"edgecnn infer us={us} cycles=0 crc32={zlib.crc32(out):08x} "
                   f"output={out.hex()}", result=True)

    def _command(self, line: bytes) -> tuple[int, int] | None:
        """Handle one command line; return (length, crc) when an infer payload must follow."""
        cmd = parse_command(line)
        if cmd.kind == "error":
            self._line(f"edgecnn error {cmd.error}")
        elif cmd.kind == "id":
            self._identify()
        elif cmd.kind == "help":
            self._line(f"edgecnn help {HELP}")
        elif cmd.kind == "selfcheck":
            self._selfcheck()
        elif cmd.kind == "profile":
            self._line("edgecnn error profile is not available on the virtual board: the host "
                       "interpreter has no per-op timer")
        elif cmd.kind == "bench":
            self._bench(cmd.runs, cmd.warmup)
        elif cmd.kind == "infer":
            if cmd.runs != len(self._input_bytes):
                self._line(f"edgecnn error infer LENGTH must be {len(self._input_bytes)} bytes")
                return None
            self._line(f"edgecnn infer ready bytes={cmd.runs}")
            return cmd.runs, cmd.checksum
        return None

    def _receive(self) -> bytes | None:
        """What the harness wrote within 50 ms (b"" when nothing), or None once the pty is
        closed."""
        try:
            ready, _, _ = select.select([self._master], [], [], 0.05)
            return os.read(self._master, 4096) if ready else b""
        except (OSError, ValueError, TypeError):
            return None

    def _serve_mlperf(self) -> None:
        """The MLPerf Tiny DUT protocol (an ``--protocol mlperf-tiny`` project)."""
        from .mlperf import MlperfDut

        manifest = self.project.manifest
        profile = manifest.firmware.mlperf_profile()
        if profile is None:
            raise ProjectError(f"{self.project.path} records no MLPerf Tiny profile; rebuild it "
                               "with `edgecnn build ... --protocol mlperf-tiny --force`")
        dut = MlperfDut(lambda data: self._invoke(data)[0], manifest.model.input,
                        manifest.model.output, profile, vendor="edgecnn-virtual")
        for line in dut.boot():
            self._line(line)
        while not self._stop.is_set():
            data = self._receive()
            if data is None:
                return
            for line in dut.feed(data):
                self._line(line)

    def _serve(self) -> None:
        if self.project.manifest.firmware.protocol == "mlperf-tiny":
            return self._serve_mlperf()
        try:
            self._boot()
        except _Reset:
            pass
        line = bytearray()
        overflowed = False
        payload: bytearray | None = None
        expected = crc = 0
        last_byte = time.monotonic()
        while not self._stop.is_set():
            if payload is not None and time.monotonic() - last_byte > PAYLOAD_TIMEOUT_S:
                self._line(f"edgecnn error infer payload timed out after {len(payload)} of "
                           f"{expected} bytes")
                payload = None
            data = self._receive()
            if data is None:
                return
            if not data or self._silent:
                continue
            try:
                for byte in data:
                    if payload is not None:
                        last_byte = time.monotonic()
                        payload.append(byte)
                        if len(payload) == expected:
                            if zlib.crc32(payload) == crc:
                                self._input_bytes[:] = payload
                                self._infer(bytes(payload))
                            else:
                                self._line("edgecnn error infer checksum mismatch; input discarded")
                            payload = None
                        continue
                    if byte in (0x0A, 0x0D):
                        if overflowed:
                            self._line("edgecnn error line too long")
                        elif line:
                            request = self._command(bytes(line))
                            if request is not None:
                                expected, crc = request
                                payload, last_byte = bytearray(), time.monotonic()
                        line.clear()
                        overflowed = False
                    elif not overflowed:
                        if len(line) >= LINE_MAX:
                            overflowed = True
                            line.clear()
                        else:
                            line.append(byte)
            except _Reset:
                line.clear()
                overflowed, payload = False, None


class _Reset(Exception):
    """Raised inside the serving loop when an injected reset reboots the board."""
