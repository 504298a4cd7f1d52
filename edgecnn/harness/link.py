"""The serial link to a board: finding its port, opening it without unwanted resets, and reading
protocol messages through noise, partial lines and timeouts (pyserial underneath).

Example:
    >>> with SerialLink("/dev/ttyACM0", 115200) as link:     # doctest: +SKIP
    ...     print(link.identify().sha256)
"""
from __future__ import annotations

import errno
import os
import time
from dataclasses import dataclass, field
from typing import Any

from ..errors import DeviceTimeoutError, PortError, ProtocolError
from .protocol import (
    MAX_LINE_BYTES,
    MAX_SKIPPED_LINES,
    PROTOCOL_VERSION,
    TARGETS,
    Message,
    parse_line,
)

READ_CHUNK = 4096


@dataclass
class Identification:
    """What the board says about itself (``id`` and the lines that follow it)."""

    version: str = ""
    protocol: int = 0
    target: str = ""          # "device", "virtual" or "emulator", as the firmware says
    board: str = ""
    kernels: str = ""
    clock_hz: int = 0
    has_cycles: bool = False
    has_profiler: bool = False
    sha256: str = ""
    model_bytes: int = 0
    arena_allocated: int = 0
    arena_used: int = 0
    input: dict = field(default_factory=dict)
    output: dict = field(default_factory=dict)

    @property
    def virtual(self) -> bool:
        return self.target == "virtual"

    def to_dict(self) -> dict:
        from dataclasses import asdict
        return asdict(self)


def find_port(usb_ids, board_title: str) -> str:
    """The one serial port whose USB VID:PID is among ``usb_ids``; errors say what to do."""
    from serial.tools import list_ports

    wanted = {u.upper() for u in usb_ids}
    found = [p for p in list_ports.comports()
             if p.vid is not None and f"{p.vid:04X}:{p.pid:04X}" in wanted]
    if not found:
        raise PortError(f"no {board_title} found on USB (looked for VID:PID "
                        f"{', '.join(sorted(wanted))}); connect it, or pass --port PORT "
                        "(--port virtual for the virtual board)")
    if len(found) > 1:
        names = ", ".join(p.device for p in found)
        raise PortError(f"several {board_title} boards are connected ({names}); choose one "
                        "with --port")
    return found[0].device


def port_error(port: str, exc: BaseException) -> PortError:
    """Turn what pyserial or the OS raised into one actionable sentence."""
    text = str(exc)
    code = getattr(exc, "errno", None)
    if code in (errno.EACCES, errno.EPERM) or "Permission denied" in text:
        return PortError(f"permission denied on {port}: add yourself to the group that owns it "
                         "(Debian/Ubuntu: sudo usermod -aG dialout $USER, then log in again)")
    if code == errno.EBUSY or "exclusively lock" in text or "busy" in text.lower():
        return PortError(f"{port} is busy: another program (a serial monitor, `pio device "
                         "monitor`, an IDE) has it open; close it and retry")
    if code in (errno.ENOENT, errno.ENODEV, errno.ENXIO) or "No such file" in text:
        return PortError(f"{port} does not exist (any more): check the cable, or list ports "
                         "with `pio device list`")
    if "returned no data" in text and os.path.exists(port):
        # pyserial's wording covers both; the device node still being there means it was not
        # unplugged.
        return PortError(f"{port} returned no data although it is still there: another "
                         "program (a serial monitor, `pio device monitor`) is probably reading "
                         "the same port; close it and retry")
    if "disconnected" in text or "returned no data" in text or code == errno.EIO:
        return PortError(f"{port} disappeared: the board was unplugged or reset its USB "
                         "connection")
    return PortError(f"serial port {port} failed: {text}")


