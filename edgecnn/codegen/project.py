"""Render the PlatformIO project (and optionally an Arduino IDE sketch folder) from Jinja
templates into a temporary folder, then move it into place."""
from __future__ import annotations

import datetime as _dt
import hashlib
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import jinja2

from ..boards import ARDUINO_PLATFORM, Board
from ..errors import OutputExistsError
from ..fsutil import check_folder_destination, move_folder_into_place
from ..manifest import MANIFEST, Manifest, raw_manifest
from ..resources import resource_dir
from .carray import byte_rows, int_rows
from .context import FirmwareContext, comment_safe

if TYPE_CHECKING:
    from ..runtimes import Runtime

# The program: the same sources in every project (the runtime's are added by the runtime).
FIRMWARE_FILES = ("edgecnn_app.h", "edgecnn_app.cpp", "edgecnn_commands.cpp", "edgecnn_platform.h",
                  "edgecnn_runtime.h", "edgecnn_protocol.h", "edgecnn_protocol.cpp",
                  "edgecnn_mlperf.h", "edgecnn_mlperf_protocol.cpp", "edgecnn_mlperf.cpp",
                  "edgecnn_timer.h")
# A board with an Arduino core: its platform file, a PlatformIO project and an Arduino entry.
ARDUINO_FILES = ("edgecnn_platform_arduino.cpp",)
ARDUINO_TEMPLATES = (("platformio.ini.j2", "platformio.ini"), ("main.cpp.j2", "src/main.cpp"))
# The data: rendered from the templates.
TEMPLATES = (("edgecnn_config.h.j2", "include/edgecnn_config.h"),
             ("model_data.h.j2", "include/model_data.h"), ("model_data.cc.j2", "src/model_data.cc"),
             ("test_vectors.h.j2", "include/test_vectors.h"),
             ("test_vectors.cc.j2", "src/test_vectors.cc"))


def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(resource_dir("templates"))),
        undefined=jinja2.StrictUndefined, keep_trailing_newline=True, autoescape=False)
    env.filters.update(byte_rows=byte_rows, int_rows=int_rows, comment_safe=comment_safe)
    return env


@dataclass
class RenderedFile:
    path: str       # relative to the project root
    content: str


def platform_sources(board: Board) -> list[Path]:
    """The board's platform layer in ``firmware/``: the Arduino glue, or a bare-metal target's
    start-up code, linker script and drivers."""
    firmware = resource_dir("firmware")
    if board.platform == ARDUINO_PLATFORM:
        return [firmware / name for name in ARDUINO_FILES]
    return sorted(p for p in (firmware / board.platform).iterdir() if p.is_file())


def board_only_sources(board: Board) -> set[str]:
    """Names in a project's ``src/`` that run only on the board: a host build of the firmware
    leaves them out (and brings its own entry point and POSIX platform)."""
    return {"main.cpp", *(p.name for p in platform_sources(board))}


def render_project(context: FirmwareContext, runtime: Runtime) -> list[RenderedFile]:
    """All files of the project, rendered in memory (no disk access beyond the templates and
    ``firmware/``)."""
    env = environment()
    values = context.as_mapping()
    arduino = context.board.platform == ARDUINO_PLATFORM
    templates = (*(ARDUINO_TEMPLATES if arduino else ()), *TEMPLATES, *runtime.generated_files())
    files = [RenderedFile(path, env.get_template(template).render(**values))
             for template, path in templates]
    firmware = resource_dir("firmware")
    sources = [firmware / name for name in (*FIRMWARE_FILES, *runtime.firmware_sources(
        context.board))] + platform_sources(context.board)
    for path in sources:
        folder = {".h": "include", ".ld": "target"}.get(path.suffix, "src")
        files.append(RenderedFile(f"{folder}/{path.name}", path.read_text()))
    if context.arduino_sketch:
        # The Arduino IDE compiles every .ino/.cpp/.h in one flat folder named like the sketch.
        for f in list(files):
            if f.path == "platformio.ini":
                continue
            base = Path(f.path).name
            if base == "main.cpp":
                base = f"{context.arduino_sketch}.ino"
            files.append(RenderedFile(f"arduino/{context.arduino_sketch}/{base}", f.content))
    return files


