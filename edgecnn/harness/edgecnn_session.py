"""edgecnn's own protocol, as a bench session: identify the board, run its self-check, time
``runs`` inferences, read its per-operator profile and (with ``verify``) compare its outputs
with the host reference sample by sample.

Results go into the :class:`~.records.BenchReport` stage by stage, as they arrive, so a run
that fails midway keeps what it measured; every row is also written to report.jsonl.
"""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np

from ..errors import (
    DeviceError,
    DeviceTimeoutError,
    IncompleteRunError,
    ModelMismatchError,
    ProtocolError,
)
from .inputs import output_difference, reference, verification_inputs
from .link import Identification, SerialLink
from .project import Project
from .protocol import Message, decode_output, infer_command
from .records import (
    ArenaFigures,
    BenchReport,
    Latency,
    LinkStats,
    OpTiming,
    Profile,
    Runs,
    SelfCheck,
    Stats,
    Verification,
)
from .session import Progress, Rows, Stage, StageEnd, Watchdog, checked_int, read_stage
from .targets import Target
from .verdict import incomplete_stages

DEFAULT_RUNS = 100      # timed inferences of edgecnn's protocol
MAX_RESETS = 3          # reboots survived in one run before giving up
MAX_ATTEMPTS = 3        # tries per verification sample (lost or corrupted answers)
BOOT_TIMEOUT_S = 8.0    # a reset board prints its identification and self-check within this
MISMATCH_LIST = 50      # sample indices listed in report.json; the count is never capped
# Bounds of a believable measurement: an inference of more than an hour, or a cycle count
# beyond a 64-bit counter, is a corrupted line, never data.
US_LIMIT = 3_600_000_000
CYCLES_LIMIT = 2 ** 64 - 1


@dataclass(frozen=True)
class EdgecnnPlan:
    """What an edgecnn-protocol session measures."""

    runs: int = DEFAULT_RUNS
    warmup: int = 5
    profile: bool = True
    verify: bool = False
    samples: int | None = None      # verified samples (None: the whole test split)


def cycle_counter_state(ident, samples) -> tuple[bool, str | None]:
    """Whether the cycle figures are real: the firmware must have a counter, and it must
    advance (a counter that reads 0, as DWT under QEMU, is not a figure)."""
    if ident is None or not ident.has_cycles:
        return False, "the firmware has no cycle counter"
    if samples and not any(samples):
        return False, "the cycle counter read 0 on every run (not running on this target)"
    return bool(samples), None


