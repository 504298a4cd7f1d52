"""``edgecnn bench``: measure a flashed project on its board (or on the virtual board).

Everything measured is appended to ``report.jsonl`` the moment it arrives, so a run that dies
midway keeps its rows; the summary files (JSON, CSV, Markdown, PNG) are written at the end,
and also after a failure, marked ``"status": "partial"``.

Example:
    >>> from edgecnn.harness import bench
    >>> report = bench("nano33ble_edge_cnn", port="virtual", runs=50)      # doctest: +SKIP
    >>> report.latency.us.p50                                          # doctest: +SKIP
    812.0
"""
from __future__ import annotations

import datetime as _dt
import json
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import (
    DeviceError,
    DeviceTimeoutError,
    EdgecnnError,
    IncompleteRunError,
    ModelMismatchError,
    ProtocolError,
    Terminated,
)
from ..fsutil import check_writable_outputs
from ..reporting.bench_report import report_paths, write_reports
from ..runtimes import get_runtime
from .link import Identification, SerialLink, open_port
from .mlperf import WINDOW_S, runs_for_window
from .project import Project, load_project
from .protocol import Message, decode_output, infer_command
from .records import (
    ArenaFigures,
    BenchReport,
    FirmwareMemory,
    Latency,
    LinkStats,
    MlperfFigures,
    MlperfWindow,
    OpTiming,
    Profile,
    ProjectSummary,
    Runs,
    SelfCheck,
    Stats,
    Verdict,
    Verification,
)
from .targets import Target, open_target

DEFAULT_RUNS = 100      # timed inferences of edgecnn's protocol
MAX_RESETS = 3          # reboots survived in one run before giving up
MAX_ATTEMPTS = 3        # tries per verification sample (lost or corrupted answers)
BOOT_TIMEOUT_S = 8.0    # a reset board prints its identification and self-check within this
MISMATCH_LIST = 50      # sample indices listed in report.json; the count is never capped
# Bounds of a believable measurement: an inference of more than an hour, or a cycle count
# beyond a 64-bit counter, is a corrupted line, never data.
US_LIMIT = 3_600_000_000
CYCLES_LIMIT = 2 ** 64 - 1
STAGE_SLACK = 16        # protocol lines beyond a stage's expected count before it is stopped


def _checked_int(m: Message, key: str, low: int, high: int) -> int | None:
    value = m.fields.get(key)
    if isinstance(value, int) and not isinstance(value, bool) and low <= value <= high:
        return value
    return None


class _Watchdog:
    """Stops a stage whose board talks but makes no progress: each stage must deliver a new
    result within the link's timeout, and at most ``expected`` + STAGE_SLACK protocol lines."""

    def __init__(self, link: SerialLink, stage: str, expected: int):
        self.link, self.stage, self.limit = link, stage, expected + STAGE_SLACK
        self.lines, self.last = 0, time.monotonic()

    def progress(self) -> None:
        self.last = time.monotonic()

    def check(self) -> None:
        self.lines += 1
        idle = time.monotonic() - self.last
        if idle > self.link.timeout:
            raise DeviceTimeoutError(
                f"the board on {self.link.port} sent {self.lines} protocol lines but no new "
                f"{self.stage} result for {idle:.0f} s")
        if self.lines > self.limit:
            raise ProtocolError(
                f"the board on {self.link.port} sent {self.lines} lines during {self.stage}, "
                f"more than the {self.limit - STAGE_SLACK} asked for; it does not follow the "
                "protocol (rebuild and flash the project)")


def cycle_counter_state(ident, samples) -> tuple[bool, str | None]:
    """Whether the cycle figures are real: the firmware must have a counter, and it must
    advance (a counter that reads 0, as DWT under QEMU, is not a figure)."""
    if ident is None or not ident.has_cycles:
        return False, "the firmware has no cycle counter"
    if samples and not any(samples):
        return False, "the cycle counter read 0 on every run (not running on this target)"
    return bool(samples), None


