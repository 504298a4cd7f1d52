"""Write-then-move helpers: a failed run never leaves a half-written file or folder."""
from __future__ import annotations

import datetime as _dt
import glob
import hashlib
import logging
import os
import shutil
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger("edgecnn")


def current_umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def publish_mode(path: str | os.PathLike, directory: bool = False) -> None:
    """Give a file made by mkstemp/mkdtemp (0600/0700) the mode a plain open() would have."""
    os.chmod(path, (0o777 if directory else 0o666) & ~current_umask())


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, 0o666 & ~current_umask())
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    return atomic_write_bytes(path, text.encode("utf-8"))


@contextmanager
def atomic_output(path: str | os.PathLike):
    """Yield a temporary path beside ``path``; move it into place only if the block succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent)) / path.name
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        shutil.rmtree(tmp.parent, ignore_errors=True)


def check_folder_destination(out: Path, force: bool, *, is_ours, kind: str) -> None:
    """Refuse to touch a folder edgecnn did not write; replace one it wrote only with ``force``.

    ``is_ours(path)`` recognises edgecnn's own output; ``kind`` names it ("project", "report").
    """
    from .errors import OutputExistsError

    recover_interrupted(out)
    if not out.exists() and not out.is_symlink():
        return
    if out.is_dir() and not out.is_symlink() and not any(out.iterdir()):
        return
    if out.is_dir() and is_ours(out):
        if not force:
            raise OutputExistsError(f"{out} already holds an edgecnn {kind}; pass --force to "
                                    "replace it, or --out another folder")
        return
    raise OutputExistsError(f"{out} exists and is not an edgecnn {kind}; edgecnn will not "
                            "overwrite it: choose another --out")


def process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:       # exists, another user's
        return True
    return True


def recover_interrupted(out: Path) -> list[str]:
    """Undo what a killed run left beside ``out``: a folder moved aside by an unfinished swap
    goes back when ``out`` is missing; staging folders of processes that no longer run are
    removed. Each action is logged (the CLI prints it) and returned."""
    notes: list[str] = []
    if not out.parent.is_dir():
        return notes
    for old in sorted(out.parent.glob(f".{glob.escape(out.name)}.old.*")):
        previous = old / "previous"
        if previous.is_dir() and not out.exists() and not out.is_symlink():
            os.replace(previous, out)
            notes.append(f"restored {out} from {old}, where an interrupted run had moved it")
        elif previous.exists():
            notes.append(f"removed {old}: the replaced copy of {out} from an interrupted run")
        shutil.rmtree(old, ignore_errors=True)
    for staged in sorted(out.parent.glob(f".{glob.escape(out.name)}.*.tmp")):
        pid = staged.name[len(out.name) + 2:].split(".", 1)[0]
        if pid.isdigit() and not process_alive(int(pid)) and staged.is_dir():
            shutil.rmtree(staged, ignore_errors=True)
            notes.append(f"removed {staged}, left by an interrupted run (process {pid})")
    for note in notes:
        log.warning(note)
    return notes


def staging_dir(out: Path) -> Path:
    """A fresh temporary folder beside ``out`` (same file system, so the final move is atomic),
    named with this process's id so that a later run can tell an abandoned one."""
    out.parent.mkdir(parents=True, exist_ok=True)
    staged = Path(tempfile.mkdtemp(prefix=f".{out.name}.{os.getpid()}.", suffix=".tmp",
                                   dir=out.parent))
    publish_mode(staged, directory=True)
    return staged


def move_folder_into_place(staged: Path, out: Path, force: bool, *, is_ours, kind: str) -> None:
    """Replace ``out`` with ``staged``; an earlier ``out`` is restored if the move fails."""
    check_folder_destination(out, force, is_ours=is_ours, kind=kind)
    old = None
    if out.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old.", dir=out.parent))
        os.replace(out, old / "previous")
    try:
        os.replace(staged, out)
    except OSError:
        if old is not None:
            os.replace(old / "previous", out)
        raise
    finally:
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)


