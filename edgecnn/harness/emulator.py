"""``edgecnn emulate``: a project for an emulated board (``target = "emulator"`` in its board
file, e.g. ``mps2-an386``) built with Debian's ``arm-none-eabi-gcc`` and run under QEMU with
its UART on a pseudo-terminal or a TCP socket.

The figures it gives are instruction counts of an emulated core (QEMU ``-icount shift=0``:
the virtual clock advances 1 ns per instruction), labelled ``emulator`` everywhere, never a
device's latency.

Example:
    >>> with Emulator("mps2_kws") as emu:     # doctest: +SKIP
    ...     print(emu.port)                   # a pty a harness opens like a serial port
    /dev/pts/6
"""
from __future__ import annotations

import re
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..boards import load_board
from ..errors import EdgecnnError
from ..processes import spawn
from ..runtimes import get_runtime
from ..toolchain import build_program, find_tool
from .project import Project, load_project

BUILD_DIR = ".edgecnn-emulator"
CC, CXX, SIZE = "arm-none-eabi-gcc", "arm-none-eabi-g++", "arm-none-eabi-size"
START_TIMEOUT_S = 20.0


@dataclass(frozen=True)
class ElfMemory:
    """``arm-none-eabi-size -A`` of the firmware, in bytes."""

    text: int
    rodata: int
    data: int
    bss: int

    @property
    def flash(self) -> int:
        return self.text + self.rodata + self.data

    @property
    def ram(self) -> int:
        return self.data + self.bss


def _emulated(project: Project):
    board = load_board(project.manifest.board.name)
    if board.emulator is None:
        raise EdgecnnError(f"{project.path} is built for {board.name}, which is not emulated; "
                           "build for an emulated board (edgecnn build --board mps2-an386 "
                           "--runtime native)")
    return board


def build_elf(project: str | Path | Project, tflm_library: str | Path | None = None) -> Path:
    """Compile and link the project for its emulated board; return the ELF (rebuilt only when
    a source changed). A runtime whose library edgecnn does not ship (TFLM) also needs its
    sources (``tflm_library``; see the runtime's ``cross_build``)."""
    project = project if isinstance(project, Project) else load_project(project)
    board = _emulated(project)
    assert board.emulator is not None
    cc = find_tool(CC, "gcc-arm-none-eabi libnewlib-arm-none-eabi")
    cxx = find_tool(CXX, "libstdc++-arm-none-eabi-newlib")
    src, inc = project.path / "src", project.path / "include"
    sources = sorted(p for p in src.iterdir() if p.suffix in (".c", ".cc", ".cpp"))
    script = project.path / "target" / board.emulator.linker_script
    cpu = list(board.emulator.compiler_flags)
    build = project.path / BUILD_DIR
    build.mkdir(exist_ok=True)
    runtime = get_runtime(project.manifest.firmware.runtime)
    libraries, extra = runtime.cross_build(project, cpu, build, tflm_library)
    common = [*cpu, "-O2", "-ffunction-sections", "-fdata-sections", "-Wall", "-Wextra",
              "-Werror", "-I", str(inc), *extra]
    return build_program(
        sources, build, "firmware.elf", cc=cc, cxx=cxx, c_flags=["-std=c99", *common],
        cxx_flags=["-std=gnu++17", "-fno-rtti", "-fno-exceptions", "-fno-threadsafe-statics",
                   *common],
        link_flags=[*cpu, "--specs=nano.specs", "--specs=nosys.specs", "-u", "_printf_float",
                    "-T", str(script), "-Wl,--gc-sections", "-lm"],
        libraries=libraries, inputs=[*sorted(inc.iterdir()), script],
        what="the emulator build")


def elf_memory(elf: Path) -> ElfMemory:
    """text/rodata/data/bss of an ELF from ``arm-none-eabi-size -A``."""
    out = subprocess.run([find_tool(SIZE, "binutils-arm-none-eabi"), "-A", str(elf)],
                         capture_output=True, text=True, check=True).stdout
    sizes: dict[str, int] = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[0].startswith(".") and parts[1].isdigit():
            sizes[parts[0]] = int(parts[1])
    text = sizes.get(".text", 0) + sizes.get(".ARM.exidx", 0)
    return ElfMemory(text, sizes.get(".rodata", 0), sizes.get(".data", 0), sizes.get(".bss", 0))


class Emulator:
    """QEMU running the project's ELF; ``port`` is the UART (a pty path, or ``socket://``)."""

    def __init__(self, project: str | Path | Project, serial: str = "pty",
                 tflm_library: str | Path | None = None):
        self.project = project if isinstance(project, Project) else load_project(project)
        self.serial = serial          # "pty" or "tcp:PORT"
        self.tflm_library = tflm_library
        self.port = ""
        self.elf: Path | None = None
        self._proc: Any = None

    kind = "emulator"
    clock = ("QEMU -icount shift=0: emulated instructions, 1 ns each (the firmware's µs clock "
             "and cycle counter read them), not device time")

    @property
    def arena(self) -> str:
        from ..runtimes import get_runtime

        return get_runtime(self.project.manifest.firmware.runtime).arena_figure

    def start(self) -> str:
        board = _emulated(self.project)
        assert board.emulator is not None
        qemu = find_tool(board.emulator.qemu, "qemu-system-arm")
        self.elf = build_elf(self.project, self.tflm_library)
        serial = "pty" if self.serial == "pty" else f"tcp:127.0.0.1:{self.serial.split(':')[-1]}" \
                                                    ",server=on,wait=off"
        self._proc = spawn(
            [qemu, "-M", board.emulator.machine, "-icount", "shift=0", "-display", "none",
             "-monitor", "none", "-serial", serial, "-kernel", str(self.elf)],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            text=True)
        if self.serial != "pty":
            self.port = f"socket://127.0.0.1:{self.serial.split(':')[-1]}"
            time.sleep(0.5)
            if self._proc.poll() is not None:   # the port was taken, or not a port
                assert self._proc.stdout is not None
                said = self._proc.stdout.read().strip().splitlines()
                self._proc = None
                raise EdgecnnError(f"QEMU did not start on {self.serial}: "
                                    f"{said[-1] if said else 'no message'}")
            return self.port
        deadline = time.monotonic() + START_TIMEOUT_S
        assert self._proc.stdout is not None
        while time.monotonic() < deadline:
            line = self._proc.stdout.readline()
            m = re.search(r"char device redirected to (\S+)", line)
            if m:
                self.port = m.group(1)
                return self.port
            if not line and self._proc.poll() is not None:
                break
        self.stop()
        raise EdgecnnError(f"QEMU did not start the emulator ({board.emulator.machine}); run "
                           f"{board.emulator.qemu} -M {board.emulator.machine} by hand to see why")

    def stop(self) -> None:
        if self._proc is not None:
            self._proc.kill()
            self._proc.wait()
            if self._proc.stdout is not None:
                self._proc.stdout.close()
            self._proc = None

    def __enter__(self) -> Emulator:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()
