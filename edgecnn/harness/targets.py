"""Targets: what a bench talks to. Each supplies a byte stream the harness opens as a pyserial
port or URL, is started and stopped around the run, and says what it is: its ``kind``
("device", "virtual", "emulator"), what its ``clock`` times and what its ``arena`` figure
means; reports take their labels from these and from the firmware's own ``id`` line. Every
target runs the firmware's own code: a board on a serial port (found by its USB VID:PID when
no port is given), the virtual board (the project's firmware compiled for this computer,
``hostfirmware.py``), the emulated Cortex-M4 (``emulator.py``), or anything reachable by a
pyserial URL (``socket://host:port``). Injected faults put a faulty line (``faults.py``)
between the harness and any of them.

Example:
    >>> t = open_target(project, "virtual")        # doctest: +SKIP
    >>> port = t.start(); ...; t.stop()             # doctest: +SKIP
"""
from __future__ import annotations

from typing import Protocol

from .faults import FaultProxy, Faults
from .project import Project


class Target(Protocol):
    """Something that runs the firmware and exposes its serial line."""

    @property
    def kind(self) -> str:
        """"device", "virtual" or "emulator"."""

    @property
    def clock(self) -> str:
        """What the latency figures time."""

    @property
    def arena(self) -> str:
        """What the firmware's arena "used" figure is."""

    def start(self) -> str:
        """Make the line available; return the pyserial port name or URL to open."""

    def stop(self) -> None:
        """Release what ``start`` set up (nothing for a board on a port)."""


class SerialBoard:
    """A board on a serial port (or pyserial URL); found by its USB VID:PID if none is given."""

    kind = "device"
    clock = "the board's µs clock and cycle counter around one inference"

    def __init__(self, project: Project, port: str | None = None):
        from ..runtimes import get_runtime

        self.project, self.port = project, port
        self.arena = get_runtime(project.manifest.firmware.runtime).arena_figure

    def start(self) -> str:
        if self.port is None:
            from .link import find_port

            self.port = find_port(self.project.manifest.board.usb_ids,
                                  self.project.manifest.board.title)
        return self.port

    def stop(self) -> None:
        pass


def open_target(project: Project, port: str | None, faults: Faults | None = None) -> Target:
    """The target ``--port`` names: ``virtual``, ``emulator``, a port or URL, or None (find the
    board); with ``faults``, seen through a faulty line."""
    target: Target
    if port == "emulator":
        from .emulator import Emulator

        target = Emulator(project)
    elif port == "virtual":
        from .hostfirmware import HostFirmware

        target = HostFirmware(project)
    else:
        target = SerialBoard(project, port)
    if faults:
        return FaultProxy(target, faults, project.manifest.board.baud)
    return target
