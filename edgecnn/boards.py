"""Boards are data: one TOML file per board in ``boards/``. This module loads and validates them,
plans the device tensor arena, and checks whether a model fits.

Example:
    >>> from edgecnn.boards import load_board
    >>> load_board("nano33").mcu
    'nRF52840'
"""
from __future__ import annotations

import math
import os
import re
import tomllib
from dataclasses import asdict, dataclass, field
from pathlib import Path

from .errors import BoardError, FitError
from .resources import resource_dir

BOARD_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}\Z")
USB_ID = re.compile(r"^[0-9A-Fa-f]{4}:[0-9A-Fa-f]{4}\Z")
KNOWN_APIS = {"tflm-2023", "error-reporter-2022"}
KNOWN_KERNELS = {"reference", "cmsis-nn", "esp-nn"}
KNOWN_CYCLE_COUNTERS = {"dwt", "ccount", "none"}
KNOWN_PROFILERS = {"interface", "none"}
# On top of the derived device need, which is itself an upper bound (see plan_arena); the
# harness reports the real figure from the board.
ARENA_MARGIN = 0.02


@dataclass(frozen=True)
class Runtime:
    flash_bytes: int
    ram_bytes: int
    stack_heap_reserve_bytes: int
    source: str
    static_ram_limit_bytes: int | None = None


@dataclass(frozen=True)
class PlatformIO:
    platform: str
    board: str
    framework: str
    lib_ldf_mode: str = "chain+"
    build_flags: tuple[str, ...] = ()


@dataclass(frozen=True)
class KernelBehaviours:
    """What a board's TFLM library computes differently from current TFLM (the host reference).

    ``True`` means the library computes it as the host does; ``False`` makes ``build`` refuse a
    model that depends on it (see :mod:`edgecnn.compatibility`).
    """

    per_channel_fully_connected: bool = True   # one scale per output channel of dense weights
    int8_mean_as_current: bool = True          # int8 MEAN after tflite-micro's April 2023 fix


@dataclass(frozen=True)
class TflmLibrary:
    library: str
    lib_deps: tuple[str, ...]
    version: str
    header: str
    api: str
    kernels: str
    why: str
    # builtin name -> the exact MicroMutableOpResolver method of this library, as its header
    # declares it (read from the library, never derived from the builtin's name)
    ops: dict[str, str]
    behaviours: KernelBehaviours = KernelBehaviours()
    # "interface": the library's MicroInterpreter takes a tflite::MicroProfilerInterface*, so the
    # sketch can time each operator; "none": the per-op profile is not offered.
    profiler: str = "none"

    @property
    def op_profiler(self) -> bool:
        """The sketch passes its per-op profiler to MicroInterpreter (2023 API only)."""
        return self.profiler == "interface" and self.api == "tflm-2023"


@dataclass(frozen=True)
class Board:
    name: str
    aliases: tuple[str, ...]
    title: str
    mcu: str
    core: str
    clock_hz: int
    sram_bytes: int
    flash_bytes: int
    baud: int
    usb_ids: tuple[str, ...]
    reset_on_open: str
    cycle_counter: str
    runtime: Runtime
    platformio: PlatformIO
    tflm: TflmLibrary
    path: str = ""

    @property
    def env_name(self) -> str:
        return self.name


BOARDS_ENV = "EDGECNN_BOARDS_DIR"


def boards_dir() -> Path:
    """The boards that ship with edgecnn."""
    return resource_dir("boards")


def board_dirs() -> list[Path]:
    """Where board files are read from: edgecnn's own, then $EDGECNN_BOARDS_DIR (one or more
    folders separated by the path separator)."""
    dirs = [boards_dir()]
    for entry in os.environ.get(BOARDS_ENV, "").split(os.pathsep):
        if entry.strip():
            dirs.append(Path(entry.strip()))
    return dirs


@dataclass
class BoardScan:
    boards: list  # list[Board], valid files in reading order
    # (file or folder, one line) for each that did not validate or clashed with another
    problems: list[tuple[Path, str]]

    @property
    def errors(self) -> list[str]:
        return [message for _, message in self.problems]


