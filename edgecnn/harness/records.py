"""The typed records of a bench report (``report.json`` is ``BenchReport.to_dict()``)."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from .link import Identification
from .mlperf import WINDOW_S


@dataclass(frozen=True)
class Stats:
    """Summary of a list of numbers."""

    count: int
    min: float
    mean: float
    p50: float
    p90: float
    p99: float
    max: float
    std: float

    @classmethod
    def of(cls, values) -> Stats | None:
        """None for an empty list."""
        a = np.asarray(values, dtype=np.float64)
        if a.size == 0:
            return None
        p50, p90, p99 = np.percentile(a, [50, 90, 99])
        return cls(int(a.size), float(a.min()), float(a.mean()), float(p50), float(p90),
                   float(p99), float(a.max()), float(a.std()))


@dataclass(frozen=True)
class ProjectSummary:
    path: str
    board: str
    board_title: str
    model: str
    sha256: str
    model_bytes: int
    macs: int | None
    params: int | None
    runtime: str
    protocol: str
    tflm: str
    kernels: str
    edgecnn_version: str


@dataclass(frozen=True)
class ArenaFigures:
    allocated_bytes: int
    used_bytes: int
    headroom_bytes: int
    planned_need_bytes: int
    source: str


@dataclass(frozen=True)
class SelfCheck:
    passed: int
    total: int
    received: int
    source: str
    all_bitexact: bool


@dataclass(frozen=True)
class Latency:
    us: Stats | None
    cycles: Stats | None               # None when the firmware has no working cycle counter
    cycles_unavailable: str | None     # why not
    source: str
    clock: str


@dataclass(frozen=True)
class Runs:
    requested: int
    received: int
    lost: int
    segments: int
    warmup: int


@dataclass(frozen=True)
class OpTiming:
    op: int
    tag: str
    us: int
    cycles: int
    share: float = 0.0


@dataclass(frozen=True)
class Profile:
    available: bool
    reason: str | None = None
    ops: tuple[OpTiming, ...] = ()
    invoke_us: int | None = None
    invoke_cycles: int | None = None
    sum_op_us: int | None = None
    complete: bool | None = None


@dataclass(frozen=True)
class Verification:
    source: str
    requested: int
    checked: int
    bitexact: int
    mismatched: int                    # all of them, always
    all_bitexact: bool
    max_diff: int
    device_accuracy: float | None
    host_accuracy: float | None
    mismatched_samples: tuple[int, ...]   # the first few by index (the count is complete)
    latency_us: Stats | None


@dataclass(frozen=True)
class MlperfWindow:
    runs: int
    warmup: int
    elapsed_us: int
    throughput: float
    results: tuple[float, ...]


@dataclass(frozen=True)
class MlperfAccuracy:
    """The runner's accuracy mode over a data set in its layout, scored as the runner does."""

    dataset: str
    files: int
    inferences: int                    # segments run (ad01 sends several per file)
    results_equal: int                 # of them, m-results equal to the host reference
    mismatched_files: tuple[str, ...]  # the first few
    top1_percent: float                # the runner's "Top 1%"
    auc: float | None
    auc_unavailable: str | None
    host_top1_percent: float           # the same scores from the host reference's results
    host_auc: float | None


@dataclass(frozen=True)
class MlperfFigures:
    name: str | None
    profile: dict[str, str]
    benchmark: str                     # the profile: what db bytes are, what m-results holds
    input: str                         # what the performance windows ran on
    windows: tuple[MlperfWindow, ...] = ()
    median_throughput: float | None = None
    per_inference_us: float | None = None
    window_target_s: float | None = None     # the shortest window asked for
    inferences_per_10s: int | None = None    # what "infer N" lasts 10 s on this DUT
    expected_results: tuple[str, ...] = ()
    results_match: bool = True         # every m-results compared equals the host reference
    accuracy: MlperfAccuracy | None = None

    @property
    def windows_valid(self) -> bool:
        """Every window lasted the runner's 10 s (a valid performance submission)."""
        return bool(self.windows) and all(w.elapsed_us >= WINDOW_S * 1e6 for w in self.windows)


@dataclass(frozen=True)
class FirmwareMemory:
    """The firmware's sections, from ``arm-none-eabi-size -A`` of the ELF that ran."""

    text: int
    rodata: int
    data: int
    bss: int
    elf: str


@dataclass(frozen=True)
class LinkStats:
    noise_lines: int = 0
    resynced_lines: int = 0
    resets: int = 0
    protocol_errors: int = 0


@dataclass(frozen=True)
class Verdict:
    outputs_match: bool | None         # None when nothing was compared
    summary: str


@dataclass
class BenchReport:
    """The figures of one run; ``to_dict()`` is report.json."""

    # "device", "virtual" or "emulator": what the firmware said it runs on ("unknown" until
    # it answered), never inferred from the port's name
    source: str = "unknown"
    status: str = "running"           # "complete" or "partial"
    error: str | None = None
    verdict: Verdict | None = None
    started: str = ""
    finished: str = ""
    port: str = ""
    project: ProjectSummary | None = None
    device: Identification | None = None
    arena: ArenaFigures | None = None
    selfcheck: SelfCheck | None = None
    latency: Latency | None = None
    runs: Runs | None = None
    profile: Profile | None = None
    verify: Verification | None = None
    mlperf: MlperfFigures | None = None
    memory: FirmwareMemory | None = None
    link: LinkStats | None = None
    files: dict[str, str] = field(default_factory=dict)
    samples_us: list[int] = field(default_factory=list, repr=False)
    samples_cycles: list[int] = field(default_factory=list, repr=False)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d.pop("samples_us")
        d.pop("samples_cycles")
        return d
