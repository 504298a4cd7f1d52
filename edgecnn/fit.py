"""Will the model fit the board? Flash and RAM budgets of an analysis with a runtime's memory
plan, and concrete options when it does not.

Example:
    >>> from edgecnn.boards import load_board
    >>> report = check_fit(analysis, load_board("nano33"))     # doctest: +SKIP
    >>> report.fits                                           # doctest: +SKIP
    True
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

from .boards import Board, list_boards
from .errors import FitError
from .runtimes import ArenaPlan


@dataclass
class FitRow:
    resource: str
    used: int
    available: int
    parts: str

    @property
    def ok(self) -> bool:
        return self.used <= self.available


@dataclass
class FitReport:
    board: str
    rows: list[FitRow]
    arena: ArenaPlan
    suggestions: list[str] = field(default_factory=list)

    @property
    def fits(self) -> bool:
        return all(r.ok for r in self.rows)

    def to_dict(self) -> dict:
        return {"board": self.board, "fits": self.fits, "arena": asdict(self.arena),
                "rows": [{**asdict(r), "ok": r.ok} for r in self.rows],
                "suggestions": self.suggestions}

    def table(self) -> str:
        lines = [f"{'budget on ' + self.board:<28} {'used':>10} {'available':>10} {'use':>6}",
                 "-" * 58]
        for r in self.rows:
            pct = 100.0 * r.used / r.available if r.available else float("inf")
            flag = "" if r.ok else f"  OVER by {r.used - r.available:,} B"
            lines.append(f"{r.resource:<28} {r.used:>10,} {r.available:>10,} {pct:>5.1f}%{flag}")
            lines.append(f"  {r.parts}")
        lines.append(f"arena: {self.arena.describe()}")
        return "\n".join(lines)

    def failure_message(self) -> str:
        over = "; ".join(f"{r.resource} needs {r.used:,} B of {r.available:,} B "
                         f"(over by {r.used - r.available:,} B)" for r in self.rows if not r.ok)
        return (f"the model does not fit {self.board}: {over}. Options: "
                + "; ".join(self.suggestions) + ". Use --force to build anyway")


def check_fit(analysis, board: Board, arena: ArenaPlan | None = None) -> FitReport:
    """Flash and RAM budgets of ``analysis`` on ``board``, with concrete options if over."""
    if arena is None:
        from .runtimes import runtime_for

        arena = runtime_for(board).plan_memory(analysis, board)
    rt = board.runtime
    rows = [
        FitRow("flash", analysis.flash_bytes + rt.flash_bytes, board.flash_bytes,
               f"model {analysis.flash_bytes:,} + core and runtime ~{rt.flash_bytes:,} (estimate)"),
        FitRow("RAM", arena.allocated_bytes + rt.ram_bytes + rt.stack_heap_reserve_bytes,
               board.sram_bytes,
               f"arena {arena.allocated_bytes:,} + core globals ~{rt.ram_bytes:,} + stack/heap "
               f"reserve {rt.stack_heap_reserve_bytes:,}"),
    ]
    if rt.static_ram_limit_bytes:
        rows.append(FitRow("static arena (dram0_0_seg)", arena.allocated_bytes,
                           rt.static_ram_limit_bytes,
                           "a static array must fit the DRAM linker region, not all of SRAM"))
    suggestions = []
    dense = [r for r in analysis.layers if r.op == "FULLY_CONNECTED"]
    if dense and max(r.params for r in dense) > 0.5 * analysis.total_params:
        big = max(dense, key=lambda r: r.params)
        suggestions.append(f"the largest dense layer holds {big.params:,} of "
                           f"{analysis.total_params:,} parameters: use fewer dense units or "
                           "global average pooling before it (--arch edge_cnn_gap)")
    suggestions.append("depthwise-separable convolutions (--arch dscnn or mobilenet_v1 with a "
                       "smaller alpha) cut parameters and MACs")
    if any(not r.ok and r.resource != "flash" for r in rows):
        suggestions.append("fewer filters in the early layers or an early stride shrinks the "
                           "largest activations, which set the arena")
    bigger = [b.name for b in list_boards() if b.name != board.name
              and b.sram_bytes > board.sram_bytes]
    if bigger:
        suggestions.append(f"a board with more memory ({', '.join(bigger)})")
    return FitReport(board.name, rows, arena, suggestions)


def require_fit(report: FitReport, force: bool = False) -> None:
    if not report.fits and not force:
        raise FitError(report.failure_message())
