"""What a finished (or stopped) bench run amounts to: which stages lost rows, and whether every
output compared equals the host reference, in one sentence."""
from __future__ import annotations

from .records import BenchReport, Verdict


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