def incomplete_stages(report: BenchReport) -> list[str]:
    """What a run asked for and did not receive, stage by stage (empty when complete)."""
    missing = []
    sc, runs, v, prof = report.selfcheck, report.runs, report.verify, report.profile
    if sc is not None and sc.received < sc.total:
        missing.append(f"{sc.received} of {sc.total} self-check rows arrived")
    if runs is not None and runs.received < runs.requested:
        missing.append(f"{runs.received} of {runs.requested} timed runs arrived")
    if v is not None and v.checked < v.requested:
        missing.append(f"{v.checked} of {v.requested} verified outputs arrived")
    if prof is not None and prof.available and prof.complete is False:
        missing.append("the per-operator profile lost rows")
    return missing


def verdict(report: BenchReport) -> Verdict:
    """Whether every output compared (self-check vectors, verified samples) equals the host
    reference, in one sentence; ``outputs_match`` is None when nothing was compared."""
    sc, v, mp = report.selfcheck, report.verify, report.mlperf
    parts, compared, differ = [], 0, False
    if sc is not None and sc.received:
        compared += 1
        bad = sc.received - sc.passed
        differ |= bad > 0
        parts.append(f"self-check {sc.passed} of {sc.received} vectors received bit-exact"
                     if not bad else f"self-check vectors differ on {bad} of {sc.received}")
    if v is not None and v.checked:
        compared += 1
        differ |= v.mismatched > 0
        parts.append(f"all {v.checked} verified outputs bit-exact" if not v.mismatched
                     else f"outputs differ on {v.mismatched} of {v.checked} samples, "
                          f"max {v.max_diff} step{'s' if v.max_diff != 1 else ''}")
    if mp is not None and mp.windows:
        compared += 1
        differ |= not mp.results_match
        parts.append(f"m-results of all {len(mp.windows)} infer windows equal the host "
                     "reference to 3 decimals" if mp.results_match else
                     "m-results differ from the host reference to 3 decimals")
    if mp is not None and mp.accuracy is not None and mp.accuracy.inferences:
        acc = mp.accuracy
        compared += 1
        bad = acc.inferences - acc.results_equal
        differ |= bad > 0
        parts.append(f"m-results of all {acc.inferences} accuracy-mode inferences equal the "
                     "host reference to 3 decimals" if not bad else
                     f"m-results differ from the host reference on {bad} of {acc.inferences} "
                     "accuracy-mode inferences")
    if not compared:
        return Verdict(None, "no outputs were compared with the host")
    head = ("OUTPUTS DIFFER from the host reference: " if differ else
            "outputs equal the host reference: ")
    return Verdict(not differ, head + "; ".join(parts))


class _Rows:
    """report.jsonl: one JSON object per line, flushed as it is written."""

    def __init__(self, path: Path):
        self.path = path
        self._file = open(path, "a", encoding="utf-8")

    def write(self, kind: str, **values) -> None:
        self._file.write(json.dumps({"type": kind, "t": round(time.time(), 3), **values}) + "\n")
        self._file.flush()

    def close(self) -> None:
        self._file.close()


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
        elf = getattr(target, "elf", None)       # a target that built an ELF (the emulator)
        if elf is not None:
            from .emulator import elf_memory

            mem = elf_memory(elf)
            report.memory = FirmwareMemory(mem.text, mem.rodata, mem.data, mem.bss, str(elf))
        for name in ("jsonl", "json", "csv", "md"):
            report.files[name] = str(paths[name])
        Path(report.files["jsonl"]).unlink(missing_ok=True)
        rows = _Rows(Path(report.files["jsonl"]))
        link: SerialLink | _MlperfLink = SerialLink(
            port, project.manifest.board.baud,
            reset_on_open=project.manifest.board.reset_on_open, timeout=timeout)
        progress = progress or (lambda stage, done, total: None)
        if mlperf:
            link = _MlperfLink(port, project, rows, report, runs, warmup, timeout, window_s,
                               dataset, progress)
    except BaseException:
        target.stop()
        raise
    opened = False      # until the port opens nothing is measured, so no report is written
    try:
        link.open()
        opened = True
        if isinstance(link, _MlperfLink):
            link.run()
            report.status = "complete"
            return report
        run = _Run(project, target, link, rows, report, progress)
        run.connect()
        run.selfcheck()
        run.bench(runs or DEFAULT_RUNS, warmup)
        if profile:
            run.profile()
        if verify:
            run.verify(samples)
        missing = incomplete_stages(report)
        if missing:
            report.status = "incomplete"
            report.error = ("the run is incomplete: " + "; ".join(missing) + " (lost on the "
                            "link: check the cable and the baud rate, then run it again)")
            raise IncompleteRunError(report.error)
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
        link.close()
        target.stop()
        if opened:
            report.link = LinkStats(link.noise_lines, link.resynced_lines, link.resets,
                                    link.protocol_errors)
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


