"""The Runtime seam: what runs the model on the board.

A runtime says which models and boards it supports, plans the memory a model needs, names the
firmware sources that implement ``firmware/edgecnn_runtime.h`` for it, renders the data its
sources need (the ``runtime`` part of the template context), and gives the host reference the
board's outputs are verified against. Boards list the runtimes they support (``runtimes`` in
``boards/*.toml``). Today: TFLite Micro (:mod:`edgecnn.runtimes.tflm`) and edgecnn's own C
runtime (:mod:`edgecnn.runtimes.native`).

A new runtime is a module here with a class like ``tflm.TflmRuntime``, registered in
``RUNTIMES`` (by module and class name: the registry imports an implementation only when it is
used, so that listing the names costs nothing), and its C sources in ``firmware/``.
"""
from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from ..errors import BoardError
from .base import (
    ArenaPlan,
    Compatibility,
    Difference,
    HostBuild,
    PlanPart,
    Reference,
    Runtime,
)

if TYPE_CHECKING:
    from ..boards import Board

__all__ = ["ArenaPlan", "PlanPart", "Compatibility", "Difference", "HostBuild", "Reference",
           "Runtime", "RUNTIMES", "get_runtime", "runtime_for", "runtime_names"]


def runtime_names() -> tuple[str, ...]:
    return tuple(RUNTIMES)


def get_runtime(name: str) -> Runtime:
    if name not in RUNTIMES:
        raise BoardError(f"unknown runtime {name!r}; edgecnn has: {', '.join(RUNTIMES)}")
    module, cls = RUNTIMES[name]
    runtime: Runtime = getattr(importlib.import_module(f".{module}", __name__), cls)()
    return runtime


def runtime_for(board: Board, name: str | None = None) -> Runtime:
    """The runtime ``name`` (default: the board's first) if ``board`` supports it."""
    name = name or board.runtimes[0]
    if name not in board.runtimes:
        raise BoardError(f"{board.name} does not support the {name} runtime (its board file "
                         f"lists {', '.join(board.runtimes)})")
    return get_runtime(name)


# name -> (module in this package, class): the first is a board file's default
RUNTIMES: dict[str, tuple[str, str]] = {"tflm": ("tflm", "TflmRuntime"),
                                        "native": ("native", "NativeRuntime")}
