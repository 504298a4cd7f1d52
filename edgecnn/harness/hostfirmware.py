"""The project's own firmware compiled for this computer and run behind a pseudo-terminal:
the virtual board of a native-runtime project. Nothing is re-implemented in Python: the
program is the project's ``src/`` (application, protocol, native runtime, kernels, generated
model) with ``firmware/edgecnn_platform_posix.cpp`` in place of the board's platform, so a
bench against it measures the very C the board runs (with host timings, labelled ``virtual``
by the program itself: it is built with ``EDGECNN_TARGET_OVERRIDE="virtual"``).

Example:
    >>> with HostFirmware("nano33ble_kws_native") as fw:     # doctest: +SKIP
    ...     print(fw.port)
    /dev/pts/5
"""
from __future__ import annotations

import os
import tty
from pathlib import Path
from typing import Any

from ..boards import load_board
from ..codegen.project import board_only_sources
from ..processes import spawn
from ..resources import resource_dir
from ..toolchain import build_program, find_tool
from .project import Project, load_project

BUILD_DIR = ".edgecnn-host"


def compile_host_firmware(project: Project, *, runtime_sources: tuple[Path, ...] | None = None,
                          defines: tuple[str, ...] = (), target: str | None = "virtual",
                          out: Path | None = None) -> Path:
    """Compile the project's firmware for this computer; return the program. Rebuilt only
    when a source or the flags changed. ``runtime_sources`` replace the project's runtime
    implementation (a test double); ``target`` is what the program's ``id`` says it runs on
    (None: what the board file says)."""
    from ..runtimes import get_runtime

    src, inc = project.path / "src", project.path / "include"
    board = load_board(project.manifest.board.name)
    left_out = board_only_sources(board)
    if runtime_sources is not None:
        left_out |= set(get_runtime(project.manifest.firmware.runtime).firmware_sources(board))
    sources = [p for p in sorted(src.iterdir()) if p.suffix in (".c", ".cc", ".cpp")
               and p.name not in left_out]
    sources += [resource_dir("firmware") / "edgecnn_platform_posix.cpp",
                *(runtime_sources or ())]
    flags = ["-O2", "-Wall", "-Wextra", "-Werror", *defines, "-I", str(inc)]
    if target is not None:
        flags.append(f'-DEDGECNN_TARGET_OVERRIDE="{target}"')
    return build_program(sources, out or project.path / BUILD_DIR, "firmware",
                         cc=find_tool("gcc", "gcc"), cxx=find_tool("g++", "g++"),
                         c_flags=["-std=c99", *flags], cxx_flags=["-std=gnu++17", *flags],
                         inputs=sorted(inc.iterdir()), what="the host build of the firmware")


class HostFirmware:
    """The compiled program on the master side of a pty; ``port`` (the slave) is what a
    harness opens, as it would open a board's serial port."""

    def __init__(self, project: str | Path | Project, program: Path | None = None):
        self.project = project if isinstance(project, Project) else load_project(project)
        self.program = program
        self.port = ""
        self._proc: Any = None
        self._fds: tuple[int, int] | None = None

    def start(self) -> str:
        program = self.program or compile_host_firmware(self.project)
        master, slave = os.openpty()
        tty.setraw(slave)
        self._fds = (master, slave)
        self.port = os.ttyname(slave)
        self._proc = spawn([str(program)], stdin=master, stdout=master)
        return self.port

    def stop(self) -> None:
        if self._proc is not None:
            self._proc.kill()
            self._proc.wait()
            self._proc = None
        if self._fds is not None:
            for fd in self._fds:
                os.close(fd)
            self._fds = None

    def __enter__(self) -> HostFirmware:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()
