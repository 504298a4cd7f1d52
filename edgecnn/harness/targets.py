"""Targets: what a bench talks to. Each supplies a byte stream the harness opens as a pyserial
port or URL, and is started and stopped around the run. A board on a serial port (found by its
USB VID:PID when no port is given), the virtual board (the project's model in the host TFLM
interpreter behind a pseudo-terminal), and anything reachable by a pyserial URL
(``socket://host:port``: an emulator's TCP UART). What the firmware behind the stream runs on
is never inferred from the target: the firmware says it (``target=`` in its ``id`` line).

Example:
    >>> t = open_target(project, "virtual")        # doctest: +SKIP
    >>> port = t.start(); ...; t.stop()             # doctest: +SKIP
"""
from __future__ import annotations

from typing import Protocol

from ..errors import EdgecnnError
from .project import Project


class Target(Protocol):
    """Something that runs the firmware and exposes its serial line."""

    def start(self) -> str:
        """Make the line available; return the pyserial port name or URL to open."""

    def stop(self) -> None:
        """Release what ``start`` set up (nothing for a board on a port)."""


class SerialBoard:
    """A board on a serial port (or pyserial URL); found by its USB VID:PID if none is given."""

    def __init__(self, project: Project, port: str | None = None):
        self.project, self.port = project, port

    def start(self) -> str:
        if self.port is None:
            from .link import find_port

            self.port = find_port(self.project.manifest.board.usb_ids,
                                  self.project.manifest.board.title)
        return self.port

    def stop(self) -> None:
        pass


class VirtualTarget:
    """The virtual board on a pseudo-terminal, with optional injected faults."""

    def __init__(self, project: Project, faults=None):
        from .virtual_board import VirtualBoard

        self.board = VirtualBoard(project, faults)

    def start(self) -> str:
        return self.board.start()

    def stop(self) -> None:
        self.board.stop()


def open_target(project: Project, port: str | None, faults=None) -> Target:
    """The target ``--port`` names: ``virtual``, a port or URL, or None (find the board).

    The virtual board of a native-runtime project is the project's own firmware compiled for
    this computer (``hostfirmware.py``); of a TFLM project (whose library cannot be compiled
    here), the Python virtual board with TFLM's host interpreter. Injected faults need the
    latter."""
    if port == "emulator":
        if faults is not None:
            raise EdgecnnError("faults can only be injected into the virtual board "
                               "(--port virtual)")
        from ..emulator import Emulator

        return Emulator(project)
    if port == "virtual" and project.manifest.firmware.runtime == "native" and faults is None:
        from .hostfirmware import HostFirmware

        return HostFirmware(project)
    if port == "virtual":
        return VirtualTarget(project, faults)
    if faults is not None:
        raise EdgecnnError("faults can only be injected into the virtual board (--port virtual)")
    return SerialBoard(project, port)