def scan_boards() -> BoardScan:
    """Every board file, validated; a broken or clashing file is reported, never hides others.
    edgecnn's own boards come first, so a user's file cannot take over their names."""
    boards: list[Board] = []
    problems: list[tuple[Path, str]] = []
    owner: dict[str, Path] = {}
    for folder in board_dirs():
        if folder != boards_dir() and not folder.is_dir():
            problems.append((folder, f"boards folder {folder} does not exist"))
            continue
        for path in sorted(folder.glob("*.toml")):
            try:
                board = parse_board(path)
            except BoardError as exc:
                problems.append((path, str(exc)))
                continue
            names = [board.name.lower(), *(a.lower() for a in board.aliases)]
            clash = next((n for n in names if n in owner), None)
            if clash is not None:
                problems.append((path, f"board file {path}: name or alias {clash!r} is already "
                                       f"taken by {owner[clash]}; rename it"))
                continue
            owner.update({n: path for n in names})
            boards.append(board)
    return BoardScan(boards, problems)


class _Fields:
    """Typed access to one TOML table: every wrong or missing value names file, field and type."""

    def __init__(self, table, where: str, prefix: str = ""):
        if not isinstance(table, dict):
            raise BoardError(f"{where}: [{prefix.rstrip('.')}] must be a table")
        self.table, self.where, self.prefix = table, where, prefix

    def _fail(self, key, expected):
        value = self.table.get(key)
        got = "missing" if key not in self.table else f"{type(value).__name__} {value!r}"[:80]
        raise BoardError(f"{self.where}: field {self.prefix}{key} must be {expected} ({got})")

    def str(self, key):
        value = self.table.get(key)
        if not isinstance(value, str) or not value or not _PRINTABLE.match(value):
            self._fail(key, "a non-empty string of printable characters on one line")
        return value

    def int(self, key):
        value = self.table.get(key)
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            self._fail(key, "a positive integer")
        return value

    def optional_int(self, key):
        return self.int(key) if key in self.table else None

    def bool(self, key, default):
        value = self.table.get(key, default)
        if not isinstance(value, bool):
            self._fail(key, "true or false")
        return value

    def strings(self, key, default=None, *, pattern=None):
        value = self.table.get(key, default)
        if not isinstance(value, list) or not all(isinstance(v, str) and _PRINTABLE.match(v)
                                                  for v in value):
            self._fail(key, "a list of strings of printable characters")
        if pattern is not None:
            bad = [v for v in value if not pattern.match(v)]
            if bad:
                raise BoardError(f"{self.where}: field {self.prefix}{key} has {bad[0]!r}, "
                                 f"which does not match {pattern.pattern}")
        return tuple(value)

    def choice(self, key, choices, default=None):
        value = self.table.get(key, default)
        if value not in choices:
            self._fail(key, "one of " + ", ".join(sorted(choices)))
        return value

    def sub(self, key, required=True):
        if key not in self.table and not required:
            return _Fields({}, self.where, f"{self.prefix}{key}.")
        return _Fields(self.table.get(key), self.where, f"{self.prefix}{key}.")


# Every string field may end up in C source or platformio.ini: printable ASCII on one line, so
# that nothing starts a new line or section; fields rendered into C literals or comments also
# exclude quotes, backslashes and ';' (_SAFE_VALUE).
_PRINTABLE = re.compile(r"^[\x20-\x7e]*\Z")
_SAFE_VALUE = re.compile(r'^[^"\\\x00-\x1f\x7f;]*\Z')
_C_METHOD = re.compile(r"^Add[A-Za-z0-9]+\Z")
_BUILTIN = re.compile(r"^[A-Z][A-Z0-9_]*\Z")
_PIO_VALUE = re.compile(r"^[A-Za-z0-9_.:/@#+=~-][A-Za-z0-9_.:/@#+=~ -]*\Z")


