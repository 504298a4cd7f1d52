"""Reporters of a bench run, each from the typed report: the console summary, JSON, CSV of raw
samples, Markdown, PNG plots."""
from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ..fsutil import atomic_write_bytes, atomic_write_text

if TYPE_CHECKING:
    from ..harness.records import BenchReport, MlperfFigures


def report_paths(out_json: Path) -> dict[str, Path]:
    """Every file a bench writes for ``out_json``, by kind: the one place they are named."""
    out_json = Path(out_json)
    paths = {kind: out_json.with_suffix("." + kind) for kind in ("json", "jsonl", "csv", "md")}
    for plot in ("latency", "profile"):
        paths[f"{plot}_png"] = out_json.with_name(f"{out_json.stem}_{plot}.png")
    return paths


def write_reports(report: BenchReport, out_json: Path) -> dict:
    """Write report.json/.csv/.md and the plots beside ``out_json``; return {kind: path}."""
    out_json = Path(out_json)
    paths = report_paths(out_json)
    files = report.files
    files["csv"] = str(paths["csv"])
    files["md"] = str(paths["md"])
    plots = _plots(report, paths)
    files.update(plots)
    atomic_write_text(files["csv"], samples_csv(report))
    atomic_write_text(files["md"], markdown(report))
    saved = report.to_dict()
    # Files named relative to the report, so that a report folder can be moved or published.
    saved["files"] = {k: Path(v).name for k, v in files.items()}
    atomic_write_text(out_json, json.dumps(saved, indent=2) + "\n")
    return files


def samples_csv(report: BenchReport) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["run", "us", "cycles", "source"])
    for i, (us, cycles) in enumerate(zip(report.samples_us, report.samples_cycles, strict=True)):
        writer.writerow([i, us, cycles, report.source])
    return buffer.getvalue()


def _fmt(value, digits=0) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    return f"{value:,}" if isinstance(value, int) else str(value)