class EdgecnnSession:
    def __init__(self, project: Project, target: Target, port: str, rows: Rows,
                 report: BenchReport, plan: EdgecnnPlan, timeout: float, progress: Progress):
        board = project.manifest.board
        self.project, self.target, self.rows, self.report = project, target, rows, report
        self.plan, self.progress = plan, progress
        self.link = SerialLink(port, board.baud, reset_on_open=board.reset_on_open,
                               timeout=timeout)
        self.ident: Identification | None = None

    # -- the Session interface -----------------------------------------------------------------
    def open(self) -> None:
        self.link.open()

    def close(self) -> None:
        self.link.close()

    def link_stats(self) -> LinkStats:
        return LinkStats(self.link.noise_lines, self.link.resynced_lines, self.link.resets,
                         self.link.protocol_errors)

    def run(self) -> None:
        self.connect()
        self.selfcheck()
        self.bench(self.plan.runs, self.plan.warmup)
        if self.plan.profile:
            self.profile()
        if self.plan.verify:
            self.verify(self.plan.samples)
        missing = incomplete_stages(self.report)
        if missing:
            self.report.status = "incomplete"
            self.report.error = ("the run is incomplete: " + "; ".join(missing) + " (lost on "
                                 "the link: check the cable and the baud rate, then run it "
                                 "again)")
            raise IncompleteRunError(self.report.error)

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

    def _read(self, stage: Stage) -> StageEnd:
        return read_stage(self.link, stage, self.rows, self._recover_from_reset)

    def _restartable(self, command: str, stage: Stage, *collected) -> None:
        """Send ``command`` and read ``stage``; a board that rebooted meanwhile is asked again
        from the start, what was collected before the reboot dropped."""
        while True:
            for rows in collected:
                rows.clear()
            self.link.send(command)
            if self._read(stage) is not StageEnd.RESET:
                return

    # -- stages ----------------------------------------------------------------------------------
    def selfcheck(self) -> None:
        expected = max(1, len(self.project.vectors))
        vectors: list[dict[str, Any]] = []
        seen: set[int] = set()

        def row(m: Message) -> str | None:
            index = checked_int(m, "vector", 0, expected - 1)
            if index is None or index in seen:
                return "self-check vector index out of range or repeated"
            seen.add(index)
            values = {k: m.fields.get(k) for k in ("vector", "label", "predicted", "bitexact",
                                                   "mismatches", "max_diff", "us", "cycles")}
            vectors.append(values)
            self.rows.write("selfcheck", **values)
            return None

        def done(m: Message) -> str | None:
            passed = checked_int(m, "passed", 0, expected)
            total = checked_int(m, "total", 0, expected)
            if passed is None or total is None or passed > total:
                return "self-check summary with impossible counts"
            # Only what arrived counts: the board's own summary says how many passed, but a
            # vector whose row was lost on the link was not seen here.
            seen_passed = sum(bool(v.get("bitexact")) for v in vectors)
            self.report.selfcheck = SelfCheck(
                min(passed, seen_passed), total, len(vectors), self.project.vectors.source,
                passed == total and len(vectors) == total and seen_passed == total)
            return None

        def error(m: Message) -> None:
            raise ProtocolError(f"the board refused the self-check: {m.fields['message']}")

        self._restartable("selfcheck", Stage("self-check", "selfcheck", "vector", expected, row,
                                             done, error), vectors, seen)

    def bench(self, runs: int, warmup: int) -> None:
        # Rows are keyed by (segment, run): a reset starts a new segment whose run numbers
        # begin at 0 again, and they never overwrite what an earlier segment measured.
        us: dict[tuple[int, int], int] = {}
        cycles: dict[tuple[int, int], int] = {}
        segments, lost = 0, 0
        while len(us) < runs:
            remaining = runs - len(us)
            segments += 1
            seen: set[int] = set()

            def row(m: Message, remaining=remaining, seen=seen, segment=segments) -> str | None:
                run = checked_int(m, "run", 0, remaining - 1)
                t_us = checked_int(m, "us", 0, US_LIMIT)
                t_cycles = checked_int(m, "cycles", 0, CYCLES_LIMIT)
                if run is None or t_us is None or t_cycles is None:
                    return (f"impossible bench row (run 0..{remaining - 1}, 0 <= us <= "
                            f"{US_LIMIT}, 0 <= cycles < 2^64)")
                if run in seen:
                    return f"run {run} of segment {segment} sent again"
                seen.add(run)
                us[(segment, run)], cycles[(segment, run)] = t_us, t_cycles
                self.rows.write("bench", run=run, us=t_us, cycles=t_cycles, segment=segment)
                self.progress("bench", len(us), runs)
                return None

            def error(m: Message) -> None:
                raise ProtocolError(f"the board stopped the benchmark: {m.fields['message']}")

            self.link.send(f"bench {remaining} {warmup}")
            try:
                end = self._read(Stage("benchmark", "bench", "run", remaining + warmup, row,
                                       lambda m: None, error))
                if end is StageEnd.DONE:
                    # Rows lost on the way (garbage, dropped lines) are counted, not re-run.
                    lost += remaining - len(seen)
            finally:   # after every segment, so that a failure keeps what was measured
                self._store_latency(us, cycles, runs, lost, segments, warmup)
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
        operators = max(1, self.project.manifest.firmware.operators)
        ops: list[OpTiming] = []
        seen: set[int] = set()

        def row(m: Message) -> str | None:
            op = checked_int(m, "op", 0, operators - 1)
            t_us = checked_int(m, "us", 0, US_LIMIT)
            t_cycles = checked_int(m, "cycles", 0, CYCLES_LIMIT)
            if op is None or t_us is None or t_cycles is None or op in seen:
                return "impossible or repeated profile row"
            seen.add(op)
            timing = OpTiming(op, str(m.fields.get("tag", "?")), t_us, t_cycles)
            ops.append(timing)
            self.rows.write("profile", **asdict(timing))
            return None

        def done(m: Message) -> str | None:
            invoke_us = checked_int(m, "us", 0, US_LIMIT)
            invoke_cycles = checked_int(m, "cycles", 0, CYCLES_LIMIT)
            count = checked_int(m, "ops", 0, operators)
            if invoke_us is None or invoke_cycles is None or count is None:
                return "impossible profile summary"
            total = sum(r.us for r in ops)
            shared = tuple(replace(r, share=r.us / total if total else 0.0) for r in ops)
            self.report.profile = Profile(True, None, shared, invoke_us, invoke_cycles, total,
                                          len(ops) == count)
            return None

        def error(m: Message) -> None:
            self.report.profile = Profile(False, str(m.fields["message"]))

        self._restartable("profile", Stage("profile", "profile", "op", operators, row, done,
                                           error), ops, seen)

    def verify(self, samples: int | None) -> None:
        inputs, labels, source = verification_inputs(self.project, samples)
        host = reference(self.project)
        out_dtype = np.dtype(self.project.manifest.model.output.dtype)
        out_bytes = self.project.manifest.model.output.nbytes
        results: list[dict[str, Any]] = []
        try:   # the summary is kept up to date at the end, whatever ends the loop
            for i in range(len(inputs)):
                x = inputs[i]
                payload = np.ascontiguousarray(x).tobytes()
                device_out, us = self._infer(payload, out_bytes)
                want = np.asarray(host.run(x), dtype=out_dtype).reshape(-1)
                got = np.frombuffer(device_out, dtype=out_dtype)
                diff = output_difference(got, want)
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
                t_us = checked_int(m, "us", 0, US_LIMIT)
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
        """The next line of one of ``kinds`` (an inference's two answers are single lines,
        not a stage), within ``timeout``."""
        watch = Watchdog(self.link, "inference", 1)
        deadline = time.monotonic() + timeout
        while True:
            m = self.link.read(timeout=max(0.05, deadline - time.monotonic()))
            watch.check()
            if m.kind in kinds:
                return m
            if time.monotonic() > deadline:
                raise DeviceTimeoutError(f"no inference answer from {self.link.port} within "
                                         f"{timeout:.1f} s")
