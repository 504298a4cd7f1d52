"""``edgecnn bench``: measure a flashed project on its board, on its virtual board or on the
emulator, through the session of the project's protocol.

This module owns what every session shares: checking the options and the report paths before
the board is touched, the target's lifetime, report.jsonl (every row appended the moment it
arrives, so a run that dies midway keeps its rows) and the report files at the end, also after
a failure (marked ``"status": "partial"``). What is measured, and how, is the session's
(``edgecnn_session``, ``mlperf_session``); how it reads is ``session``'s.

Example:
    >>> from edgecnn.harness import bench
    >>> report = bench("nano33ble_edge_cnn", port="virtual", runs=50)      # doctest: +SKIP
    >>> report.latency.us.p50                                          # doctest: +SKIP
    812.0
"""
from __future__ import annotations

import datetime as _dt
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

from ..errors import DeviceError, EdgecnnError, Terminated
from ..fsutil import check_writable_outputs
from ..reporting.bench_report import report_paths, write_reports
from .edgecnn_session import DEFAULT_RUNS, EdgecnnPlan, EdgecnnSession
from .mlperf import WINDOW_S
from .mlperf_session import MlperfPlan, MlperfSession
from .project import Project, load_project
from .records import BenchReport, FirmwareMemory, ProjectSummary
from .session import Progress, Rows, Session
from .targets import Target, open_target
from .verdict import verdict


def bench(project: str | Path | Project, *, port: str | None = None, runs: int | None = None,
          warmup: int = 5, verify: bool = False, samples: int | None = None,
          profile: bool = True, out: str | Path | None = None, timeout: float = 10.0,
          faults=None, progress: Callable[[str, int, int], None] | None = None,
          force: bool = False, window_s: float = WINDOW_S,
          dataset: str | Path | None = None) -> BenchReport:
    """Benchmark ``project`` on its board and write the report files; return the report.

    ``port`` is a serial port, ``"virtual"`` (start a virtual board) or None (find the board
    by its USB VID:PID). ``out`` is the report.json path (default: ``PROJECT/reports/TIME/``).
    ``progress(stage, done, total)`` is called as rows arrive. Report files that exist at
    ``out`` are replaced only with ``force`` (checked before the board is touched).
    ``runs`` is the timed inferences (default 100; an MLPerf Tiny project: as many as a
    window of ``window_s`` seconds needs on the DUT); ``dataset`` (MLPerf Tiny projects only)
    runs the runner's accuracy mode over a data set in the runner's layout instead.
    """
    if runs is not None and runs < 1:
        raise EdgecnnError("--runs must be at least 1")
    if not 0 < window_s <= 3600:
        raise EdgecnnError(f"--window {window_s}: give seconds between 0 and 3600")
    if warmup < 0:
        raise EdgecnnError("--warmup must not be negative")
    project = project if isinstance(project, Project) else load_project(project)
    mlperf = project.manifest.firmware.protocol == "mlperf-tiny"
    if dataset is not None and not mlperf:
        raise EdgecnnError(f"--dataset runs the MLPerf Tiny runner's accuracy mode; "
                           f"{project.path} speaks edgecnn's protocol: use --verify instead")
    plan: EdgecnnPlan | MlperfPlan = (
        MlperfPlan(runs, warmup, window_s, dataset) if mlperf else
        EdgecnnPlan(runs or DEFAULT_RUNS, warmup, profile, verify, samples))
    out_json = _report_path(project, out)
    paths = report_paths(out_json)
    check_writable_outputs(paths.values(), force, inputs=_project_files(project))
    created = _missing_folders(out_json.parent)
    out_json.parent.mkdir(parents=True, exist_ok=True)
    try:
        target = open_target(project, port, faults)
        port = target.start()
    except BaseException:
        _remove_empty(created)       # nothing was written: leave no empty reports/TIME/
        raise
    try:   # until the run's own try/finally below owns the target, stop it on any error
        report = BenchReport(port=port, started=_now(), project=_project_summary(project))
        report.memory = _firmware_memory(target)
        for name in ("jsonl", "json", "csv", "md"):
            report.files[name] = str(paths[name])
        Path(report.files["jsonl"]).unlink(missing_ok=True)
        rows = Rows(Path(report.files["jsonl"]))
        session = open_session(project, target, port, rows, report, plan, timeout,
                               progress or (lambda stage, done, total: None))
    except BaseException:
        target.stop()
        raise
    opened = False      # until the port opens nothing is measured, so no report is written
    try:
        session.open()
        opened = True
        session.run()
        report.status = "complete"
    except DeviceError as exc:
        if report.status != "incomplete":
            report.status, report.error = "partial", str(exc)
        if opened:
            exc.report_path = report.files["json"]
        raise
    except EdgecnnError as exc:
        report.status, report.error = "partial", str(exc)
        raise
    except KeyboardInterrupt as exc:
        report.status = "partial"
        report.error = f"stopped by {exc.name}" if isinstance(exc, Terminated) else "interrupted"
        # Python's own exception class, given the attribute DeviceError declares, for the CLI
        if opened:
            exc.report_path = report.files["json"]  # type: ignore[attr-defined]
        raise
    finally:
        session.close()
        target.stop()
        if opened:
            report.link = session.link_stats()
            report.finished = _now()
            report.verdict = verdict(report)
            rows.write("end", status=report.status, error=report.error,
                       verdict=asdict(report.verdict))
            rows.close()
            write_reports(report, out_json)
        else:
            rows.close()
            Path(report.files["jsonl"]).unlink(missing_ok=True)
            _remove_empty(created)
    return report