def markdown(report: BenchReport) -> str:
    """report.md: the bench's sections, rendered by the page templates every report uses."""
    from .page import Figure, Section, Table, render

    p, d = report.project, report.device
    label = {"virtual": "VIRTUAL BOARD (host timings, not a microcontroller)",
             "emulator": "EMULATOR (instruction counts, not device time)"}.get(
        report.source, f"{p.board_title if p else ''} on {report.port}")
    title = f"edgecnn bench: {p.model if p else '?'} on {label}"
    lead = []
    if report.verdict:
        strong = "**" if report.verdict.outputs_match is False else ""
        lead.append(f"{strong}{report.verdict.summary}{strong}.")
    if report.status != "complete":
        lead.append(f"**Partial report**: {report.error}")
    clock = f"{_fmt(d.clock_hz)} Hz" if d and d.clock_hz else "host clock"
    summary = Table(["", ""], [
        ["source", report.source],
        ["board", f"{d.board} ({d.kernels} kernels, {clock})" if d else
         f"{p.board if p else '–'} ({p.kernels if p else '–'} kernels)"],
        ["model", f"{p.model} · {_fmt(p.model_bytes)} B · sha256 {p.sha256[:16]}…" if p
         else "–"],
        ["MACs / params", f"{_fmt(p.macs)} / {_fmt(p.params)}" if p else "–"],
        ["started", report.started]], align=["l", "l"])
    sections = [Section("Run", [], [summary])]
    a = report.arena
    if a:
        sections.append(Section("Tensor arena", [f"Source: {a.source}."], [Table(
            ["allocated", "used", "headroom", "planned need"],
            [[f"{_fmt(a.allocated_bytes)} B", f"{_fmt(a.used_bytes)} B",
              f"{_fmt(a.headroom_bytes)} B", f"{_fmt(a.planned_need_bytes)} B"]],
            align=["r"] * 4)]))
    mem = report.memory
    if mem:
        sections.append(Section("Firmware memory",
                                [f"`arm-none-eabi-size -A` of {Path(mem.elf).name}."],
                                [Table(["text", "rodata", "data", "bss"],
                                       [[f"{_fmt(mem.text)} B", f"{_fmt(mem.rodata)} B",
                                         f"{_fmt(mem.data)} B", f"{_fmt(mem.bss)} B"]],
                                       align=["r"] * 4)]))
    lat, r = report.latency, report.runs
    if lat and lat.us and r:
        counted = "instructions" if report.source == "emulator" else "cycles"
        rows = [[unit] + [_fmt(getattr(s, k)) for k in ("min", "mean", "p50", "p90", "p99",
                                                         "max")]
                for unit, s in (("us", lat.us), (counted, lat.cycles)) if s]
        figures = ([Figure(Path(report.files["latency_png"]).name, "latency histogram")]
                   if "latency_png" in report.files else [])
        sections.append(Section("Latency", [
            f"{r.received} of {r.requested} timed runs received ({r.lost} lost, {r.warmup} "
            f"warm-up), {lat.clock}."],
            [Table(["", "min", "mean", "p50", "p90", "p99", "max"], rows)], figures))
    mp = report.mlperf
    if mp and mp.windows and mp.median_throughput is not None:
        valid = ("every window lasted the runner's 10 s" if mp.windows_valid else
                 "windows shorter than the runner's 10 s: not valid for a submission")
        sections.append(Section("MLPerf Tiny (performance mode)", [
            f"DUT {mp.name}, model {mp.profile.get('model', '?')} ({mp.benchmark}); median "
            f"throughput {mp.median_throughput:,.2f} inferences/s "
            f"({mp.per_inference_us or 0:,.0f} µs each, by the DUT's m-lap-us clock); {valid}; "
            f"a 10 s window on this DUT is `infer {mp.inferences_per_10s} W`; results "
            f"{'equal' if mp.results_match else 'DIFFER FROM'} the host reference to 3 "
            f"decimals. Input: {mp.input}."],
            [Table(["window", "inferences", "µs", "inferences/s"],
                   [[str(i), str(w.runs), _fmt(w.elapsed_us), f"{w.throughput:,.2f}"]
                    for i, w in enumerate(mp.windows)])]))
    if mp and mp.accuracy is not None:
        scored = mp.accuracy
        sections.append(Section("MLPerf Tiny (accuracy mode)", [
            f"DUT {mp.name}, model {mp.profile.get('model', '?')} ({mp.benchmark}); "
            f"{scored.files} files of {scored.dataset}, {scored.inferences} inferences, "
            f"{scored.results_equal} results equal to the host reference to 3 decimals."],
            [Table(["", "Top 1%", "AUC"],
                   [["DUT", f"{scored.top1_percent:.1f}",
                     f"{scored.auc:.3f}" if scored.auc is not None else "n/a"],
                    ["host reference", f"{scored.host_top1_percent:.1f}",
                     f"{scored.host_auc:.3f}" if scored.host_auc is not None else "n/a"]])]))
    sc = report.selfcheck
    if sc:
        sections.append(Section("Self-check", [
            f"{sc.passed} of {sc.total} embedded test vectors bit-exact with the host TFLM "
            f"interpreter ({sc.received} of their rows received; {sc.source})."]))
    prof = report.profile
    if prof:
        if prof.available:
            figures = ([Figure(Path(report.files["profile_png"]).name, "per-op profile")]
                       if "profile_png" in report.files else [])
            sections.append(Section("Per-op profile", [], [Table(
                ["#", "op", "µs", "cycles", "share"],
                [[str(o.op), o.tag, _fmt(o.us), _fmt(o.cycles), f"{o.share * 100:.1f} %"]
                 for o in prof.ops], align=["r", "l", "r", "r", "r"])], figures))
        else:
            sections.append(Section("Per-op profile", [f"Not available: {prof.reason}."]))
    v = report.verify
    if v:
        acc = (f"; accuracy on the board {v.device_accuracy * 100:.2f} % (host "
               f"{(v.host_accuracy or 0) * 100:.2f} %)" if v.device_accuracy is not None
               else "")
        text = [f"{v.bitexact} of {v.checked} outputs bit-exact with the host TFLM "
                f"interpreter, {v.mismatched} differ (max difference {v.max_diff}){acc}. "
                f"Inputs: {v.source}."]
        if v.mismatched:
            text.append(f"Differing samples (first {len(v.mismatched_samples)} of "
                        f"{v.mismatched}): " + ", ".join(map(str, v.mismatched_samples)))
        sections.append(Section("Verification", text))
    link = report.link
    if link:
        sections.append(Section("Link", [
            f"{link.noise_lines} noise lines skipped, {link.resynced_lines} lines recovered "
            f"from behind noise, {link.resets} board resets survived, {link.protocol_errors} "
            "protocol errors."]))
    return render("md", title, " ".join(lead), sections)


