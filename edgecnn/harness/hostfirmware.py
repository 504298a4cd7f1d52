"""The project's own firmware compiled for this computer and run behind a pseudo-terminal:
the virtual board of every project. Nothing of the board's side is re-implemented in Python:
the program is the project's ``src/`` (application, both protocols, self-check, timing, the
generated model) with ``firmware/edgecnn_platform_posix.cpp`` in place of the board's
platform. A runtime whose sources cannot be compiled here (TFLM: the pinned board libraries)
names a replacement and a helper process in its ``host_build()``: TFLM's forwards Invoke()
to the host tflite-micro interpreter through two pipes. A bench against it measures the very
protocol code the board runs, with host timings, labelled ``virtual`` by the program itself
(built with ``EDGECNN_TARGET_OVERRIDE="virtual"``).

Example:
    >>> with HostFirmware("nano33ble_kws") as fw:     # doctest: +SKIP
    ...     print(fw.port)
    /dev/pts/5
"""
from __future__ import annotations

import os
import subprocess
import tty
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..boards import load_board
from ..codegen.project import board_only_sources
from ..errors import DeviceError
from ..processes import spawn
from ..resources import resource_dir
from ..toolchain import build_program, find_tool
from .project import Project, load_project

if TYPE_CHECKING:
    from ..runtimes import HostBuild

BUILD_DIR = ".edgecnn-host"
BOOT_TIMEOUT_S = 60.0    # the helper imports TFLM; a loaded CI machine may take a while


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


def host_build(project: Project) -> HostBuild:
    from ..runtimes import get_runtime

    return get_runtime(project.manifest.firmware.runtime).host_build(project)


def compile_virtual_board(project: Project, host: HostBuild) -> Path:
    """The virtual board's program: the project's firmware with its runtime's host build."""
    replacements = tuple(resource_dir("firmware") / name for name in host.sources)
    return compile_host_firmware(project, runtime_sources=replacements or None,
                                 defines=(f'-DEDGECNN_KERNELS_OVERRIDE="{host.kernels}"',))


class HostFirmware:
    """The compiled program on the master side of a pty; ``port`` (the slave) is what a
    harness opens, as it would open a board's serial port. ``program`` replaces the virtual
    board's own build (a test double), run without a helper."""

    kind = "virtual"

    def __init__(self, project: str | Path | Project, program: Path | None = None):
        self.project = project if isinstance(project, Project) else load_project(project)
        self.program = program
        self.host = host_build(self.project)
        self.clock, self.arena = self.host.clock, self.host.arena
        self.port = ""
        self._procs: list[Any] = []
        self._fds: tuple[int, int] | None = None

    def start(self) -> str:
        host = self.host
        program = self.program or compile_virtual_board(self.project, host)
        env: dict[str, str] | None = None
        pass_fds: tuple[int, ...] = ()
        pipes: tuple[int, ...] = ()
        if host.helper and self.program is None:
            # helper -> firmware and firmware -> helper
            to_firmware_r, to_firmware_w = os.pipe()
            to_helper_r, to_helper_w = os.pipe()
            self._procs.append(spawn([*host.helper, str(to_helper_r), str(to_firmware_w)],
                                     pass_fds=(to_helper_r, to_firmware_w),
                                     stdin=subprocess.DEVNULL))
            env = {**os.environ, "EDGECNN_BRIDGE_FDS": f"{to_firmware_r},{to_helper_w}"}
            pass_fds = (to_firmware_r, to_helper_w)
            pipes = (to_firmware_r, to_firmware_w, to_helper_r, to_helper_w)
        master, slave = os.openpty()
        tty.setraw(slave)
        self._fds = (master, slave)
        self.port = os.ttyname(slave)
        self._procs.append(spawn([str(program)], stdin=master, stdout=master, env=env,
                                 pass_fds=pass_fds))
        for fd in pipes:      # the children hold their ends
            os.close(fd)
        if pipes:      # a helper takes a while to start: its board must not look silent
            self._await_boot(slave)
        return self.port

    def _await_boot(self, slave: int) -> None:
        """Return once the program has said its first bytes (its boot lines, which the harness
        then reads as a board's), so that a slow start (the helper importing TFLM) is not taken
        for silence; without reading them."""
        import select
        import time

        deadline = time.monotonic() + BOOT_TIMEOUT_S
        while time.monotonic() < deadline:
            ready, _, _ = select.select([slave], [], [], 0.05)
            if ready:
                return
            if not self.alive:
                break
        self.stop()
        raise DeviceError(f"the virtual board of {self.project.path} said nothing within "
                          f"{BOOT_TIMEOUT_S:g} s of starting (or stopped): rebuild the project "
                          "with this edgecnn")

    @property
    def alive(self) -> bool:
        return bool(self._procs) and all(p.poll() is None for p in self._procs)

    def stop(self) -> None:
        for proc in self._procs:
            proc.kill()
            proc.wait()
        self._procs = []
        if self._fds is not None:
            for fd in self._fds:
                os.close(fd)
            self._fds = None

    def serve_forever(self) -> None:
        import time

        while self.alive:
            time.sleep(0.5)

    def __enter__(self) -> HostFirmware:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()
