"""Render the PlatformIO project (and optionally an Arduino IDE sketch folder) from Jinja
templates into a temporary folder, then move it into place."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import jinja2

from ..boards import ARDUINO_PLATFORM, Board
from ..fsutil import (
    Updated,
    check_folder_destination,
    file_digests,
    move_folder_into_place,
    update_folder,
)
from ..manifest import MANIFEST, Manifest, raw_manifest
from ..resources import resource_dir
from .carray import byte_rows, int_rows
from .context import FirmwareContext, comment_lines, comment_safe

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
    env.filters.update(byte_rows=byte_rows, int_rows=int_rows, comment_safe=comment_safe,
                       comment_lines=comment_lines)
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


def generated_files(root: Path) -> dict[str, str]:
    """Every file under ``root`` (the staged project) except the manifest: path -> SHA-256."""
    return file_digests(root, leave_out=MANIFEST)


def write_manifest(root: Path, manifest: Manifest) -> None:
    """Record the hash of every generated file, then write the manifest (the last file)."""
    manifest.files = generated_files(root)
    manifest.write(root)


def install_project(staged: Path, out: Path, force: bool) -> Updated:
    """Put the staged project at ``out``: a new folder whole, an earlier edgecnn project
    (``force`` only) file by file, keeping the user's files and backing up edited generated ones
    (``fsutil.update_folder``). A manifest naming a path outside the project is refused."""
    old = raw_manifest(out) or {}      # any schema: only its file hashes are read
    files = old.get("files")
    recorded: dict[str, str] = files if isinstance(files, dict) else {}
    return update_folder(staged, out, force, is_ours=is_edgecnn_project, kind="project",
                         marker=MANIFEST, recorded=recorded)


def move_into_place(staged: Path, out: Path, force: bool) -> None:
    move_folder_into_place(staged, out, force, is_ours=is_edgecnn_project, kind="project")
