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

import hashlib
import os
import re
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .boards import load_board
from .errors import EdgecnnError, ToolMissingError
from .harness.project import Project, load_project

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


def _tool(name: str, apt: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise ToolMissingError(f"{name} is not installed; `edgecnn emulate` needs it "
                               f"(apt-get install {apt})")
    return path


def _emulated(project: Project):
    board = load_board(project.manifest.board.name)
    if board.emulator is None:
        raise EdgecnnError(f"{project.path} is built for {board.name}, which is not emulated; "
                           "build for an emulated board (edgecnn build --board mps2-an386 "
                           "--runtime native)")
    return board


def build_elf(project: str | Path | Project) -> Path:
    """Compile and link the project for its emulated board; return the ELF (rebuilt only when
    a source changed)."""
    project = project if isinstance(project, Project) else load_project(project)
    board = _emulated(project)
    assert board.emulator is not None
    cc = _tool(CC, "gcc-arm-none-eabi libnewlib-arm-none-eabi")
    cxx = _tool(CXX, "libstdc++-arm-none-eabi-newlib")
    src, inc = project.path / "src", project.path / "include"
    sources = sorted(p for p in src.iterdir() if p.suffix in (".c", ".cc", ".cpp"))
    script = project.path / "target" / board.emulator.linker_script
    cpu = list(board.emulator.compiler_flags)
    common = [*cpu, "-O2", "-ffunction-sections", "-fdata-sections", "-Wall", "-Wextra",
              "-Werror", "-I", str(inc)]
    digest = hashlib.sha256(" ".join(common).encode())
    for f in (*sources, *sorted(inc.iterdir()), script):
        digest.update(f.read_bytes())
    build = project.path / BUILD_DIR
    elf = build / f"firmware-{digest.hexdigest()[:12]}.elf"
    if elf.is_file():
        return elf
    build.mkdir(exist_ok=True)
    objects = []
    for s in sources:
        obj = build / (s.name + ".o")
        if s.suffix == ".c":
            cmd = [cc, "-std=c99", *common, "-c", str(s), "-o", str(obj)]
        else:
            cmd = [cxx, "-std=gnu++17", "-fno-rtti", "-fno-exceptions",
                   "-fno-threadsafe-statics", *common, "-c", str(s), "-o", str(obj)]
        _run(cmd, f"compiling {s.name}")
        objects.append(str(obj))
    tmp = elf.with_suffix(".tmp")
    _run([cxx, *cpu, "--specs=nano.specs", "--specs=nosys.specs", "-u", "_printf_float",
          "-T", str(script), "-Wl,--gc-sections", *objects, "-o", str(tmp), "-lm"], "linking")
    os.replace(tmp, elf)
    return elf


def _run(cmd: list[str], what: str) -> None:
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        lines = [x for x in proc.stderr.splitlines() if "warning" not in x]
        first = next((x for x in lines if ("error" in x or "undefined" in x or "multiple" in x)
                      and not x.startswith("collect2")), lines[-1] if lines else "")
        raise EdgecnnError(f"{what} for the emulator failed: {first[:300]}")


def elf_memory(elf: Path) -> ElfMemory:
    """text/rodata/data/bss of an ELF from ``arm-none-eabi-size -A``."""
    out = subprocess.run([_tool(SIZE, "binutils-arm-none-eabi"), "-A", str(elf)],
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

    def __init__(self, project: str | Path | Project, serial: str = "pty"):
        self.project = project if isinstance(project, Project) else load_project(project)
        self.serial = serial          # "pty" or "tcp:PORT"
        self.port = ""
        self.elf: Path | None = None
        self._proc: Any = None

    def start(self) -> str:
        board = _emulated(self.project)
        assert board.emulator is not None
        qemu = _tool(board.emulator.qemu, "qemu-system-arm")
        self.elf = build_elf(self.project)
        serial = "pty" if self.serial == "pty" else f"tcp:127.0.0.1:{self.serial.split(':')[-1]}" \
                                                    ",server=on,wait=off"
        self._proc = subprocess.Popen(
            [qemu, "-M", board.emulator.machine, "-icount", "shift=0", "-display", "none",
             "-monitor", "none", "-serial", serial, "-kernel", str(self.elf)],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            text=True)
        if self.serial != "pty":
            self.port = f"socket://127.0.0.1:{self.serial.split(':')[-1]}"
            time.sleep(0.5)
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
