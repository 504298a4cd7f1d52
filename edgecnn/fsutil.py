"""Write-then-move helpers: a failed run never leaves a half-written file or folder."""
from __future__ import annotations

import glob
import logging
import os
import shutil
import tempfile
from contextlib import contextmanager
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


def _alive(pid: int) -> bool:
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
        if pid.isdigit() and not _alive(int(pid)) and staged.is_dir():
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


def check_writable_outputs(paths, force: bool, *, option: str = "--out") -> None:
    """Fail fast, before minutes of work, when a result could not be written or would replace
    a file without ``force``: a folder in the way, a parent that is a file, a read-only place."""
    from .errors import OutputExistsError

    for path in map(Path, paths):
        if path.is_dir():
            raise OutputExistsError(f"{path} is a folder; {option} needs a file name")
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
