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
from .errors import EdgecnnError
from .harness.project import Project, load_project
from .processes import spawn
from .toolchain import build_program, find_tool, run_tool

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


TFLM_LIBRARY_ENV = "EDGECNN_TFLM_LIBRARY"
# Sources of the Arduino TFLM library a bare-metal build leaves out: the Arduino glue (its
# DebugLog writes to Serial; the firmware's platform provides DebugLog) and test helpers.
TFLM_SKIP = ("system_setup.cpp", "micro_time.cpp", "debug_log.cpp", "test_helper",
             "mock_micro_graph", "fake_micro_context", "/examples/", "test_over_serial",
             "peripherals")


def find_tflm_library(project: Project, given: str | Path | None = None) -> Path:
    """The TFLM library's ``src/`` folder: ``given``, $EDGECNN_TFLM_LIBRARY, or what
    ``pio pkg install -d DIR`` put in ``DIR/.pio/libdeps/ENV/``."""
    candidates = [Path(given)] if given else []
    if os.environ.get(TFLM_LIBRARY_ENV):
        candidates.append(Path(os.environ[TFLM_LIBRARY_ENV]))
    candidates += sorted((project.path / ".pio" / "libdeps").glob("*/*"))
    for c in candidates:
        for src in (c / "src", c):
            if (src / "tensorflow" / "lite" / "micro" / "micro_interpreter.h").is_file():
                return src
    deps = project.manifest.tflm.lib_deps
    raise EdgecnnError("this project runs TensorFlow Lite Micro, whose sources edgecnn does "
                       f"not ship: pass --tflm-library PATH (a checkout of "
                       f"{deps[0] if deps else 'the library'}), set ${TFLM_LIBRARY_ENV}, or run "
                       f"`pio pkg install -d {project.path}`")


def _tflm_includes(src: Path) -> list[str]:
    """Include folders and the defines the library is built with (ARDUINO, as PlatformIO
    builds it for the Nano: its headers choose the CMSIS-NN kernel variants by it)."""
    third = src / "third_party"
    folders = [src, third / "flatbuffers" / "include", third / "gemmlowp", third / "ruy",
               third / "cmsis_nn", third / "cmsis_nn" / "Include",
               third / "cmsis" / "CMSIS" / "Core" / "Include", third / "cmsis"]
    return ["-DARDUINO", *(flag for f in folders if f.is_dir() for flag in ("-isystem", str(f)))]


def _tflm_archive(src: Path, cpu: list[str], build: Path) -> Path:
    """The library compiled once for this CPU and kept in edgecnn's cache (keyed by its
    sources' paths, sizes and times and the flags), else in the project's build folder."""
    from .cache import cache_root

    sources = sorted(p for p in src.rglob("*") if p.suffix in (".c", ".cc", ".cpp")
                     and not any(s in p.as_posix() for s in TFLM_SKIP))
    flags = [*cpu, "-O2", "-ffunction-sections", "-fdata-sections", *_tflm_includes(src)]
    digest = hashlib.sha256(" ".join(flags).encode())
    for f in sources:
        st = f.stat()
        digest.update(f"{f}:{st.st_size}:{st.st_mtime_ns};".encode())
    name = f"libtflm-{digest.hexdigest()[:16]}.a"
    folder = cache_root() / "tflm-libraries"
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        folder = build
    archive = folder / name
    if archive.is_file():
        return archive
    objdir = folder / f"{name}.{os.getpid()}.objects"
    objdir.mkdir(parents=True, exist_ok=True)
    cc = find_tool(CC, "gcc-arm-none-eabi")
    cxx = find_tool(CXX, "libstdc++-arm-none-eabi-newlib")
    procs, objects = [], []
    for i, s in enumerate(sources):
        obj = objdir / f"{i:04d}_{s.stem}.o"
        objects.append(str(obj))
        cmd = ([cc, "-std=gnu11", *flags] if s.suffix == ".c" else
               [cxx, "-std=gnu++17", "-fno-rtti", "-fno-exceptions", "-fno-threadsafe-statics",
                "-Wno-psabi", *flags])
        procs.append(subprocess.Popen([*cmd, "-c", str(s), "-o", str(obj)],
                                      stderr=subprocess.PIPE, text=True))
        if len(procs) >= (os.cpu_count() or 2):
            _wait(procs.pop(0), "compiling the TFLM library")
    for proc in procs:
        _wait(proc, "compiling the TFLM library")
    tmp = archive.with_suffix(f".{os.getpid()}.tmp")
    run_tool([find_tool("arm-none-eabi-ar", "binutils-arm-none-eabi"), "rcs", str(tmp), *objects],
         "archiving the TFLM library")
    os.replace(tmp, archive)
    shutil.rmtree(objdir, ignore_errors=True)
    return archive


def _wait(proc: Any, what: str) -> None:
    _, err = proc.communicate()
    if proc.returncode != 0:
        lines = [x for x in err.splitlines() if "error" in x]
        raise EdgecnnError(f"{what} for the emulator failed: {(lines or [''])[0][:300]}")


def build_elf(project: str | Path | Project, tflm_library: str | Path | None = None) -> Path:
    """Compile and link the project for its emulated board; return the ELF (rebuilt only when
    a source changed). A TFLM project also needs the library's sources (``tflm_library``,
    see :func:`find_tflm_library`)."""
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
    libraries: list[str] = []
    extra: list[str] = []
    if project.manifest.firmware.runtime == "tflm":
        tflm_src = find_tflm_library(project, tflm_library)
        build.mkdir(exist_ok=True)
        libraries.append(str(_tflm_archive(tflm_src, cpu, build)))
        extra = _tflm_includes(tflm_src)
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