def console_lines(report: BenchReport) -> list[str]:
    """The run's summary as ``edgecnn bench`` prints it: one labelled line per figure."""
    lines: list[str] = []
    tag = {"virtual": " (VIRTUAL board: host timings)",
           "emulator": " (EMULATOR: instruction counts, not device time)"}.get(report.source, "")
    if report.mlperf:
        _mlperf_lines(report.mlperf, report.port, tag, lines.append)
    else:
        _edgecnn_lines(report, tag, lines.append)
    lines.append(f"report    {report.files['md']}")
    return lines


def _mlperf_lines(mp: MlperfFigures, port: str, tag: str, out) -> None:
    out(f"DUT       {mp.name} ({mp.profile.get('model')}) on {port}{tag}; MLPerf Tiny "
               "protocol")
    out(f"benchmark {mp.benchmark}")
    if mp.windows and mp.median_throughput is not None and mp.per_inference_us is not None:
        seconds = [w.elapsed_us / 1e6 for w in mp.windows]
        out(f"throughput median {mp.median_throughput:,.2f} inf./s over "
                   f"{len(mp.windows)} windows of {mp.windows[0].runs} inferences, "
                   f"{min(seconds):.1f}-{max(seconds):.1f} s each "
                   f"({mp.per_inference_us:,.0f} µs an inference, by the DUT's m-lap-us clock)")
        valid = ("every window lasted 10 s: valid for the runner" if mp.windows_valid else
                 "windows shorter than the runner's 10 s: not valid for a submission")
        out(f"window    {valid}; a 10 s window here is `infer "
                   f"{mp.inferences_per_10s} W` (set it in the runner's tests_performance.yaml)")
    acc = mp.accuracy
    if acc is not None:
        auc = f"{acc.auc:.3f}" if acc.auc is not None else f"n/a ({acc.auc_unavailable})"
        host_auc = f"{acc.host_auc:.3f}" if acc.host_auc is not None else "n/a"
        out(f"accuracy  Top 1% = {acc.top1_percent:.1f}, AUC = {auc} over {acc.files} "
                   f"files ({acc.inferences} inferences); host reference: Top 1% = "
                   f"{acc.host_top1_percent:.1f}, AUC = {host_auc}")
    out(f"results   {'equal' if mp.results_match else 'DIFFER FROM'} the host "
               "reference (the benchmark's conversions), to 3 decimals")


def _edgecnn_lines(report: BenchReport, tag: str, out) -> None:
    lat, runs_info = report.latency, report.runs
    out(f"board     {report.device.board if report.device else '?'} on "
               f"{report.port}{tag}")
    a = report.arena
    if a:
        out(f"arena     used {a.used_bytes:,} of {a.allocated_bytes:,} B allocated")
    if lat and lat.us and runs_info:
        s = lat.us
        out(f"latency   p50 {s.p50:,.0f} µs, p90 {s.p90:,.0f} µs, p99 {s.p99:,.0f} µs "
                   f"({runs_info.received} of {runs_info.requested} runs"
                   f"{', ' + str(runs_info.lost) + ' lost' if runs_info.lost else ''})")
        if lat.cycles and report.source == "emulator":
            out(f"instrs    p50 {lat.cycles.p50:,.0f} instructions per inference "
                       "(emulated; virtual µs = instructions / 1000)")
        elif lat.cycles:
            out(f"cycles    p50 {lat.cycles.p50:,.0f}")
        elif lat.cycles_unavailable:
            out(f"cycles    unavailable: {lat.cycles_unavailable}")
    if report.memory:
        m = report.memory
        out(f"memory    text {m.text:,} B, rodata {m.rodata:,} B, data {m.data:,} B, "
                   f"bss {m.bss:,} B (arm-none-eabi-size -A)")
    sc = report.selfcheck
    if sc and sc.total == 0:
        out(f"selfcheck none: {sc.source}")
    elif sc:
        out(f"selfcheck {sc.passed}/{sc.total} bit-exact" if sc.received == sc.total else
                   f"selfcheck {sc.passed} of the {sc.received} of {sc.total} rows that arrived "
                   "bit-exact")
    v = report.verify
    if v:
        acc = (f", accuracy {v.device_accuracy:.4f}" if v.device_accuracy is not None else "")
        out(f"verify    {v.bitexact}/{v.checked} bit-exact{acc}")