def parse_board(path: Path) -> Board:
    """Read and validate one board file; raise ``BoardError`` naming the file, field and type."""
    where = f"board file {path}"
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise BoardError(f"{where} cannot be read: {exc}") from None
    top = _Fields(raw, where)
    rt, pio, lib = top.sub("runtime"), top.sub("platformio"), top.sub("tflm")
    ops_table = lib.table.get("ops")
    if not isinstance(ops_table, dict) or not ops_table:
        raise BoardError(f"{where}: [tflm.ops] must be a table of BUILTIN = \"AddMethod\" "
                         "read from the library's micro_mutable_op_resolver.h")
    bad = [f"{k} = {v!r}" for k, v in ops_table.items()
           if not _BUILTIN.match(k) or not isinstance(v, str) or not _C_METHOD.match(v)]
    if bad:
        raise BoardError(f"{where}: [tflm.ops] entry {bad[0]} is not BUILTIN = \"AddMethod\"")
    beh = lib.sub("behaviours", required=False)
    safe = lambda f, key: _checked(f, key, f.str(key), _SAFE_VALUE)  # noqa: E731
    board = Board(
        name=top.str("name"), aliases=top.strings("aliases", [], pattern=BOARD_NAME),
        title=safe(top, "title"), mcu=safe(top, "mcu"), core=safe(top, "core"),
        clock_hz=top.int("clock_hz"), sram_bytes=top.int("sram_bytes"),
        flash_bytes=top.int("flash_bytes"), baud=top.int("baud"),
        usb_ids=top.strings("usb_ids", pattern=USB_ID),
        reset_on_open=top.choice("reset_on_open", {"usb-cdc", "dtr-rts", "none"}),
        cycle_counter=top.choice("cycle_counter", KNOWN_CYCLE_COUNTERS),
        runtime=Runtime(rt.int("flash_bytes"), rt.int("ram_bytes"),
                        rt.int("stack_heap_reserve_bytes"), rt.str("source"),
                        rt.optional_int("static_ram_limit_bytes")),
        platformio=PlatformIO(_checked(pio, "platform", pio.str("platform"), _PIO_VALUE),
                              _checked(pio, "board", pio.str("board"), _PIO_VALUE),
                              pio.choice("framework", {"arduino"}),
                              pio.choice("lib_ldf_mode", {"off", "chain", "deep", "chain+",
                                                          "deep+"}, "chain+"),
                              pio.strings("build_flags", [], pattern=_PIO_VALUE)),
        tflm=TflmLibrary(safe(lib, "library"), lib.strings("lib_deps", pattern=_PIO_VALUE),
                         safe(lib, "version"),
                         _checked(lib, "header", lib.str("header"), re.compile(r"^[\w./-]+\.h\Z")),
                         lib.choice("api", KNOWN_APIS), lib.choice("kernels", KNOWN_KERNELS),
                         lib.str("why"), dict(ops_table),
                         KernelBehaviours(beh.bool("per_channel_fully_connected", True),
                                          beh.bool("int8_mean_as_current", True)),
                         lib.choice("profiler", KNOWN_PROFILERS, "none")),
        path=str(path))
    problems = []
    if not BOARD_NAME.match(board.name) or board.name != path.stem:
        problems.append(f"name {board.name!r} must match the file name and use letters, "
                        "digits, '_', '.', '-'")
    if not board.tflm.lib_deps:
        problems.append("tflm.lib_deps must name the pinned TFLM library")
    if (board.runtime.flash_bytes >= board.flash_bytes
            or board.runtime.ram_bytes >= board.sram_bytes):
        problems.append("runtime estimates must be smaller than the board's memories")
    if problems:
        raise BoardError(f"{where} is invalid: " + "; ".join(problems))
    return board


def _checked(fields: _Fields, key: str, value: str, pattern) -> str:
    if not pattern.match(value):
        raise BoardError(f"{fields.where}: field {fields.prefix}{key} = {value!r} has characters "
                         "that cannot go into generated C or platformio.ini")
    return value


def list_boards() -> list[Board]:
    return scan_boards().boards


def load_board(name: str) -> Board:
    """Find a board by name or alias (case-insensitive) among the valid board files."""
    scan = scan_boards()
    if not isinstance(name, str) or not BOARD_NAME.match(name):
        raise BoardError(f"{name!r} is not a board name; choose one of {_names(scan)}")
    key = name.lower()
    for board in scan.boards:
        if key == board.name.lower() or key in (a.lower() for a in board.aliases):
            return board
    broken = next((message for path, message in scan.problems
                   if path.suffix == ".toml" and path.stem.lower() == key), None)
    if broken is not None:
        raise BoardError(broken)
    raise BoardError(f"unknown board {name!r}; choose one of {_names(scan)} (see `edgecnn boards`)")


def _names(scan: BoardScan) -> str:
    return ", ".join(f"{b.name} ({', '.join(b.aliases)})" if b.aliases else b.name
                     for b in scan.boards)