def is_edgecnn_project(path: Path) -> bool:
    return raw_manifest(path) is not None


def check_destination(out: Path, force: bool) -> None:
    """Refuse to touch anything that is not ours; ours only with ``force``."""
    check_folder_destination(out, force, is_ours=is_edgecnn_project, kind="project")


def write_files(root: Path, files: list[RenderedFile]) -> None:
    for f in files:
        target = root / f.path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(f.content, encoding="utf-8")


BACKUP_DIR = "edgecnn-backup"


@dataclass
class Installed:
    """What writing a project into its folder did to what was there before."""

    project: Path
    replaced: bool = False            # an earlier edgecnn project was updated (--force)
    backup: Path | None = None        # where edited generated files were saved
    backed_up: list[str] = field(default_factory=list)
    kept: int = 0                     # files of the user's left as they were


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def generated_files(root: Path) -> dict[str, str]:
    """Every file under ``root`` (the staged project) except the manifest: path -> SHA-256."""
    return {p.relative_to(root).as_posix(): _sha256(p) for p in sorted(root.rglob("*"))
            if p.is_file() and p.name != MANIFEST}


def write_manifest(root: Path, manifest: Manifest) -> None:
    """Record the hash of every generated file, then write the manifest (the last file)."""
    manifest.files = generated_files(root)
    manifest.write(root)


def install_project(staged: Path, out: Path, force: bool) -> Installed:
    """Put the staged project at ``out``.

    A new folder is moved into place whole. An earlier edgecnn project is updated file by file
    (``force`` only): files the user added (notes, ``reports/``, PlatformIO's ``.pio/``) are
    never touched; a generated file the user edited (its hash differs from the one the old
    manifest recorded) is saved under ``edgecnn-backup/<time>/`` before it is replaced; the
    manifest is written last.
    """
    check_destination(out, force)
    if not out.exists() or (out.is_dir() and not any(out.iterdir())):
        move_into_place(staged, out, force)
        return Installed(out)
    old = raw_manifest(out) or {}      # any schema: only its file hashes are read
    files = old.get("files")
    recorded: dict[str, str] = files if isinstance(files, dict) else {}
    new = generated_files(staged)
    stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    backup = out / BACKUP_DIR / stamp
    result = Installed(out, replaced=True)

    def save(rel: str) -> None:
        target = backup / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(out / rel, target)
        result.backed_up.append(rel)
        result.backup = backup

    for rel in new:   # check every path before changing anything
        target = out / rel
        folders = [p for p in target.parents if out in p.parents]   # between out and target
        in_the_way = ([target] if target.is_dir() else []) + [
            p for p in folders if p.exists() and not p.is_dir()]
        if in_the_way:
            raise OutputExistsError(f"{in_the_way[0]} is in the way of the generated {rel}; "
                                    "move it away and build again")
    for rel, digest in new.items():
        current = out / rel
        if current.is_file():
            have = _sha256(current)
            if have == digest:
                continue
            if recorded.get(rel) != have:    # not what edgecnn wrote there: the user's edit
                save(rel)
        current.parent.mkdir(parents=True, exist_ok=True)
        os.replace(staged / rel, current)
    for rel in recorded:
        if rel in new or not (out / rel).is_file():
            continue
        if _sha256(out / rel) != recorded[rel]:
            save(rel)
        (out / rel).unlink()                 # generated before, not part of this build
    all_files = [p for p in out.rglob("*") if p.is_file() and BACKUP_DIR not in p.parts]
    result.kept = sum(1 for p in all_files
                      if p.relative_to(out).as_posix() not in new and p.name != MANIFEST)
    os.replace(staged / MANIFEST, out / MANIFEST)
    return result


def move_into_place(staged: Path, out: Path, force: bool) -> None:
    move_folder_into_place(staged, out, force, is_ours=is_edgecnn_project, kind="project")