def check_writable_outputs(paths, force: bool, *, option: str = "--out", inputs=()) -> None:
    """Fail fast, before minutes of work, when a result could not be written or would replace
    a file without ``force``: a folder in the way, a parent that is a file, a read-only place,
    a name the file system cannot hold. Never, even with ``force``: an input of the same run
    (``inputs``), a symbolic link, or anything but a regular file."""
    from .errors import OutputExistsError

    inputs = [Path(i) for i in inputs]
    for path in map(Path, paths):
        check_path_name(path, option)
        for source in inputs:
            if same_file(path, source):
                raise OutputExistsError(f"{path} is also an input of this run ({source}); "
                                        f"edgecnn never writes over its input: choose another "
                                        f"{option}")
        if path.is_symlink():
            raise OutputExistsError(f"{path} is a symbolic link; edgecnn writes only regular "
                                    f"files it can replace whole: give {option} the real path")
        if path.is_dir():
            raise OutputExistsError(f"{path} is a folder; {option} needs a file name")
        if path.exists() and not path.is_file():
            raise OutputExistsError(f"{path} is not a regular file (a device, pipe or socket); "
                                    f"edgecnn writes only regular files: choose another {option}")
        if path.exists() and not force:
            raise OutputExistsError(f"{path} exists; pass --force to replace it, or choose "
                                    f"another {option}")
        ancestor = path.parent
        while not ancestor.exists() and ancestor != ancestor.parent:
            if ancestor.is_symlink():   # a dangling link: mkdir would fail later
                break
            ancestor = ancestor.parent
        if not ancestor.is_dir():
            raise OutputExistsError(f"cannot write {path}: {ancestor} is not a folder")
        if not os.access(ancestor, os.W_OK | os.X_OK):
            raise OutputExistsError(f"cannot write {path}: {ancestor} is not writable "
                                    "(read-only file system or no permission)")


def require_file(path: str | os.PathLike, what: str) -> Path:
    """``path`` as a Path if it is a readable file; else ``ModelFileError`` saying what it is
    instead (missing, a folder, a broken link)."""
    from .errors import ModelFileError

    path = Path(path)
    if path.is_file():
        return path
    if path.is_dir():
        raise ModelFileError(f"{path} is a folder, not {what}")
    if path.is_symlink():
        raise ModelFileError(f"{path} is a broken symbolic link (or a link loop), not {what}")
    if path.exists():
        raise ModelFileError(f"{path} is not a regular file, so not {what}")
    raise ModelFileError(f"{what} {path} does not exist")


def same_file(a: str | os.PathLike, b: str | os.PathLike) -> bool:
    """Whether two paths name one file (hard links and symbolic links included)."""
    try:
        return os.path.samefile(a, b)
    except OSError:
        return Path(a).resolve() == Path(b).resolve()


def check_path_name(path: Path, option: str = "--out") -> None:
    """Refuse a name the file system cannot hold, before any work is done."""
    from .errors import OutputExistsError

    try:
        name_max = os.pathconf(_existing_ancestor(path), "PC_NAME_MAX")
    except (OSError, ValueError):
        name_max = 255
    parts = path.parts
    for index, part in enumerate(parts):
        # the last name also carries the temporary files' prefix and suffix (up to 24 bytes)
        extra = 24 if index == len(parts) - 1 else 0
        size = len(os.fsencode(part))
        if size + extra > name_max:
            raise OutputExistsError(f"{option}: the name {part[:24]}... is {size} bytes; this "
                                    f"file system allows {name_max - extra} here: choose a "
                                    "shorter name")


def _existing_ancestor(path: Path) -> Path:
    ancestor = path.absolute().parent
    while not ancestor.exists() and ancestor != ancestor.parent:
        ancestor = ancestor.parent
    return ancestor


def plain_relative(rel: object) -> bool:
    """Whether ``rel`` is a plain relative name ("src/main.cpp"): no absolute path, no ``..``,
    ``.`` or empty part, no backslash or NUL; what a marker edgecnn wrote may name."""
    if not isinstance(rel, str) or not rel or "\\" in rel or "\0" in rel:
        return False
    return not rel.startswith("/") and all(part not in ("", ".", "..")
                                           for part in rel.split("/"))


def owned_path(root: Path, rel: object) -> Path | None:
    """``root/rel`` when ``rel`` is a plain relative name that stays inside ``root`` without
    passing through a symbolic link; None for anything else (an absolute path, ``..``, a link
    out of the folder): such a name is not something edgecnn wrote there."""
    if not plain_relative(rel):
        return None
    assert isinstance(rel, str)
    return None if _first_blocker(root, rel) is not None else root.joinpath(*rel.split("/"))


