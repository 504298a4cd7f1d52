"""Boards are data: one TOML file per board in ``boards/``. This module loads and validates them
(the arena a runtime needs is planned in :mod:`edgecnn.runtimes`, the fit checked in
:mod:`edgecnn.fit`).

Example:
    >>> from edgecnn.boards import load_board
    >>> load_board("nano33").mcu
    'nRF52840'
"""
from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

from .errors import BoardError
from .resources import resource_dir
from .runtimes import runtime_names

BOARD_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}\Z")
USB_ID = re.compile(r"^[0-9A-Fa-f]{4}:[0-9A-Fa-f]{4}\Z")
KNOWN_APIS = {"tflm-2023", "error-reporter-2022"}
KNOWN_KERNELS = {"reference", "cmsis-nn", "esp-nn"}
KNOWN_CYCLE_COUNTERS = {"dwt", "ccount", "platform", "none"}
KNOWN_PROFILERS = {"interface", "none"}
KNOWN_TARGETS = {"device", "emulator"}
CYCLE_COUNTER_MACROS = {"dwt": "EDGECNN_CYCLES_DWT", "ccount": "EDGECNN_CYCLES_CCOUNT",
                        "platform": "EDGECNN_CYCLES_PLATFORM", "none": "EDGECNN_CYCLES_NONE"}
ARDUINO_PLATFORM = "arduino"
# Native USB CDC does not reset the board when the port opens: the firmware waits this long at
# boot for the host, so that the boot lines are seen.
USB_SERIAL_WAIT_MS = 3000


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
    model that depends on it (see :mod:`edgecnn.runtimes.tflm_compat`).
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
class Emulator:
    """How an emulated board is built and run (``[emulator]``)."""

    qemu: str                      # the QEMU program, e.g. qemu-system-arm
    machine: str                   # its -M machine, e.g. mps2-an386
    compiler_flags: tuple[str, ...]  # for arm-none-eabi-gcc, e.g. -mcpu=cortex-m4
    linker_script: str             # in the platform folder


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
    platformio: PlatformIO | None          # None: not a PlatformIO board (the emulator)
    tflm: TflmLibrary | None               # None: the board has no TFLM library pinned
    path: str = ""
    runtimes: tuple[str, ...] = ("tflm",)   # edgecnn's runtimes for this board, default first
    target: str = "device"                  # what the firmware says it runs on
    # the platform implementation: "arduino" (an Arduino core under PlatformIO), or a folder
    # of firmware/ with start-up code, linker script and edgecnn_platform_*.c
    platform: str = ARDUINO_PLATFORM
    emulator: Emulator | None = None

    @property
    def env_name(self) -> str:
        return self.name

    @property
    def clock_mhz(self) -> int:
        return self.clock_hz // 1_000_000

    @property
    def usb_serial_wait_ms(self) -> int:
        return USB_SERIAL_WAIT_MS if self.reset_on_open == "usb-cdc" else 0

    @property
    def cycle_counter_macro(self) -> str:
        return CYCLE_COUNTER_MACROS[self.cycle_counter]


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

    def str(self, key, default=None):
        value = self.table.get(key, default)
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
    runtimes = top.strings("runtimes", [runtime_names()[0]])
    platform = _checked(top, "platform", top.str("platform", ARDUINO_PLATFORM),
                        re.compile(r"^[a-z0-9_]+(/[a-z0-9_]+)*\Z"))
    rt = top.sub("runtime")
    safe = lambda f, key: _checked(f, key, f.str(key), _SAFE_VALUE)  # noqa: E731
    # the board file's [tflm] section pins the TFLM library (data for the TFLM runtime)
    tflm = _tflm(top.sub("tflm"), where, safe) if "tflm" in runtimes else None
    platformio = (_platformio(top.sub("platformio")) if platform == ARDUINO_PLATFORM
                  else None)
    emu = top.sub("emulator", required=False)
    emulator = (Emulator(_checked(emu, "qemu", emu.str("qemu"), _PIO_VALUE),
                         _checked(emu, "machine", emu.str("machine"), _PIO_VALUE),
                         emu.strings("compiler_flags", pattern=_PIO_VALUE),
                         _checked(emu, "linker_script", emu.str("linker_script"), _PIO_VALUE))
                if "emulator" in top.table else None)
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
        platformio=platformio, tflm=tflm, path=str(path), runtimes=runtimes,
        target=top.choice("target", KNOWN_TARGETS, "device"), platform=platform,
        emulator=emulator)
    problems = []
    known = runtime_names()
    unknown = [r for r in board.runtimes if r not in known]
    if unknown or not board.runtimes:
        problems.append(f"runtimes {list(board.runtimes)} must name one or more of "
                        f"{sorted(known)}")
    if not BOARD_NAME.match(board.name) or board.name != path.stem:
        problems.append(f"name {board.name!r} must match the file name and use letters, "
                        "digits, '_', '.', '-'")
    if board.tflm is not None and not board.tflm.lib_deps:
        problems.append("tflm.lib_deps must name the pinned TFLM library")
    if board.platform != ARDUINO_PLATFORM and not (resource_dir("firmware") / board.platform
                                                   ).is_dir():
        problems.append(f"platform {board.platform!r} is not a folder of edgecnn's firmware/")
    if board.target == "emulator" and board.emulator is None:
        problems.append("an emulated board needs an [emulator] table (qemu, machine, "
                        "compiler_flags, linker_script)")
    if (board.runtime.flash_bytes >= board.flash_bytes
            or board.runtime.ram_bytes >= board.sram_bytes):
        problems.append("runtime estimates must be smaller than the board's memories")
    if problems:
        raise BoardError(f"{where} is invalid: " + "; ".join(problems))
    return board


def _tflm(lib: _Fields, where: str, safe) -> TflmLibrary:
    ops_table = lib.table.get("ops")
    if not isinstance(ops_table, dict) or not ops_table:
        raise BoardError(f"{where}: [tflm.ops] must be a table of BUILTIN = \"AddMethod\" "
                         "read from the library's micro_mutable_op_resolver.h")
    bad = [f"{k} = {v!r}" for k, v in ops_table.items()
           if not _BUILTIN.match(k) or not isinstance(v, str) or not _C_METHOD.match(v)]
    if bad:
        raise BoardError(f"{where}: [tflm.ops] entry {bad[0]} is not BUILTIN = \"AddMethod\"")
    beh = lib.sub("behaviours", required=False)
    return TflmLibrary(safe(lib, "library"), lib.strings("lib_deps", pattern=_PIO_VALUE),
                       safe(lib, "version"),
                       _checked(lib, "header", lib.str("header"), re.compile(r"^[\w./-]+\.h\Z")),
                       lib.choice("api", KNOWN_APIS), lib.choice("kernels", KNOWN_KERNELS),
                       lib.str("why"), dict(ops_table),
                       KernelBehaviours(beh.bool("per_channel_fully_connected", True),
                                        beh.bool("int8_mean_as_current", True)),
                       lib.choice("profiler", KNOWN_PROFILERS, "none"))


def _platformio(pio: _Fields) -> PlatformIO:
    return PlatformIO(_checked(pio, "platform", pio.str("platform"), _PIO_VALUE),
                      _checked(pio, "board", pio.str("board"), _PIO_VALUE),
                      pio.choice("framework", {"arduino"}),
                      pio.choice("lib_ldf_mode", {"off", "chain", "deep", "chain+", "deep+"},
                                 "chain+"),
                      pio.strings("build_flags", [], pattern=_PIO_VALUE))


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