def open_port(port: str, baud: int, reset_on_open: str, **settings):
    """A pyserial port opened without resetting the board; OS errors become ``PortError``.

    ``port`` is a device path or any pyserial URL (``socket://host:port`` for an emulator's
    TCP UART, ``rfc2217://…``, ``loop://``): pyserial's ``serial_for_url`` picks the class."""
    import serial

    try:
        s = serial.serial_for_url(port, do_not_open=True)
    except (serial.SerialException, ValueError) as exc:
        raise port_error(port, exc) from None
    s.baudrate = baud
    for name, value in settings.items():
        setattr(s, name, value)
    if reset_on_open == "dtr-rts":
        # ESP32 boards reset through DTR/RTS (EN and IO0): keep both released so that
        # opening the port neither resets the chip nor holds it in the bootloader.
        s.dtr = False
        s.rts = False
    try:
        s.open()
    except (serial.SerialException, OSError) as exc:
        raise port_error(port, exc) from None
    return s


class SerialLink:
    """A protocol conversation with one board over one serial port."""

    def __init__(self, port: str, baud: int, *, reset_on_open: str = "usb-cdc",
                 timeout: float = 10.0):
        self.port = port
        self.baud = baud
        self.reset_on_open = reset_on_open
        self.timeout = timeout
        self.noise_lines = 0      # lines that were not protocol lines (garbage, boot chatter)
        self.resets = 0           # identification lines nobody asked for
        self.resynced_lines = 0   # protocol lines found behind noise on the same line
        self.protocol_errors = 0  # well-formed lines whose values cannot be data
        self._serial: Any = None     # a pyserial port (untyped library)
        self._buffer = bytearray()
        self._pending: list[Message] = []

    # -- opening --------------------------------------------------------------------------------
    def open(self) -> SerialLink:
        self._serial = open_port(self.port, self.baud, self.reset_on_open, timeout=0.05,
                                 write_timeout=self.timeout, exclusive=True)
        return self

    def close(self) -> None:
        if self._serial is not None:
            try:
                self._serial.close()
            except Exception:  # closing a vanished port may fail; nothing is left to save
                pass
            self._serial = None

    def __enter__(self) -> SerialLink:
        return self.open()

    def __exit__(self, *exc) -> None:
        self.close()

    # -- bytes ------------------------------------------------------------------------------------
    def write(self, data: bytes) -> None:
        import serial

        try:
            self._serial.write(data)
            self._serial.flush()
        except serial.SerialTimeoutException:
            raise DeviceTimeoutError(f"the board on {self.port} stopped reading its serial "
                                     "input") from None
        except (serial.SerialException, OSError) as exc:
            raise port_error(self.port, exc) from None

    def send(self, command: str) -> None:
        self.write(command.encode() + b"\n")

    def _read_some(self) -> None:
        import serial

        try:
            waiting = self._serial.in_waiting
            chunk = self._serial.read(min(max(waiting, 1), READ_CHUNK))
        except (serial.SerialException, OSError, TypeError) as exc:
            raise port_error(self.port, exc) from None
        self._buffer.extend(chunk)

    def _next_line(self) -> str | None:
        """One complete line from the buffer (without its ending), or None. Bytes that never
        end a line are dropped as one noise line once there are MAX_LINE_BYTES of them."""
        ends = [i for i in (self._buffer.find(b"\n"), self._buffer.find(b"\r")) if i >= 0]
        if not ends:
            if len(self._buffer) > MAX_LINE_BYTES:
                self._buffer.clear()
                self.noise_lines += 1
            return None
        i = min(ends)
        raw = bytes(self._buffer[:i])
        del self._buffer[:i + 1]
        return raw.decode("utf-8", errors="replace")

    # -- messages ---------------------------------------------------------------------------------
    def read(self, timeout: float | None = None) -> Message:
        """The next protocol message; noise is counted and skipped.

        Raises ``DeviceTimeoutError`` when nothing arrives within ``timeout`` seconds.
        """
        if self._pending:
            return self._pending.pop(0)
        wait = self.timeout if timeout is None else timeout
        deadline = time.monotonic() + wait
        noise_before = self.noise_lines
        while True:
            line = self._next_line()
            while line is not None:
                if line.strip():
                    message = parse_line(line)
                    if message is None:
                        self.noise_lines += 1
                    else:
                        if not line.lstrip().startswith("edgecnn "):
                            self.resynced_lines += 1
                        return message
                line = self._next_line()
            if time.monotonic() > deadline:
                noise = self.noise_lines - noise_before
                if noise:
                    raise DeviceTimeoutError(
                        f"the board on {self.port} sent {noise:,} lines in {wait:g} s, none of "
                        "them edgecnn's (wrong firmware or baud rate, or a board printing "
                        "garbage)")
                raise DeviceTimeoutError(f"the board on {self.port} sent nothing for {wait:g} s")
            self._read_some()

    def unread(self, message: Message) -> None:
        self._pending.insert(0, message)

    def drain(self, quiet: float = 0.3, limit: float = 5.0) -> list[Message]:
        """Read until the port is quiet for ``quiet`` seconds (boot chatter after opening)."""
        messages, end = [], time.monotonic() + limit
        while time.monotonic() < end:
            try:
                messages.append(self.read(timeout=quiet))
            except DeviceTimeoutError:
                break
        return messages

    def identify(self, attempts: int = 3) -> Identification:
        """Ask ``id`` and collect the identification block (retrying through lost lines)."""
        last_error: Exception | None = None
        for _ in range(attempts):
            self.send("id")
            try:
                return self._read_identification()
            except DeviceNotReadyError:
                raise
            except (DeviceTimeoutError, ProtocolError) as exc:
                last_error = exc
                self.drain(quiet=0.2, limit=2.0)
        if isinstance(last_error, DeviceTimeoutError):
            raise DeviceTimeoutError(
                f"no edgecnn firmware answered on {self.port} at {self.baud} baud; flash the "
                "project (`edgecnn flash --project DIR`) or check the port") from None
        assert last_error is not None   # the loop ran at least once
        raise last_error

    def _read_identification(self) -> Identification:
        ident = Identification()
        deadline, skipped = time.monotonic() + self.timeout, 0
        message = self.read()
        while message.kind != "id":   # results still in flight from an earlier command
            skipped += 1
            if skipped > MAX_SKIPPED_LINES or time.monotonic() > deadline:
                raise DeviceTimeoutError(
                    f"the board on {self.port} sent {skipped:,} edgecnn lines in "
                    f"{self.timeout:g} s but never its identification; it does not follow "
                    "the protocol (rebuild and flash the project)")
            message = self.read()
        f = message.fields
        ident.version = str(f.get("version", ""))
        ident.protocol = int(f.get("protocol", 0))
        if ident.protocol != PROTOCOL_VERSION:
            raise ProtocolError(f"the board speaks edgecnn protocol {ident.protocol}, this "
                                f"edgecnn speaks {PROTOCOL_VERSION}: rebuild and flash the "
                                "project with this version")
        ident.target = str(f.get("target", ""))
        if ident.target not in TARGETS:
            raise ProtocolError(f"the firmware on {self.port} does not say what it runs on "
                                f"(target={ident.target or '?'}); rebuild and flash the project "
                                "with this edgecnn version")
        ident.board = str(f.get("board", ""))
        ident.kernels = str(f.get("kernels", ""))
        ident.clock_hz = int(f.get("clock_hz", 0))
        ident.has_cycles = bool(f.get("cycles", 0))
        ident.has_profiler = bool(f.get("profiler", 0))
        expected = ["model", "arena", "input", "output"]
        while expected:
            message = self.read()
            if message.kind != expected[0]:
                raise ProtocolError(f"incomplete identification from {self.port} "
                                    f"(got {message.kind!r} where {expected[0]!r} belongs)")
            expected.pop(0)
            f = message.fields
            if message.kind == "model":
                ident.sha256, ident.model_bytes = str(f["sha256"]), int(f["bytes"])
            elif message.kind == "arena":
                ident.arena_allocated, ident.arena_used = int(f["allocated"]), int(f["used"])
                if ident.arena_used == 0:
                    # The sketch prints no tensor lines when AllocateTensors() failed.
                    raise DeviceNotReadyError(
                        f"the board on {self.port} could not set up its model (arena "
                        f"{ident.arena_allocated} B); its boot message says why: run "
                        "`edgecnn monitor --project DIR` and reset the board")
            else:
                setattr(ident, message.kind, dict(f))
        return ident


class DeviceNotReadyError(ProtocolError):
    """The firmware answers but its model failed to load."""
