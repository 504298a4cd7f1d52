"""Child processes that cannot outlive edgecnn.

QEMU and the host build of the firmware run as children; when edgecnn is killed outright
(SIGKILL, an OOM kill) no ``finally`` runs, so the kernel is asked to kill them: Linux's
parent-death signal (``PR_SET_PDEATHSIG``), set in the child between fork and exec.
"""
from __future__ import annotations

import signal
import subprocess
import sys

_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:   # runs in the child, after fork, before exec
    import ctypes

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):   # not Linux: the parent's finally blocks still stop it
        pass


def spawn(args, **kwargs) -> subprocess.Popen:
    """``subprocess.Popen`` of a child that the kernel kills when edgecnn dies."""
    if sys.platform.startswith("linux"):
        kwargs.setdefault("preexec_fn", _die_with_parent)
    return subprocess.Popen(args, **kwargs)