class _Run:
    def __init__(self, project: Project, target: Target, link: SerialLink, rows: _Rows,
                 report: BenchReport, progress):
        self.project, self.link, self.rows, self.report = project, link, rows, report
        self.target = target
        self.progress = progress
        self.ident: Identification | None = None

    # -- connection ----------------------------------------------------------------------------
    def connect(self) -> None:
        self.link.drain(quiet=0.3, limit=BOOT_TIMEOUT_S if self.project.manifest.board
                        .reset_on_open == "dtr-rts" else 2.0)
        self.ident = self.link.identify()
        self._check_identity(self.ident)
        self.report.device = self.ident
        self.report.source = self.ident.target
        self.report.arena = ArenaFigures(
            allocated_bytes=self.ident.arena_allocated, used_bytes=self.ident.arena_used,
            headroom_bytes=self.ident.arena_allocated - self.ident.arena_used,
            planned_need_bytes=self.project.manifest.arena.device_need_bytes,
            source=self.target.arena)
        self.rows.write("identification", **self.ident.to_dict())

    def _check_identity(self, ident: Identification) -> None:
        if ident.sha256 != self.project.sha256:
            raise ModelMismatchError(
                f"the board on {self.link.port} runs model {ident.sha256[:12]}…, the project "
                f"{self.project.path} has {self.project.sha256[:12]}…; flash it first "
                f"(`edgecnn flash --project {self.project.path}`)")

    def _recover_from_reset(self, message: Message) -> None:
        """An unrequested identification: the board rebooted. Wait for it, then re-check it."""
        self.link.resets += 1
        self.rows.write("reset", count=self.link.resets)
        if self.link.resets > MAX_RESETS:
            raise DeviceError(f"the board on {self.link.port} reset {self.link.resets} times "
                              "during the run; check its power supply and the model's arena")
        deadline = time.monotonic() + BOOT_TIMEOUT_S
        while time.monotonic() < deadline:
            try:
                m = self.link.read(timeout=max(0.1, deadline - time.monotonic()))
            except DeviceTimeoutError:
                break
            if m.kind == "ready":
                break
        self.ident = self.link.identify()
        self._check_identity(self.ident)

    # -- steps -----------------------------------------------------------------------------------
    def _reject(self, m: Message, reason: str) -> None:
        """A protocol line that cannot be data: counted and kept in the JSONL, never used."""
        self.link.protocol_errors += 1
        self.rows.write("protocol_error", reason=reason, line=m.text[:200])

    def selfcheck(self) -> None:
        self.link.send("selfcheck")
        vectors, seen = [], set()
        expected = max(1, len(self.project.vectors))
        watch = _Watchdog(self.link, "self-check", expected)
        while True:
            m = self.link.read()
            watch.check()
            if m.kind == "selfcheck" and "vector" in m.fields:
                index = _checked_int(m, "vector", 0, expected - 1)
                if index is None or index in seen:
                    self._reject(m, "self-check vector index out of range or repeated")
                    continue
                seen.add(index)
                row = {k: m.fields.get(k) for k in ("vector", "label", "predicted", "bitexact",
                                                    "mismatches", "max_diff", "us", "cycles")}
                vectors.append(row)
                self.rows.write("selfcheck", **row)
                watch.progress()
            elif m.kind == "selfcheck" and "done" in m.words:
                passed = _checked_int(m, "passed", 0, expected)
                total = _checked_int(m, "total", 0, expected)
                if passed is None or total is None or passed > total:
                    self._reject(m, "self-check summary with impossible counts")
                    continue
                # Only what arrived counts: the board's own summary says how many passed, but
                # a vector whose row was lost on the link was not seen here.
                seen_passed = sum(bool(v.get("bitexact")) for v in vectors)
                self.report.selfcheck = SelfCheck(
                    min(passed, seen_passed), total, len(vectors), self.project.vectors.source,
                    passed == total and len(vectors) == total and seen_passed == total)
                return
            elif m.kind == "id":
                self._recover_from_reset(m)
                return self.selfcheck()
            elif m.kind == "error":
                raise ProtocolError(f"the board refused the self-check: {m.fields['message']}")

    def bench(self, runs: int, warmup: int) -> None:
        # Rows are keyed by (segment, run): a reset starts a new segment whose run numbers
        # begin at 0 again, and they never overwrite what an earlier segment measured.
        us: dict[tuple[int, int], int] = {}
        cycles: dict[tuple[int, int], int] = {}
        requested, segments, lost = runs, 0, 0
        while len(us) < runs:
            remaining = runs - len(us)
            self.link.send(f"bench {remaining} {warmup}")
            segments += 1
            seen: set[int] = set()
            watch = _Watchdog(self.link, "benchmark", remaining + warmup)
            try:
                while True:
                    m = self.link.read()
                    watch.check()
                    if m.kind == "bench" and "run" in m.fields:
                        run = _checked_int(m, "run", 0, remaining - 1)
                        t_us = _checked_int(m, "us", 0, US_LIMIT)
                        t_cycles = _checked_int(m, "cycles", 0, CYCLES_LIMIT)
                        if run is None or t_us is None or t_cycles is None:
                            self._reject(m, f"impossible bench row (run 0..{remaining - 1}, "
                                            f"0 <= us <= {US_LIMIT}, 0 <= cycles < 2^64)")
                            continue
                        if run in seen:
                            self._reject(m, f"run {run} of segment {segments} sent again")
                            continue
                        seen.add(run)
                        us[(segments, run)], cycles[(segments, run)] = t_us, t_cycles
                        self.rows.write("bench", run=run, us=t_us, cycles=t_cycles,
                                        segment=segments)
                        self.progress("bench", len(us), runs)
                        watch.progress()
                    elif m.kind == "bench" and "done" in m.words:
                        # Rows lost on the way (garbage, dropped lines) are counted, not re-run.
                        lost += remaining - len(seen)
                        break
                    elif m.kind == "id":
                        self._recover_from_reset(m)
                        break
                    elif m.kind == "error":
                        raise ProtocolError(f"the board stopped the benchmark: "
                                            f"{m.fields['message']}")
            finally:   # after every segment, so that a failure keeps what was measured
                self._store_latency(us, cycles, requested, lost, segments, warmup)
            if lost and len(us) + lost >= runs:
                break

    def _store_latency(self, us, cycles, requested, lost, segments, warmup) -> None:
        order = sorted(us)
        self.report.samples_us = [us[k] for k in order]
        self.report.samples_cycles = [cycles[k] for k in order]
        cycles_ok, why = cycle_counter_state(self.ident, self.report.samples_cycles)
        self.report.latency = Latency(
            us=Stats.of(self.report.samples_us),
            cycles=Stats.of(self.report.samples_cycles) if cycles_ok else None,
            cycles_unavailable=why, source=self.report.source,
            clock=self.target.clock)
        self.report.runs = Runs(requested, len(order), lost, segments, warmup)

    def profile(self) -> None:
        assert self.ident is not None, "connect() identifies the board first"
        if not self.ident.has_profiler:
            self.report.profile = Profile(False, "the virtual board's host interpreter has no "
                                                 "per-op timer" if self.ident.virtual else
                                                 "this board's runtime reports no per-operator "
                                                 "events")
            return
        self.link.send("profile")
        ops: list[OpTiming] = []
        seen: set[int] = set()
        operators = max(1, self.project.manifest.firmware.operators)
        watch = _Watchdog(self.link, "profile", operators)
        while True:
            m = self.link.read()
            watch.check()
            if m.kind == "profile" and "op" in m.fields:
                op = _checked_int(m, "op", 0, operators - 1)
                t_us = _checked_int(m, "us", 0, US_LIMIT)
                t_cycles = _checked_int(m, "cycles", 0, CYCLES_LIMIT)
                if op is None or t_us is None or t_cycles is None or op in seen:
                    self._reject(m, "impossible or repeated profile row")
                    continue
                seen.add(op)
                timing = OpTiming(op, str(m.fields.get("tag", "?")), t_us, t_cycles)
                ops.append(timing)
                self.rows.write("profile", **asdict(timing))
                watch.progress()
            elif m.kind == "profile" and "done" in m.words:
                invoke_us = _checked_int(m, "us", 0, US_LIMIT)
                invoke_cycles = _checked_int(m, "cycles", 0, CYCLES_LIMIT)
                count = _checked_int(m, "ops", 0, operators)
                if invoke_us is None or invoke_cycles is None or count is None:
                    self._reject(m, "impossible profile summary")
                    continue
                total = sum(r.us for r in ops)
                shared = tuple(replace(r, share=r.us / total if total else 0.0) for r in ops)
                self.report.profile = Profile(True, None, shared, invoke_us, invoke_cycles,
                                              total, len(ops) == count)
                return
            elif m.kind == "id":
                self._recover_from_reset(m)
                return self.profile()
            elif m.kind == "error":
                self.report.profile = Profile(False, str(m.fields["message"]))
                return

    def verify(self, samples: int | None) -> None:
        inputs, labels, source = _verification_inputs(self.project, samples)
        host = _reference(self.project)
        out_dtype = np.dtype(self.project.manifest.model.output.dtype)
        out_bytes = self.project.manifest.model.output.nbytes
        results: list[dict[str, Any]] = []
        try:   # the summary is kept up to date at the end, whatever ends the loop
            for i in range(len(inputs)):
                x = inputs[i]
                payload = np.ascontiguousarray(x).tobytes()
                device_out, us = self._infer(payload, out_bytes)
                want = np.asarray(host.run(x)).reshape(-1).astype(int)
                got = np.frombuffer(device_out, dtype=out_dtype).astype(int)
                diff = np.abs(got - want)
                row = {"index": i, "label": int(labels[i]), "device_pred": int(np.argmax(got)),
                       "host_pred": int(np.argmax(want)), "bitexact": bool(not diff.any()),
                       "max_diff": int(diff.max(initial=0)), "us": us}
                results.append(row)
                self.rows.write("verify", **row)
                self.progress("verify", i + 1, len(inputs))
        finally:
            self._store_verify(results, len(inputs), source)

    def _store_verify(self, results, total, source) -> None:
        labelled = [r for r in results if r["label"] >= 0]
        self.report.verify = Verification(
            source=source, requested=total, checked=len(results),
            bitexact=sum(r["bitexact"] for r in results),
            mismatched=sum(not r["bitexact"] for r in results),
            all_bitexact=bool(results) and all(r["bitexact"] for r in results),
            max_diff=max((r["max_diff"] for r in results), default=0),
            device_accuracy=(sum(r["device_pred"] == r["label"] for r in labelled)
                             / len(labelled)) if labelled else None,
            host_accuracy=(sum(r["host_pred"] == r["label"] for r in labelled)
                           / len(labelled)) if labelled else None,
            mismatched_samples=tuple(r["index"] for r in results
                                     if not r["bitexact"])[:MISMATCH_LIST],
            latency_us=Stats.of([r["us"] for r in results]))

    def _answer_timeout(self, payload_bytes: int, out_bytes: int) -> float:
        """How long an inference answer may take: the slowest measured run plus the bytes on
        the wire, with room to spare, never more than the link's timeout."""
        slowest = max(self.report.samples_us, default=0) / 1e6
        wire = 10 * (payload_bytes + 2 * out_bytes + 64) / max(1, self.link.baud)
        if not self.report.samples_us:
            return self.link.timeout
        return min(self.link.timeout, 0.5 + 4 * slowest + 4 * wire)

    def _infer(self, payload: bytes, out_bytes: int) -> tuple[bytes, int]:
        problem = "no answer"
        timeout = self._answer_timeout(len(payload), out_bytes)
        for _ in range(MAX_ATTEMPTS):
            self.link.write(infer_command(payload))
            sent = False
            try:
                m = self._await({"infer", "error", "id"}, timeout)
                if m.kind == "id":
                    self._recover_from_reset(m)
                    continue
                if m.kind == "error" or "ready" not in m.words:
                    problem = m.fields.get("message", m.text)
                    self.link.drain(quiet=0.2, limit=3.0)
                    continue
                self.link.write(payload)
                sent = True
                m = self._await({"infer", "error", "id"}, timeout)
                if m.kind == "id":
                    self._recover_from_reset(m)
                    continue
                if m.kind == "error":
                    problem = m.fields["message"]
                    continue
                t_us = _checked_int(m, "us", 0, US_LIMIT)
                if t_us is None:
                    raise ValueError("impossible us field")
                return decode_output(m, out_bytes), t_us
            except DeviceTimeoutError:
                problem = "the answer was lost"
                if not sent:
                    # The board may be waiting for payload bytes: let its 2 s payload timeout
                    # pass before the next command, or the command would be read as payload.
                    self.link.drain(quiet=2.2, limit=4.0)
            except (ValueError, KeyError) as exc:
                self.link.protocol_errors += 1
                problem = f"a corrupted answer ({exc})"
        raise ProtocolError(f"inference on the board failed {MAX_ATTEMPTS} times: {problem}")

    def _await(self, kinds: set[str], timeout: float) -> Message:
        watch = _Watchdog(self.link, "inference", 1)
        deadline = time.monotonic() + timeout
        while True:
            m = self.link.read(timeout=max(0.05, deadline - time.monotonic()))
            watch.check()
            if m.kind in kinds:
                return m
            if time.monotonic() > deadline:
                raise DeviceTimeoutError(f"no inference answer from {self.link.port} within "
                                         f"{timeout:.1f} s")


