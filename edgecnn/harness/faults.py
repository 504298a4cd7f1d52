"""Fault injection as a byte stream: a pseudo-terminal between the harness and any target
(the virtual board, the emulator, a board on a serial port) that passes the harness's bytes
through and damages what the board says, the way a bad cable, a brown-out or a wrong kernel
would. The firmware behind it is the real one; only the line is faulty.

Faults (``Faults.parse("garbage=0.2,drop=7")``): ``garbage=P`` (a burst of random bytes
before a line, with probability P), ``drop=N`` (every Nth result line is lost), ``reset=N``
(after N result lines the board reboots, once: what it was saying is cut off, it identifies
itself and says ``ready`` as at boot, and nothing more comes until it answers the harness's
next ``id``),
``silence=N`` (after N result lines nothing more arrives), ``vanish=N`` (after N result lines
the port disappears), ``corrupt=N`` (every Nth computed output, self-check row or ``infer``
answer, is one step off in one byte, with a matching CRC: a board whose kernels compute
differently). Result lines are the rows of edgecnn's protocol (self-check, bench, profile,
infer) from the harness's first command on (what a board says at boot, before the harness
speaks, is passed on with garbage only); on MLPerf Tiny firmware only ``garbage`` applies.

Example:
    >>> target = open_target(project, "virtual", Faults.parse("drop=5"))   # doctest: +SKIP
    >>> port = target.start(); ...; target.stop()                            # doctest: +SKIP
"""
from __future__ import annotations

import os
import random
import re
import select
import threading
import time
import tty
import zlib
from dataclasses import dataclass, fields
from typing import Any

from ..errors import EdgecnnError

_RESULT = re.compile(rb"^edgecnn (selfcheck vector=|bench run=|profile op=|infer us=)")


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

    def __bool__(self) -> bool:
        return any(getattr(self, f.name) for f in fields(self) if f.name != "seed")


class LineFaults:
    """What the faults do to the board's lines, one complete line at a time (no I/O here, so
    that it is tested on its own): ``board_line`` returns the bytes to pass on, ``host_line``
    notes a command from the harness."""

    def __init__(self, faults: Faults):
        self.faults = faults
        self.random = random.Random(faults.seed)
        self.results = 0           # result lines seen
        self.outputs = 0           # computed outputs seen (self-check rows, infer answers)
        self.corrupted = 0         # self-check rows corrupted since the last summary
        self.boot: list[bytes] = []       # the board's first identification block
        self.identified = False
        self.commands = 0
        self.silent = False
        self.vanished = False
        self.reset_done = False
        self.muted_until_id = False       # after a reset: until the board answers `id`

    def host_line(self, line: bytes) -> None:
        self.commands += 1

    def board_line(self, line: bytes) -> bytes:
        """``line`` ends with its line ending; return what the harness receives."""
        f = self.faults
        if self.commands == 0:
            return self._garbled(line)       # boot chatter before the harness spoke
        self._record_identification(line)
        if self.silent or self.vanished:
            return b""
        if self.muted_until_id:
            if not line.startswith(b"edgecnn id "):
                return b""
            self.muted_until_id = False
        if _RESULT.match(line):
            self.results += 1
            n = self.results
            if f.vanish and n > f.vanish:
                self.vanished = True
                return b""
            if f.silence and n > f.silence:
                self.silent = True
                return b""
            if f.reset and n > f.reset and not self.reset_done:
                self.reset_done, self.muted_until_id = True, True
                return self._garbled(b"".join(self.boot) + b"edgecnn ready\r\n")
            if f.drop and n % f.drop == 0:
                return b""
            line = self._computed(line)
        elif line.startswith(b"edgecnn selfcheck done ") and self.corrupted:
            line = self._fewer_passed(line)
        return self._garbled(line)

    def _record_identification(self, line: bytes) -> None:
        """Keep the board's first identification block: a reset says it again, as the
        firmware does when it boots."""
        if self.identified:
            return
        if line.startswith(b"edgecnn id "):
            self.boot = [line]
        elif self.boot:
            self.boot.append(line)
            self.identified = line.startswith(b"edgecnn output ")

    def _garbled(self, data: bytes) -> bytes:
        if self.faults.garbage and self.random.random() < self.faults.garbage:
            burst = bytes(self.random.randrange(256) for _ in range(self.random.randrange(1, 24)))
            return burst.replace(b"\n", b"\x00").replace(b"\r", b"\x00") + data
        return data

    def _computed(self, line: bytes) -> bytes:
        """With ``corrupt=N`` every Nth computed output is one step off in its first byte."""
        if not (line.startswith(b"edgecnn infer us=") or
                line.startswith(b"edgecnn selfcheck vector=")):
            return line
        self.outputs += 1
        n = self.faults.corrupt
        if not n or self.outputs % n:
            return line
        if line.startswith(b"edgecnn infer"):
            m = re.search(rb"output=([0-9a-f]+)", line)
            if not m or len(m.group(1)) < 2:
                return line
            out = bytearray(bytes.fromhex(m.group(1).decode()))
            out[0] = (out[0] + 1) % 256 if out[0] not in (0x7F, 0xFF) else out[0] - 1
            line = line.replace(m.group(0), b"output=" + out.hex().encode())
            return re.sub(rb"crc32=[0-9a-f]{8}", b"crc32=%08x" % zlib.crc32(bytes(out)), line)
        if b" bitexact=1 " in line:
            self.corrupted += 1
            line = line.replace(b" bitexact=1 ", b" bitexact=0 ")
            line = re.sub(rb"mismatches=0\b", b"mismatches=1", line)
            return re.sub(rb"max_diff=0\b", b"max_diff=1", line)
        return line

    def _fewer_passed(self, line: bytes) -> bytes:
        m = re.search(rb"passed=(\d+)", line)
        if m:
            line = line.replace(m.group(0), b"passed=%d" % max(0, int(m.group(1)) - self.corrupted))
        self.corrupted = 0
        return line