def _plots(report: BenchReport, paths: dict[str, Path]) -> dict:
    """PNG plots (the report module's matplotlib figures); returns the files written."""
    if not report.samples_us and not (report.profile and report.profile.available):
        return {}
    from . import figures as F

    written = {}
    tag = " (virtual board: host timings)" if report.source == "virtual" else ""
    if report.samples_us and report.latency and report.latency.us:
        stats = report.latency.us
        model = report.project.model if report.project else ""
        fig = F.histogram([float(x) for x in report.samples_us],
                          {k: getattr(stats, k) for k in ("p50", "p90", "p99")},
                          "Invoke() latency (µs)", f"{model}: {len(report.samples_us)} runs{tag}")
        written["latency_png"] = str(paths["latency_png"])
        atomic_write_bytes(written["latency_png"], F.png_bytes(fig))
    if report.profile and report.profile.available:
        ops = report.profile.ops
        fig = F.layer_bars([f"{r.op} {r.tag}" for r in ops], [r.us for r in ops],
                           "µs per operator", f"per-op profile{tag}")
        written["profile_png"] = str(paths["profile_png"])
        atomic_write_bytes(written["profile_png"], F.png_bytes(fig))
    return written


@dataclass(frozen=True)
class SavedBench:
    """What a report (``edgecnn report --bench``) reads back from a saved bench report.json,
    every value checked for its type."""

    path: Path
    source: str                       # "device", "virtual", "emulator", ...
    board: str
    model_sha256: str | None          # of the .tflite the project was built from
    latency_us: dict[str, float]      # count, p50, p90, p99 (empty: no latency measured)
    arena_used_bytes: int | None
    arena_allocated_bytes: int | None
    samples_us: list[float]
    profile_ops: list[tuple[str, float]]   # (operator label, µs)
    profile_reason: str | None        # why there is no per-op profile


def load_bench_report(path: str | Path) -> SavedBench:
    """A saved report.json with its raw latency samples (from the CSV beside it); raise
    ``EdgecnnError`` when it is not a bench report or a value has the wrong type."""
    from ..errors import EdgecnnError

    path = Path(path)

    def bad(what: str) -> EdgecnnError:
        return EdgecnnError(f"{path} is not a report.json written by `edgecnn bench`: {what}")

    def number(value, what: str) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value \
                or value in (float("inf"), float("-inf")):
            raise bad(f"{what} is {str(value)[:40]!r}, not a number")
        return float(value)

    def mapping(value, what: str) -> dict:
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise bad(f"{what} is {type(value).__name__}, not an object")
        return value

    try:
        if path.stat().st_size > 64 * 1024 * 1024:
            raise bad("it is larger than 64 MiB")
        data = json.loads(path.read_text())
    except (OSError, ValueError, UnicodeDecodeError):
        raise bad("not readable JSON") from None
    data = mapping(data, "the file")
    source = data.get("source")
    if not isinstance(source, str):
        raise bad("it has no 'source'")
    project = mapping(data.get("project"), "project")
    sha = project.get("sha256")
    device = mapping(data.get("device"), "device")
    latency = mapping(mapping(data.get("latency"), "latency").get("us"), "latency.us")
    lat = {k: number(latency.get(k), f"latency.us.{k}") for k in ("count", "p50", "p90", "p99")
           } if latency else {}
    arena = mapping(data.get("arena"), "arena")
    used, allocated = arena.get("used_bytes"), arena.get("allocated_bytes")
    profile = mapping(data.get("profile"), "profile")
    ops: list[tuple[str, float]] = []
    if profile.get("available"):
        rows = profile.get("ops")
        if not isinstance(rows, list):
            raise bad("profile.ops is not a list")
        for row in rows:
            row = mapping(row, "a profile row")
            ops.append((f"{row.get('op')} {row.get('tag')}", number(row.get("us"), "profile us")))
    files = mapping(data.get("files"), "files")
    csv_name = files.get("csv")
    csv_path = path.with_name(Path(csv_name).name if isinstance(csv_name, str) and csv_name
                              else path.with_suffix(".csv").name)
    samples: list[float] = []
    if csv_path.is_file():
        try:
            with open(csv_path, newline="") as f:
                samples = [number(float(row["us"]), "a CSV latency") for row in csv.DictReader(f)]
        except (OSError, ValueError, KeyError, TypeError, UnicodeDecodeError):
            raise bad(f"its latency table {csv_path.name} is damaged") from None
    return SavedBench(
        path=path, source=source, board=str(device.get("board", "?")),
        model_sha256=sha if isinstance(sha, str) else None, latency_us=lat,
        arena_used_bytes=int(number(used, "arena.used_bytes")) if used is not None else None,
        arena_allocated_bytes=(int(number(allocated, "arena.allocated_bytes"))
                               if allocated is not None else None),
        samples_us=samples, profile_ops=ops,
        profile_reason=str(profile.get("reason")) if profile and not ops else None)