# --- arena planning -------------------------------------------------------------------------

def kernel_scratch_bytes(layer, kernels: str) -> int:
    """Scratch buffer an optimized kernel requests for one int8 layer (0 for reference kernels).

    CMSIS-NN as bundled with the Nano's library (7948b85; Cortex-M4 with DSP, no MVE), from its
    ``*_get_buffer_size`` functions as TFLM's cmsis_nn kernels call them:
    CONV_2D: a 1x1 kernel with stride 1 none (arm_convolve_1x1_s8_fast), otherwise
    2 * in_ch * kh * kw int16 values (arm_convolve_s8 / 1_x_n); DEPTHWISE_CONV_2D with depth
    multiplier 1: in_ch * kh * kw int16 values, 3x3 included (arm_depthwise_conv_s8_opt);
    AVERAGE_POOL_2D: in_ch int32 values. FULLY_CONNECTED and the rest: none.
    """
    if kernels != "cmsis-nn" or not layer.input_shape or not layer.kernel:
        return 0
    in_ch = layer.input_shape[-1]
    kh, kw = layer.kernel
    if layer.op == "CONV_2D":
        return 0 if (kh, kw) == (1, 1) and tuple(layer.stride or (1, 1)) == (1, 1) \
            else 2 * in_ch * kh * kw * 2
    if layer.op == "DEPTHWISE_CONV_2D":
        return in_ch * kh * kw * 2 if layer.output_shape[-1] == in_ch else 0
    if layer.op == "AVERAGE_POOL_2D":
        return in_ch * 4
    return 0


@dataclass
class ArenaPlan:
    host_bytes: int            # TFLM recording allocator on this 64-bit host
    host_32bit_bytes: int      # the same, with 32-bit struct sizes
    scratch_bytes: int         # largest optimized-kernel scratch buffer
    scratch_layer: str
    device_need_bytes: int     # host_32bit + scratch
    allocated_bytes: int       # device need + margin, 16-byte multiple
    margin: float
    kernels: str
    method: str = ("device need = host recording-allocator figure with 32-bit struct sizes + "
                   "the largest scratch buffer the board's optimized kernels request; allocated "
                   "= need + margin, rounded up to 16 bytes")


def plan_arena(analysis, board: Board, margin: float = ARENA_MARGIN) -> ArenaPlan:
    if analysis.arena is None:
        raise ValueError("analysis was made without the arena measurement")
    scratch = [(kernel_scratch_bytes(r, board.tflm.kernels), r.name) for r in analysis.layers]
    biggest, where = max(scratch, default=(0, ""))
    need = analysis.arena.device_32bit + biggest
    allocated = int(math.ceil(need * (1 + margin) / 16.0)) * 16
    return ArenaPlan(analysis.arena.host.total, analysis.arena.device_32bit, biggest,
                     where.split(";")[0] if biggest else "", need, allocated, margin,
                     board.tflm.kernels)


# --- fit check ------------------------------------------------------------------------------

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
        a = self.arena
        lines.append(f"arena: {a.allocated_bytes:,} B allocated = device need "
                     f"{a.device_need_bytes:,}"
                     f" B (host {a.host_bytes:,} B -> 32-bit {a.host_32bit_bytes:,} B + "
                     f"{a.kernels} scratch {a.scratch_bytes:,} B) + {a.margin:.0%} margin")
        return "\n".join(lines)

    def failure_message(self) -> str:
        over = "; ".join(f"{r.resource} needs {r.used:,} B of {r.available:,} B "
                         f"(over by {r.used - r.available:,} B)" for r in self.rows if not r.ok)
        return (f"the model does not fit {self.board}: {over}. Options: "
                + "; ".join(self.suggestions) + ". Use --force to build anyway")


def check_fit(analysis, board: Board, arena: ArenaPlan | None = None) -> FitReport:
    """Flash and RAM budgets of ``analysis`` on ``board``, with concrete options if over."""
    arena = arena or plan_arena(analysis, board)
    rt = board.runtime
    rows = [
        FitRow("flash", analysis.flash_bytes + rt.flash_bytes, board.flash_bytes,
               f"model {analysis.flash_bytes:,} + core and TFLM ~{rt.flash_bytes:,} (estimate)"),
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
