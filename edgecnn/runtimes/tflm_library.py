"""The board's pinned TFLM library: what its board file says of it, and the library compiled
for a bare-metal target (the emulated Cortex-M4), found where the user keeps it (edgecnn ships
none of it), compiled once per CPU and kept in edgecnn's cache (the TFLM runtime's
``cross_build``)."""
from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import BoardError, EdgecnnError
from ..toolchain import find_tool, run_tool

if TYPE_CHECKING:
    from ..boards import Board, TflmLibrary

CC, CXX = "arm-none-eabi-gcc", "arm-none-eabi-g++"


def library(board: Board) -> TflmLibrary:
    """The board's pinned TFLM library (``BoardError`` when its file pins none)."""
    if board.tflm is None:
        raise BoardError(f"{board.name} pins no TFLM library (no [tflm] in its board file); "
                         f"build with --runtime {board.runtimes[0]}")
    return board.tflm

TFLM_LIBRARY_ENV = "EDGECNN_TFLM_LIBRARY"
# Sources of the Arduino TFLM library a bare-metal build leaves out: the Arduino glue (its
# DebugLog writes to Serial; the firmware's platform provides DebugLog) and test helpers.
TFLM_SKIP = ("system_setup.cpp", "micro_time.cpp", "debug_log.cpp", "test_helper",
             "mock_micro_graph", "fake_micro_context", "/examples/", "test_over_serial",
             "peripherals")


def find_tflm_library(project: Any, given: str | Path | None = None) -> Path:
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


def tflm_includes(src: Path) -> list[str]:
    """Include folders and the defines the library is built with (ARDUINO, as PlatformIO
    builds it for the Nano: its headers choose the CMSIS-NN kernel variants by it)."""
    third = src / "third_party"
    folders = [src, third / "flatbuffers" / "include", third / "gemmlowp", third / "ruy",
               third / "cmsis_nn", third / "cmsis_nn" / "Include",
               third / "cmsis" / "CMSIS" / "Core" / "Include", third / "cmsis"]
    return ["-DARDUINO", *(flag for f in folders if f.is_dir() for flag in ("-isystem", str(f)))]


def tflm_archive(src: Path, cpu: list[str], build: Path) -> Path:
    """The library compiled once for this CPU and kept in edgecnn's cache (keyed by its
    sources' paths, sizes and times and the flags), else in the project's build folder."""
    from ..userdirs import cache_root

    sources = sorted(p for p in src.rglob("*") if p.suffix in (".c", ".cc", ".cpp")
                     and not any(s in p.as_posix() for s in TFLM_SKIP))
    flags = [*cpu, "-O2", "-ffunction-sections", "-fdata-sections", *tflm_includes(src)]
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


