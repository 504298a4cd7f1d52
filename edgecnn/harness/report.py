"""Report files of a bench run: JSON, CSV of raw samples, Markdown summary, PNG plots."""
from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from ..fsutil import atomic_write_bytes, atomic_write_text


def report_paths(out_json: Path) -> dict[str, Path]:
    """Every file a bench writes for ``out_json``, by kind: the one place they are named."""
    out_json = Path(out_json)
    paths = {kind: out_json.with_suffix("." + kind) for kind in ("json", "jsonl", "csv", "md")}
    for plot in ("latency", "profile"):
        paths[f"{plot}_png"] = out_json.with_name(f"{out_json.stem}_{plot}.png")
    return paths


def write_reports(report, out_json: Path) -> dict:
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


def samples_csv(report) -> str:
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


def markdown(report) -> str:
    p, d = report.project, report.device
    label = {"virtual": "VIRTUAL BOARD (host timings, not a microcontroller)",
             "emulator": "EMULATOR (instruction counts, not device time)"}.get(
        report.source, f"{p.get('board_title', '')} on {report.port}")
    lines = [f"# edgecnn bench: {p.get('model', '?')} on {label}", ""]
    if report.verdict:
        strong = "**" if report.verdict.get("outputs_match") is False else ""
        lines += [f"{strong}{report.verdict['summary']}{strong}.", ""]
    if report.status != "complete":
        lines += [f"**Partial report**: {report.error}", ""]
    lines += ["| | |", "|---|---|",
              f"| source | {report.source} |",
              f"| board | {d.get('board', '–')} ({d.get('kernels', '–')} kernels, "
              f"{_fmt(d.get('clock_hz')) + ' Hz' if d.get('clock_hz') else 'host clock'}) |",
              f"| model | {p.get('model')} · {_fmt(p.get('model_bytes'))} B · "
              f"sha256 {str(p.get('sha256', ''))[:16]}… |",
              f"| MACs / params | {_fmt(p.get('macs'))} / {_fmt(p.get('params'))} |",
              f"| started | {report.started} |", ""]
    a = report.arena
    if a:
        lines += ["## Tensor arena", "", "| allocated | used | headroom | planned need |",
                  "|---:|---:|---:|---:|",
                  f"| {_fmt(a['allocated_bytes'])} B | {_fmt(a['used_bytes'])} B | "
                  f"{_fmt(a['headroom_bytes'])} B | {_fmt(a['planned_need_bytes'])} B |", "",
                  f"Source: {a['source']}.", ""]
    lat = report.latency
    if lat.get("us"):
        r = report.runs
        lines += ["## Latency", "",
                  f"{r['received']} of {r['requested']} timed runs received "
                  f"({r['lost']} lost, {r['warmup']} warm-up), {lat['clock']}.", "",
                  "| | min | mean | p50 | p90 | p99 | max |", "|---|---:|---:|---:|---:|---:|---:|"]
        for unit in ("us", "cycles"):
            s = lat.get(unit)
            if s:
                lines.append(f"| {unit} | " + " | ".join(_fmt(s[k]) for k in
                                                         ("min", "mean", "p50", "p90", "p99",
                                                          "max")) + " |")
        if "latency_png" in report.files:
            lines += ["", f"![latency histogram]({Path(report.files['latency_png']).name})"]
        lines.append("")
    sc = report.selfcheck
    if sc:
        lines += ["## Self-check", "",
                  f"{sc['passed']} of {sc['total']} embedded test vectors bit-exact with the "
                  f"host TFLM interpreter ({sc['source']}).", ""]
    prof = report.profile
    if prof:
        lines += ["## Per-op profile", ""]
        if prof.get("available"):
            lines += ["| # | op | µs | cycles | share |", "|---:|---|---:|---:|---:|"]
            lines += [f"| {r['op']} | {r['tag']} | {_fmt(r['us'])} | {_fmt(r['cycles'])} | "
                      f"{r['share'] * 100:.1f} % |" for r in prof["ops"]]
            if "profile_png" in report.files:
                lines += ["", f"![per-op profile]({Path(report.files['profile_png']).name})"]
        else:
            lines.append(f"Not available: {prof.get('reason')}.")
        lines.append("")
    v = report.verify
    if v:
        acc = (f"; accuracy on the board {v['device_accuracy'] * 100:.2f} % (host "
               f"{v['host_accuracy'] * 100:.2f} %)" if v.get("device_accuracy") is not None
               else "")
        lines += ["## Verification", "",
                  f"{v['bitexact']} of {v['checked']} outputs bit-exact with the host TFLM "
                  f"interpreter, {v['mismatched']} differ (max difference {v['max_diff']})"
                  f"{acc}. Inputs: {v['source']}.", ""]
        if v["mismatched"]:
            listed = v["mismatched_samples"]
            lines += [f"Differing samples (first {len(listed)} of {v['mismatched']}): "
                      + ", ".join(map(str, listed)), ""]
    link = report.link
    if link:
        lines += [f"Link: {link.get('noise_lines', 0)} noise lines skipped, "
                  f"{link.get('resynced_lines', 0)} lines recovered from behind noise, "
                  f"{link.get('resets', 0)} board resets survived.", ""]
    return "\n".join(lines)


def _plots(report, paths: dict[str, Path]) -> dict:
    """PNG plots (the report module's matplotlib figures); returns the files written."""
    if not report.samples_us and not report.profile.get("available"):
        return {}
    from ..reporting import figures as F

    written = {}
    tag = " (virtual board: host timings)" if report.source == "virtual" else ""
    if report.samples_us:
        stats = report.latency["us"]
        fig = F.histogram(report.samples_us, {k: stats[k] for k in ("p50", "p90", "p99")},
                          "Invoke() latency (µs)", f"{report.project.get('model', '')}: "
                          f"{len(report.samples_us)} runs{tag}")
        written["latency_png"] = str(paths["latency_png"])
        atomic_write_bytes(written["latency_png"], F.png_bytes(fig))
    if report.profile.get("available"):
        ops = report.profile["ops"]
        fig = F.layer_bars([f"{r['op']} {r['tag']}" for r in ops], [r["us"] for r in ops],
                           "µs per operator", f"per-op profile{tag}")
        written["profile_png"] = str(paths["profile_png"])
        atomic_write_bytes(written["profile_png"], F.png_bytes(fig))
    return written


def load_bench_report(path: str | Path) -> dict:
    """A saved report.json with its raw latency samples (from the CSV beside it) as
    ``samples_us``; raise ``EdgecnnError`` when it is not a bench report."""
    from ..errors import EdgecnnError

    path = Path(path)
    try:
        data = json.loads(path.read_text())
        source = data["source"]
    except (OSError, ValueError, KeyError, TypeError):
        raise EdgecnnError(f"{path} is not a report.json written by `edgecnn bench`") from None
    csv_path = path.with_name(data.get("files", {}).get("csv", path.with_suffix(".csv").name))
    samples = []
    if csv_path.is_file():
        with open(csv_path, newline="") as f:
            samples = [int(row["us"]) for row in csv.DictReader(f)]
    data["samples_us"] = samples
    data["source"] = source
    return data
