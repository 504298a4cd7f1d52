"""The MLPerf Tiny protocol, as a bench session: the MLCommons runner's performance mode (or,
with a data set, its accuracy mode) against the project's firmware, every result checked
against the host reference computed with the benchmark's own conversions."""
from __future__ import annotations

import statistics
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ..errors import EdgecnnError
from .inputs import reference, verification_inputs
from .link import open_port
from .mlperf import WINDOW_S, runs_for_window
from .project import Project
from .records import BenchReport, LinkStats, MlperfFigures, MlperfWindow
from .session import Progress, Rows


@dataclass(frozen=True)
class MlperfPlan:
    """What an MLPerf Tiny session measures: the performance mode's windows, or with
    ``dataset`` the accuracy mode."""

    runs: int | None = None            # inferences a window (None: as many as window_s needs)
    warmup: int = 5
    window_s: float = WINDOW_S
    dataset: str | Path | None = None


class MlperfSession:
    """``edgecnn bench`` on MLPerf Tiny firmware, as the MLCommons runner drives it: its
    performance mode (identify, load one input with ``db``, a first measurement, five
    ``infer N W`` windows of at least ``window_s`` seconds on the DUT's own ``m-lap-us``
    clock, the median throughput), or with a data set its accuracy mode (``infer 1 0`` per
    input, Top-1 and AUC as the runner computes them); every result checked against the host
    reference computed with the benchmark's own conversions (edgecnn.mlperf_profiles)."""

    def __init__(self, port: str, project: Project, rows: Rows, report: BenchReport,
                 plan: MlperfPlan, timeout: float, progress: Progress):
        self.port, self.project, self.rows, self.report = port, project, rows, report
        self.plan, self.timeout, self.progress = plan, timeout, progress
        self.serial: Any = None
        profile = project.manifest.firmware.mlperf_profile()
        if profile is None:
            raise EdgecnnError(f"{project.path} records no MLPerf Tiny profile; rebuild it "
                               "with `edgecnn build ... --protocol mlperf-tiny --force`")
        self.profile = profile

    def open(self) -> None:
        board = self.project.manifest.board
        self.serial = open_port(self.port, board.baud, board.reset_on_open, timeout=0.05,
                                write_timeout=self.timeout, exclusive=True)

    def close(self) -> None:
        if self.serial is not None:
            self.serial.close()
            self.serial = None

    def link_stats(self) -> LinkStats:
        # The runner's protocol has nothing to count: its client resynchronises on nothing,
        # survives no reset and stops at the first line it cannot use.
        return LinkStats(0, 0, 0, 0)

    def run(self) -> None:
        from .mlperf import MlperfClient, identify, mlperf_session

        m = self.project.manifest.model
        client = MlperfClient(self.serial, self.timeout)
        if self.plan.dataset is not None:
            from .mlperf_dataset import mlperf_accuracy, read_runner_dataset

            data = read_runner_dataset(self.plan.dataset, self.profile.model)
            name, dut_profile = identify(client)
            self._identified(name)
            accuracy = mlperf_accuracy(
                client, data, self.profile, m.input, m.output, reference(self.project),
                on_result=lambda row: self.rows.write("mlperf_result", **row),
                progress=lambda done, total: self.progress("accuracy", done, total))
            self.report.mlperf = MlperfFigures(
                name=name, profile=dut_profile, benchmark=self.profile.description,
                input=f"{accuracy.files} files of {accuracy.dataset}",
                results_match=accuracy.results_equal == accuracy.inferences, accuracy=accuracy)
            return
        inputs, _, source = verification_inputs(self.project, 1)
        sent = self.profile.runner_bytes(inputs[0], m.input)
        expected = self.profile.expected(reference(self.project), sent, m.input, m.output)
        session = mlperf_session(client, sent, expected, self.plan.runs, self.plan.warmup,
                                 window_s=self.plan.window_s)
        self._identified(session.name)
        windows = tuple(MlperfWindow(w.runs, w.warmup, w.elapsed_us, w.throughput,
                                     tuple(w.results)) for w in session.windows)
        for i, w in enumerate(windows):
            self.rows.write("mlperf_window", window=i, **asdict(w))
        per_inference = statistics.median(w.elapsed_us / w.runs for w in windows)
        self.report.mlperf = MlperfFigures(
            name=session.name, profile=session.profile, benchmark=self.profile.description,
            input=f"{source}, sent as {self.profile.model} data", windows=windows,
            median_throughput=session.median_throughput, per_inference_us=per_inference,
            window_target_s=self.plan.window_s if self.plan.runs is None else None,
            inferences_per_10s=runs_for_window(per_inference, margin=1.1),
            expected_results=tuple(session.expected_results),
            results_match=session.results_match)

    def _identified(self, name: str | None) -> None:
        vendor = name or ""
        self.report.source = vendor.removeprefix("edgecnn-") if vendor.startswith(
            "edgecnn-") else "device"
