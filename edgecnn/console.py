"""What the user sees: edgecnn's own lines, progress bars for long steps, and nothing else.

TensorFlow and its converter write to the process's stdout and stderr from C++ and Python
(``Saved artifact at …``, signature dumps, calibration statistics, warnings).
:func:`captured` sends all of that, for the length of one step, into a log file that an error
message can name. :func:`track` shows a progress bar (rich) on a terminal and nothing elsewhere.
"""
from __future__ import annotations

import contextlib
import datetime as _dt
import io
import logging
import os
import sys
import tempfile
import warnings
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")
PROGRESS_ENV = "EDGECNN_PROGRESS"   # "0" turns progress bars off, "1" forces them on
KEEP_LOGS = 20

_log_path: Path | None = None


def log_path() -> Path:
    """This process's log file (created on first use): ``<cache>/logs/edgecnn-<time>-<pid>.log``,
    or the temporary folder when the cache folder cannot be written."""
    global _log_path
    if _log_path is None:
        from .userdirs import cache_root

        stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
        name = f"edgecnn-{stamp}-{os.getpid()}.log"
        for folder in (cache_root() / "logs", Path(tempfile.gettempdir()) / "edgecnn-logs"):
            try:
                folder.mkdir(parents=True, exist_ok=True)
                (folder / name).touch()
            except OSError:
                continue
            _prune(folder)
            _log_path = folder / name
            break
        else:
            _log_path = Path(os.devnull)
    return _log_path


def _prune(folder: Path) -> None:
    """Keep the newest KEEP_LOGS logs. Other edgecnn processes (a search's workers) prune the
    same folder at the same time, so a log listed here may be gone before it is looked at."""
    dated = []
    for log in folder.glob("edgecnn-*.log"):
        try:
            dated.append((log.stat().st_mtime, log))
        except OSError:
            continue
    dated.sort()
    for _, old in dated[:-KEEP_LOGS]:
        with contextlib.suppress(OSError):
            old.unlink()


@contextlib.contextmanager
def redirected_fds(target) -> Iterator[None]:
    """Point file descriptors 1 and 2 at ``target`` (a binary file) for a block: what native
    code prints goes there. Python's and C's buffers are flushed on the way in and out, so
    nothing written before lands in ``target`` and nothing written inside is left behind."""
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    _flush_c_stdio()
    saved = [os.dup(1), os.dup(2)]
    try:
        os.dup2(target.fileno(), 1)
        os.dup2(target.fileno(), 2)
        yield
    finally:
        _flush_c_stdio()   # C++ output still buffered belongs to the block
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for fd in saved:
            os.close(fd)


@contextlib.contextmanager
def captured(step: str) -> Iterator[Path]:
    """Run a block with file descriptors 1 and 2, ``sys.stdout``/``sys.stderr`` and Python
    warnings all going to :func:`log_path` under a heading naming ``step``."""
    path = log_path()
    with open(path, "ab", buffering=0) as log:
        log.write(f"\n== {_dt.datetime.now().isoformat(timespec='seconds')} {step}\n".encode())
        text = io.TextIOWrapper(log, encoding="utf-8", errors="replace", write_through=True)
        try:
            with redirected_fds(log), contextlib.redirect_stdout(text), \
                    contextlib.redirect_stderr(text), warnings.catch_warnings():
                warnings.simplefilter("always")
                # into the log even where a test runner or an application shows warnings itself
                def to_log(message, category, filename, lineno, file=None, line=None) -> None:
                    text.write(warnings.formatwarning(message, category, filename, lineno, line))

                warnings.showwarning = to_log
                yield path
        finally:
            with contextlib.suppress(Exception):
                text.flush()
            text.detach()


def import_tensorflow() -> None:
    """Import TensorFlow and Keras once, with what they print on start-up (absl's
    "All log messages before absl::InitializeLog()", oneDNN's notice, the CPU-feature lines)
    going to the log file: every module calls this before its own ``import keras``."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    # oneDNN stays as TensorFlow sets it (on for x86 CPUs): the default model's recipe and its
    # measured accuracy were made with it; its notice goes to the log like the rest.
    # TensorFlow's Python warnings (e.g. tf.function retracing across models) go through the
    # standard "tensorflow" logger; a CLI user gets edgecnn's own lines instead.
    logging.getLogger("tensorflow").setLevel(logging.ERROR)
    if "keras" in sys.modules:      # imported already, here or by the application
        return
    with captured("importing TensorFlow and Keras"):
        import keras  # noqa: F401  (imports TensorFlow, its backend)
        import tensorflow  # noqa: F401


def _flush_c_stdio() -> None:
    with contextlib.suppress(Exception):
        import ctypes

        ctypes.CDLL(None).fflush(None)


def progress_enabled() -> bool:
    forced = os.environ.get(PROGRESS_ENV)
    if forced in ("0", "1"):
        return forced == "1"
    return is_terminal(sys.stderr)


def is_terminal(stream) -> bool:
    """Whether ``stream`` is a terminal; False for a stream that cannot say (a host
    application's replacement of sys.stderr, such as Ray Tune's tee of a trial's output)."""
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(isatty()) if callable(isatty) else False
    except (OSError, ValueError):       # closed or detached
        return False


def track(items: Iterable[T], description: str, total: int | None = None) -> Iterable[T]:
    """``items``, with a progress bar on stderr when it is a terminal."""
    if not progress_enabled():
        return items
    from rich.console import Console
    from rich.progress import track as rich_track

    return rich_track(items, description=description, total=total, transient=True,
                      console=Console(stderr=True))


def keras_verbosity() -> int:
    """Keras' fit verbosity: its progress bar on a terminal, one line per epoch elsewhere."""
    return 1 if is_terminal(sys.stdout) else 2