def _first_blocker(root: Path, rel: str) -> Path | None:
    """The first folder on the way from ``root`` to ``rel`` that is a link or not a folder."""
    folder = root
    for part in rel.split("/")[:-1]:
        folder = folder / part
        if folder.is_symlink() or (folder.exists() and not folder.is_dir()):
            return folder
    return None


def is_plain_file(path: Path) -> bool:
    """A regular file, not a link to one."""
    return not path.is_symlink() and path.is_file()


BACKUP_DIR = "edgecnn-backup"


@dataclass
class Updated:
    """What writing generated files into a folder did to what was there before."""

    folder: Path
    replaced: bool = False            # an earlier edgecnn folder was updated (--force)
    backup: Path | None = None        # where edited generated files were saved
    backed_up: list[str] = field(default_factory=list)
    kept: int = 0                     # files of the user's left as they were


def sha256_file(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def file_digests(root: Path, *, leave_out: str) -> dict[str, str]:
    """Every file under ``root`` (a staged folder) except ``leave_out``: path -> SHA-256."""
    return {p.relative_to(root).as_posix(): sha256_file(p) for p in sorted(root.rglob("*"))
            if p.is_file() and p.relative_to(root).as_posix() != leave_out}


def update_folder(staged: Path, out: Path, force: bool, *, is_ours, kind: str, marker: str,
                  recorded: dict[str, str]) -> Updated:
    """Put the staged folder at ``out``.

    A new folder is moved into place whole. An earlier one edgecnn wrote is updated file by
    file (``force`` only), acting only on names edgecnn wrote there: ``recorded`` (the old
    marker's path -> SHA-256) must name plain relative paths inside ``out`` (anything else means
    the marker was edited: refused, nothing touched). Files the user added are never touched;
    a generated file the user edited (its hash differs from the recorded one) is saved under
    ``edgecnn-backup/<time>/`` before it is replaced; ``marker`` is moved last.
    """
    from .errors import OutputExistsError, ProjectError

    check_folder_destination(out, force, is_ours=is_ours, kind=kind)
    if not out.exists() or (out.is_dir() and not any(out.iterdir())):
        move_folder_into_place(staged, out, force, is_ours=is_ours, kind=kind)
        return Updated(out)
    for rel in recorded:
        if not plain_relative(rel):
            raise ProjectError(f"{out / marker} names {str(rel)[:80]!r}, which is not a file "
                               f"inside the {kind}: the file was edited or damaged, so edgecnn "
                               f"touches nothing there; write to a new --out")
    new = file_digests(staged, leave_out=marker)
    stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    backup = out / BACKUP_DIR / stamp
    result = Updated(out, replaced=True)

    def save(rel: str) -> None:
        target = backup / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(out / rel, target)
        result.backed_up.append(rel)
        result.backup = backup

    for rel in [*new, marker, f"{BACKUP_DIR}/x"]:   # check every path before changing anything
        target = owned_path(out, rel)
        if target is None:
            blocker = _first_blocker(out, rel) or out / rel
            raise OutputExistsError(f"{blocker} is in the way of the generated {rel} (a file or "
                                    "a symbolic link where a folder belongs); move it away and "
                                    "write again")
        if target.is_symlink() or (target.exists() and not target.is_file()):
            raise OutputExistsError(f"{target} is in the way of the generated {rel} (a folder, "
                                    "a link or a special file); move it away and write again")
    for rel, digest in new.items():
        current = out / rel
        if current.is_file():
            have = sha256_file(current)
            if have == digest:
                continue
            if recorded.get(rel) != have:    # not what edgecnn wrote there: the user's edit
                save(rel)
        current.parent.mkdir(parents=True, exist_ok=True)
        os.replace(staged / rel, current)
    for rel in recorded:
        path = out / rel
        if rel in new or rel == marker or owned_path(out, rel) is None or not is_plain_file(path):
            continue
        if sha256_file(path) != recorded[rel]:
            save(rel)
        path.unlink()                        # generated before, not part of this build
    all_files = [p for p in out.rglob("*") if p.is_file() and BACKUP_DIR not in p.parts]
    result.kept = sum(1 for p in all_files
                      if p.relative_to(out).as_posix() not in new and p.name != marker)
    os.replace(staged / marker, out / marker)
    shutil.rmtree(staged, ignore_errors=True)
    return result
