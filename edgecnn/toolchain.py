"""Compiling the firmware outside PlatformIO: for this computer (the native virtual board) and
for the emulated Cortex-M4. One way to find a compiler, run it with a one-line error, and
build a program that is rebuilt only when a source, a header or a flag changed."""
from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

from .errors import EdgecnnError, ToolMissingError


def find_tool(name: str, apt: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise ToolMissingError(f"{name} is not installed; building the firmware here needs it "
                               f"(apt-get install {apt})")
    return path


def run_tool(cmd: Sequence[str], what: str) -> None:
    """Run a compiler or linker; its first error line becomes an ``EdgecnnError``."""
    proc = subprocess.run(list(cmd), capture_output=True, text=True)
    if proc.returncode != 0:
        # GCC's diagnostics are "FILE:LINE:COL: error: ..." and the linker's "... undefined
        # reference to ..." / "multiple definition of ..."; the words are matched with their
        # punctuation, as a path may hold them too.
        lines = proc.stderr.splitlines()
        first = next((x for x in lines if any(k in x for k in (
            " error: ", " fatal error: ", "undefined reference", "multiple definition"))),
            lines[-1] if lines else "")
        raise EdgecnnError(f"{what} failed: {first[:300]}")


def build_program(sources: Sequence[Path], build: Path, name: str, *, cc: str, cxx: str,
                  c_flags: Sequence[str], cxx_flags: Sequence[str],
                  link_flags: Sequence[str] = (), libraries: Sequence[str] = (),
                  inputs: Sequence[Path] = (), what: str) -> Path:
    """Compile ``sources`` (.c with ``cc``, the rest with ``cxx``) and link them with ``cxx``
    into ``build/NAME-DIGEST`` (``name`` may carry a suffix: ``firmware.elf``). The digest
    covers the flags, the libraries and the bytes of the sources and of ``inputs`` (headers,
    linker script): an unchanged program is not built again."""
    digest = hashlib.sha256("\0".join([*c_flags, *cxx_flags, *link_flags, *libraries]).encode())
    for f in (*sources, *inputs):
        digest.update(f.read_bytes())
    stem, dot, suffix = name.partition(".")
    program = build / f"{stem}-{digest.hexdigest()[:12]}{dot}{suffix}"
    if program.is_file():
        return program
    build.mkdir(parents=True, exist_ok=True)
    objects = []
    for s in sources:
        obj = build / (s.name + ".o")
        flags = c_flags if s.suffix == ".c" else cxx_flags
        run_tool([cc if s.suffix == ".c" else cxx, *flags, "-c", str(s), "-o", str(obj)],
                 f"{what}: compiling {s.name}")
        objects.append(str(obj))
    tmp = program.with_name(program.name + ".tmp")
    run_tool([cxx, *objects, *libraries, *link_flags, "-o", str(tmp)], f"{what}: linking")
    os.replace(tmp, program)
    return program