class _MlperfLink:
    """``edgecnn bench`` on MLPerf Tiny firmware, as the MLCommons runner drives it: its
    performance mode (identify, load one input with ``db``, a first measurement, five
    ``infer N W`` windows of at least ``window_s`` seconds on the DUT's own ``m-lap-us``
    clock, the median throughput), or with a data set its accuracy mode (``infer 1 0`` per
    input, Top-1 and AUC as the runner computes them); every result checked against the host
    reference computed with the benchmark's own conversions (edgecnn.mlperf_profiles)."""

    def __init__(self, port: str, project: Project, rows: _Rows, report: BenchReport,
                 runs: int | None, warmup: int, timeout: float, window_s: float,
                 dataset: str | Path | None, progress):
        self.port, self.project, self.rows, self.report = port, project, rows, report
        self.runs, self.warmup, self.timeout = runs, warmup, timeout
        self.window_s, self.dataset, self.progress = window_s, dataset, progress
        self.serial: Any = None
        self.noise_lines = self.resynced_lines = self.resets = self.protocol_errors = 0
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

    def run(self) -> None:
        from .mlperf import MlperfClient, identify, mlperf_session

        m = self.project.manifest.model
        client = MlperfClient(self.serial, self.timeout)
        if self.dataset is not None:
            from .mlperf_dataset import mlperf_accuracy, read_runner_dataset

            data = read_runner_dataset(self.dataset, self.profile.model)
            name, dut_profile = identify(client)
            self._identified(name)
            accuracy = mlperf_accuracy(
                client, data, self.profile, m.input, m.output, _reference(self.project),
                on_result=lambda row: self.rows.write("mlperf_result", **row),
                progress=lambda done, total: self.progress("accuracy", done, total))
            self.report.mlperf = MlperfFigures(
                name=name, profile=dut_profile, benchmark=self.profile.description,
                input=f"{accuracy.files} files of {accuracy.dataset}",
                results_match=accuracy.results_equal == accuracy.inferences, accuracy=accuracy)
            return
        inputs, _, source = _verification_inputs(self.project, 1)
        sent = self.profile.runner_bytes(inputs[0], m.input)
        expected = self.profile.expected(_reference(self.project), sent, m.input, m.output)
        session = mlperf_session(client, sent, expected, self.runs, self.warmup,
                                 window_s=self.window_s)
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
            window_target_s=self.window_s if self.runs is None else None,
            inferences_per_10s=runs_for_window(per_inference, margin=1.1),
            expected_results=tuple(session.expected_results),
            results_match=session.results_match)

    def _identified(self, name: str | None) -> None:
        vendor = name or ""
        self.report.source = vendor.removeprefix("edgecnn-") if vendor.startswith(
            "edgecnn-") else "device"