class FaultProxy:
    """A target seen through a faulty line: starts ``target``, opens its port, and serves a new
    pseudo-terminal whose bytes pass through ``LineFaults``."""

    def __init__(self, target: Any, faults: Faults, baud: int = 115200):
        self.target, self.faults, self.baud = target, faults, baud
        self.port = ""
        self._serial: Any = None
        self._master: int | None = None
        self._slave: int | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()

    def __getattr__(self, name: str):
        # what the target says about itself (its kind, clock, ELF) passes through
        if name == "target":
            raise AttributeError(name)
        return getattr(self.target, name)

    def start(self) -> str:
        import serial

        inner = self.target.start()
        self._serial = serial.serial_for_url(inner, baudrate=self.baud, timeout=0)
        self._master, self._slave = os.openpty()
        tty.setraw(self._slave)
        self.port = os.ttyname(self._slave)
        self._thread = threading.Thread(target=self._pump, name="edgecnn-fault-proxy",
                                        daemon=True)
        self._thread.start()
        return self.port

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._close_pty()
        if self._serial is not None:
            try:
                self._serial.close()
            except Exception:   # the port may be gone already
                pass
            self._serial = None
        self.target.stop()

    def serve_forever(self) -> None:
        while self._thread is not None and self._thread.is_alive():
            self._thread.join(timeout=0.5)

    def _close_pty(self) -> None:
        for fd in (self._master, self._slave):
            if fd is not None:
                try:
                    os.close(fd)
                except OSError:
                    pass
        self._master = self._slave = None

    def _pump(self) -> None:
        lines = LineFaults(self.faults)
        from_board, from_host = bytearray(), bytearray()
        while not self._stop.is_set() and not lines.vanished:
            master = self._master
            if master is None:
                return
            try:
                ready, _, _ = select.select([master], [], [], 0.005)
                if ready:
                    data = os.read(master, 4096)
                    self._serial.write(data)
                    from_host += data
                    while b"\n" in from_host:
                        line, _, rest = bytes(from_host).partition(b"\n")
                        from_host[:] = rest
                        lines.host_line(line)
                waiting = self._serial.in_waiting
                chunk = self._serial.read(waiting or 1) if waiting else b""
            except (OSError, ValueError, TypeError):
                return
            except Exception:      # the target's port closed (pyserial's own errors)
                return
            if not chunk:
                time.sleep(0.001)
                continue
            from_board += chunk
            while b"\n" in from_board:
                line, _, rest = bytes(from_board).partition(b"\n")
                from_board[:] = rest
                self._write(lines.board_line(line + b"\n"))
        if lines.vanished:
            self._close_pty()

    def _write(self, data: bytes) -> None:
        view = memoryview(data)
        while view and self._master is not None:
            try:
                view = view[os.write(self._master, view):]
            except BlockingIOError:
                time.sleep(0.001)
            except OSError:
                return
