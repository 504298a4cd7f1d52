"""harness/verdict.py: what a run amounts to, from its typed report alone."""
from __future__ import annotations

from edgecnn.harness.records import (
    BenchReport,
    MlperfFigures,
    MlperfWindow,
    Profile,
    Runs,
    SelfCheck,
    Verification,
)
from edgecnn.harness.verdict import incomplete_stages, verdict


def _verification(checked: int, mismatched: int, requested: int | None = None,
                  max_diff: int = 0) -> Verification:
    return Verification("vectors", requested or checked, checked, checked - mismatched,
                        mismatched, mismatched == 0, max_diff, None, None, (), None)


def test_nothing_compared_is_no_verdict():
    v = verdict(BenchReport())
    assert v.outputs_match is None and "no outputs were compared" in v.summary


def test_all_equal_names_every_comparison():
    report = BenchReport(selfcheck=SelfCheck(4, 4, 4, "vectors", True),
                         verify=_verification(20, 0))
    v = verdict(report)
    assert v.outputs_match is True
    assert v.summary == ("outputs equal the host reference: self-check 4 of 4 vectors "
                         "received bit-exact; all 20 verified outputs bit-exact")


def test_one_differing_output_anywhere_fails_the_verdict():
    report = BenchReport(selfcheck=SelfCheck(4, 4, 4, "vectors", True),
                         verify=_verification(20, 3, max_diff=1))
    v = verdict(report)
    assert v.outputs_match is False
    assert v.summary.startswith("OUTPUTS DIFFER")
    assert v.summary.endswith("outputs differ on 3 of 20 samples, max 1 step")


def test_mlperf_results_that_differ_fail_the_verdict():
    window = MlperfWindow(10, 1, 1000, 10.0, (0.5, 0.5))
    report = BenchReport(mlperf=MlperfFigures("x", {}, "b", "i", windows=(window,) * 5,
                                              results_match=False))
    assert verdict(report).outputs_match is False
    report.mlperf = MlperfFigures("x", {}, "b", "i", windows=(window,) * 5)
    assert "all 5 infer windows" in verdict(report).summary


def test_incomplete_stages_name_what_did_not_arrive():
    report = BenchReport(selfcheck=SelfCheck(3, 4, 3, "vectors", False),
                         runs=Runs(100, 97, 3, 1, 5), verify=_verification(8, 0, requested=10),
                         profile=Profile(True, complete=False))
    assert incomplete_stages(report) == [
        "3 of 4 self-check rows arrived", "97 of 100 timed runs arrived",
        "8 of 10 verified outputs arrived", "the per-operator profile lost rows"]
    assert incomplete_stages(BenchReport(runs=Runs(100, 100, 0, 1, 5))) == []