def open_session(project: Project, target: Target, port: str, rows: Rows, report: BenchReport,
                 plan: EdgecnnPlan | MlperfPlan, timeout: float, progress: Progress) -> Session:
    """The session of ``plan``'s protocol on ``port`` (not yet opened)."""
    if isinstance(plan, MlperfPlan):
        return MlperfSession(port, project, rows, report, plan, timeout, progress)
    return EdgecnnSession(project, target, port, rows, report, plan, timeout, progress)


def _firmware_memory(target: Target) -> FirmwareMemory | None:
    """The sections of the ELF a target built (the emulator's), or None."""
    elf = getattr(target, "elf", None)
    if elf is None:
        return None
    from .emulator import elf_memory

    mem = elf_memory(elf)
    return FirmwareMemory(mem.text, mem.rodata, mem.data, mem.bss, str(elf))


def _project_summary(project: Project) -> ProjectSummary:
    m = project.manifest
    return ProjectSummary(str(project.path), m.board.name, m.board.title, m.model.name,
                          m.model.sha256, m.model.bytes, m.model.macs, m.model.params,
                          m.firmware.runtime, m.firmware.protocol, m.tflm.name, m.arena.kernels,
                          m.edgecnn_version)


def _project_files(project: Project) -> list[Path]:
    """The project's manifest and generated files: a report never replaces one of them."""
    from ..fsutil import owned_path
    from ..manifest import MANIFEST

    files = [project.path / MANIFEST]
    for rel in project.manifest.files:
        path = owned_path(project.path, rel)
        if path is not None:
            files.append(path)
    return files


def _remove_empty(folders: list[Path]) -> None:
    """Remove the folders a run created for its report, deepest first, while they are empty."""
    for folder in folders:
        try:
            folder.rmdir()
        except OSError:
            break


def _missing_folders(folder: Path) -> list[Path]:
    """``folder`` and its ancestors that do not exist yet, deepest first."""
    missing = []
    while not folder.exists() and folder != folder.parent:
        missing.append(folder)
        folder = folder.parent
    return missing


def _report_path(project: Project, out) -> Path:
    if out is not None:
        out = Path(out)
        return out if out.suffix == ".json" else out / "report.json"
    stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    folder, n = project.path / "reports" / stamp, 1
    while folder.exists():     # two benches in one second each get their own folder
        n += 1
        folder = project.path / "reports" / f"{stamp}-{n}"
    return folder / "report.json"


def _now() -> str:
    return _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")