def _reference(project: Project):
    """What the board must compute, on this computer: the project's runtime's reference."""
    return get_runtime(project.manifest.firmware.runtime).reference(project.model_bytes)


def _verification_inputs(project: Project, samples: int | None):
    """(int inputs shaped like the model's input, labels, description)."""
    model_in = project.manifest.model.input
    dtype = np.dtype(model_in.dtype)
    shape = model_in.shape
    meta = project.model_meta()
    if meta is not None and (meta.dataset or meta.data_dir):
        from ..quantize import dataset_for

        ds = dataset_for(meta)
        n = len(ds.x_test) if samples is None else min(samples, len(ds.x_test))
        if model_in.quant is None:
            raise EdgecnnError("the model's input is not quantized: verify needs an int8 or "
                               "uint8 input")
        q = model_in.quant.quantize(ds.x_test[:n], model_in.dtype)
        return ([s.reshape(shape) for s in q], [int(y) for y in ds.y_test[:n]],
                f"{n} samples of the {ds.name} test split")
    vectors = list(project.vectors.vectors)
    if not vectors and not samples:
        raise EdgecnnError("nothing to verify with: the project has no data set and no test "
                           "vectors")
    inputs = [np.asarray(v.input, dtype=dtype).reshape(shape) for v in vectors]
    labels = [v.label for v in vectors]
    source = f"the project's test vectors: {project.vectors.source}"
    if samples is not None and samples > len(inputs):
        # A model without data: more inputs than the test vectors are uniform random ones
        # (seeded), which prove bit-exactness as well as real ones do; made one at a time, so
        # that a large --samples costs time, not memory.
        extra = samples - len(inputs)
        source += f", then {extra} uniform random {dtype.name} inputs (seed i)"
        return _RandomInputs(inputs, extra, dtype, shape), labels + [-1] * extra, source
    n = len(inputs) if samples is None else min(samples, len(inputs))
    return inputs[:n], labels[:n], source


class _RandomInputs(Sequence):
    """The test vectors, then ``extra`` uniform random inputs, input ``i`` drawn with seed
    ``i`` when it is asked for."""

    def __init__(self, first: list, extra: int, dtype: np.dtype, shape):
        self.first, self.extra, self.dtype, self.shape = first, extra, dtype, shape

    def __len__(self) -> int:
        return len(self.first) + self.extra

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self[k] for k in range(*i.indices(len(self)))]
        if not 0 <= i < len(self):
            raise IndexError(i)
        if i < len(self.first):
            return self.first[i]
        info = np.iinfo(self.dtype)
        return np.random.default_rng(i).integers(info.min, info.max + 1, self.shape
                                                 ).astype(self.dtype)


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
