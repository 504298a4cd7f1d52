"""What every runtime provides (the Runtime seam's types); the registry is in ``__init__``."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from ..analyze import Analysis
    from ..boards import Board
    from ..tflite_model import TfliteModel


@dataclass(frozen=True)
class Difference:
    """One operator that the board's library would compute differently from the host."""

    op_index: int
    op: str
    layer: str
    reason: str
    fix: str

    def sentence(self, library: str, board: str) -> str:
        return (f"{library} ({board}) would compute {self.op} operator {self.op_index} "
                f"({self.layer!r}) differently from the host reference that edgecnn verifies "
                f"against: {self.reason}; {self.fix}")


@dataclass
class Compatibility:
    board: str
    library: str
    differences: list[Difference] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def bit_exact(self) -> bool:
        return not self.differences

    def to_dict(self) -> list[dict]:
        return [{"op_index": d.op_index, "op": d.op, "layer": d.layer, "reason": d.reason}
                for d in self.differences]


@dataclass(frozen=True)
class PlanPart:
    """One labelled part of a runtime's memory need ("TFLM recording allocator, 32-bit")."""

    label: str
    bytes: int


@dataclass
class ArenaPlan:
    """The memory a runtime needs for a model on a board, in the runtime's own terms: the
    device's need as labelled parts, what is allocated (need + margin), and how the figure was
    obtained (``method``), which every report repeats."""

    device_need_bytes: int
    allocated_bytes: int
    parts: tuple[PlanPart, ...]
    scratch_bytes: int          # the largest kernel scratch buffer (one of the parts)
    scratch_layer: str
    margin: float
    kernels: str
    method: str

    @property
    def margin_percent(self) -> int:
        return round(self.margin * 100)

    def describe(self) -> str:
        parts = " + ".join(f"{p.label} {p.bytes:,} B" for p in self.parts)
        return (f"{self.allocated_bytes:,} B allocated = device need {self.device_need_bytes:,} B "
                f"({parts}) + {self.margin:.0%} margin")


class Reference(Protocol):
    """Computes on the host what the board must compute, bit for bit."""

    def run(self, x: Any) -> Any: ...


@dataclass(frozen=True)
class HostBuild:
    """How a runtime's firmware runs on this computer, as the virtual board: the project's own
    sources compiled for the host, with ``sources`` (files of ``firmware/``) in place of the
    runtime's own when those cannot be compiled here, and a ``helper`` process they talk to
    (its argv; two pipe descriptors, read then write, are appended)."""

    kernels: str                      # what the virtual board's id line says its kernels are
    clock: str                        # what its latency figures time
    arena: str                        # what its arena "used" figure is
    sources: tuple[str, ...] = ()
    helper: tuple[str, ...] = ()


class Runtime(Protocol):
    name: str
    title: str
    arena_figure: str                 # what the firmware's arena "used" figure is, on a board

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

    def cross_build(self, project: Any, cpu: list[str], build: Any, library: Any = None
                    ) -> tuple[list[str], list[str]]:
        """(libraries, compiler flags) a bare-metal build of the firmware needs beyond the
        project's sources (the emulated Cortex-M4)."""
        ...

    def library_entry(self, board: Board) -> tuple[str, str, tuple[str, ...]]:
        """(name, version, PlatformIO lib_deps) of the library the firmware is built with."""
        ...

    def describe_plan(self, model: TfliteModel) -> tuple[dict, str] | None:
        """The runtime's own memory plan of ``model`` (JSON, text), or None when it plans
        at run time."""
        ...

    def host_build(self, project: Any) -> HostBuild:
        """How ``project``'s firmware runs on this computer (the virtual board)."""
        ...
