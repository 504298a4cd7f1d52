"""The Runtime seam: what runs the model on the board.

A runtime says which models and boards it supports, plans the memory a model needs, names the
firmware sources that implement ``firmware/edgecnn_runtime.h`` for it, renders the data its
sources need (the ``runtime`` part of the template context), and gives the host reference the
board's outputs are verified against. Boards list the runtimes they support (``runtimes`` in
``boards/*.toml``). Today: TFLite Micro (:mod:`edgecnn.runtimes.tflm`) and edgecnn's own C
runtime (:mod:`edgecnn.runtimes.native`).

A new runtime is a module here with a class like :class:`TflmRuntime`, registered in
``RUNTIMES``, and its C sources in ``firmware/``.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

from ..errors import BoardError

if TYPE_CHECKING:
    from ..analyze import Analysis
    from ..boards import Board
    from ..compatibility import Compatibility
    from ..fit import ArenaPlan
    from ..tflite_model import TfliteModel


class Reference(Protocol):
    """Computes on the host what the board must compute, bit for bit."""

    def run(self, x: Any) -> Any: ...


class Runtime(Protocol):
    name: str
    title: str

    def check(self, model: TfliteModel, board: Board, force: bool = False) -> Compatibility:
        """Refuse (``CompatibilityError``) a model this runtime cannot run on ``board``."""
        ...

    def plan_memory(self, analysis: Analysis, board: Board) -> ArenaPlan: ...

    def firmware_sources(self, board: Board) -> tuple[str, ...]:
        """Files of ``firmware/`` that implement ``edgecnn_runtime.h`` for this runtime."""
        ...

    def template_context(self, board: Board, analysis: Analysis) -> Any:
        """What this runtime's generated headers hold (the ``runtime`` template variable)."""
        ...

    def generated_files(self) -> tuple[tuple[str, str], ...]:
        """(template, project path) of the headers this runtime's sources include."""
        ...

    def reference(self, model_bytes: bytes) -> Reference: ...


def runtime_names() -> tuple[str, ...]:
    return tuple(RUNTIMES)


def get_runtime(name: str) -> Runtime:
    try:
        return RUNTIMES[name]()
    except KeyError:
        raise BoardError(f"unknown runtime {name!r}; edgecnn has: "
                         f"{', '.join(RUNTIMES)}") from None


def runtime_for(board: Board, name: str | None = None) -> Runtime:
    """The runtime ``name`` (default: the board's first) if ``board`` supports it."""
    name = name or board.runtimes[0]
    if name not in board.runtimes:
        raise BoardError(f"{board.name} does not support the {name} runtime (its board file "
                         f"lists {', '.join(board.runtimes)})")
    return get_runtime(name)


from .native import NativeRuntime  # noqa: E402  (the registry names the implementations)
from .tflm import TflmRuntime  # noqa: E402

RUNTIMES: dict[str, type] = {"tflm": TflmRuntime, "native": NativeRuntime}
