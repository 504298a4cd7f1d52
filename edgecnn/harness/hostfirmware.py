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

import hashlib
import os
import shutil
import subprocess
import tty
from pathlib import Path
from typing import Any

from ..errors import ToolMissingError
from ..resources import resource_dir
from .project import Project, load_project

# Sources of a board build that a host program replaces.
BOARD_ONLY = {"main.cpp", "edgecnn_platform_arduino.cpp"}
BUILD_DIR = ".edgecnn-host"


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise ToolMissingError(f"{name} is not installed; the host build of the firmware needs "
                               "gcc and g++ (apt-get install g++)")
    return path


def compile_host_firmware(project: Project, *, extra_sources: tuple[Path, ...] = (),
                          defines: tuple[str, ...] = (), out: Path | None = None) -> Path:
    """Compile the project's firmware for this computer; return the program. Rebuilt only
    when a source or the flags changed."""
    src, inc = project.path / "src", project.path / "include"
    sources = [p for p in sorted(src.iterdir())
               if p.suffix in (".c", ".cc", ".cpp") and p.name not in BOARD_ONLY]
    sources += [resource_dir("firmware") / "edgecnn_platform_posix.cpp", *extra_sources]
    flags = ["-O2", "-Wall", "-Wextra", "-Werror", '-DEDGECNN_TARGET_OVERRIDE="virtual"',
             *defines, "-I", str(inc)]
    digest = hashlib.sha256(" ".join(flags).encode())
    for s in sources:
        digest.update(s.read_bytes())
    for h in sorted(inc.iterdir()):
        digest.update(h.read_bytes())
    build = out or project.path / BUILD_DIR
    program = build / f"firmware-{digest.hexdigest()[:12]}"
    if program.is_file():
        return program
    build.mkdir(parents=True, exist_ok=True)
    objects = []
    for s in sources:
        obj = build / (s.name + ".o")
        if s.suffix == ".c":
            cmd = [_tool("gcc"), "-std=c99", *flags, "-c", str(s), "-o", str(obj)]
        else:
            cmd = [_tool("g++"), "-std=gnu++17", *flags, "-c", str(s), "-o", str(obj)]
        subprocess.run(cmd, check=True, capture_output=True, text=True)
        objects.append(str(obj))
    tmp = program.with_suffix(".tmp")
    subprocess.run([_tool("g++"), *objects, "-o", str(tmp)], check=True, capture_output=True)
    os.replace(tmp, program)
    return program


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
        self._proc = subprocess.Popen([str(program)], stdin=master, stdout=master)
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
