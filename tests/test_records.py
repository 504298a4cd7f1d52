"""harness/records.py: the figures of a bench report, checked against numbers worked out by
hand (not by the numpy calls Stats.of makes)."""
from __future__ import annotations

import json

from edgecnn.harness.records import (
    BenchReport,
    LinkStats,
    MlperfFigures,
    MlperfWindow,
    Stats,
    Verdict,
)


def test_stats_of_a_known_list():
    s = Stats.of([10, 20, 30, 40, 50])
    assert (s.count, s.min, s.max, s.mean) == (5, 10.0, 50.0, 30.0)
    assert s.p50 == 30.0
    assert abs(s.p90 - 46.0) < 1e-9        # linear interpolation: 40 + 0.6 * 10
    assert abs(s.p99 - 49.6) < 1e-9
    assert abs(s.std - 200 ** 0.5) < 1e-9  # population standard deviation


def test_stats_of_nothing_is_none_and_of_one_is_that_value():
    assert Stats.of([]) is None
    s = Stats.of([7])
    assert (s.min, s.p50, s.p99, s.max, s.std) == (7.0, 7.0, 7.0, 7.0, 0.0)


def test_windows_are_valid_only_when_every_one_lasted_ten_seconds():
    def figures(*seconds):
        return MlperfFigures("dut", {}, "b", "i", windows=tuple(
            MlperfWindow(10, 1, int(s * 1e6), 1.0, ()) for s in seconds))

    assert figures(10, 10.5, 12, 10, 11).windows_valid
    assert not figures(10, 10, 9.999, 10, 10).windows_valid
    assert not figures().windows_valid


def test_report_json_leaves_the_raw_samples_to_the_csv():
    report = BenchReport(source="virtual", status="complete", samples_us=[1, 2],
                         samples_cycles=[3, 4], verdict=Verdict(True, "equal"),
                         link=LinkStats(resets=1))
    saved = json.loads(json.dumps(report.to_dict()))
    assert "samples_us" not in saved and "samples_cycles" not in saved
    assert saved["verdict"] == {"outputs_match": True, "summary": "equal"}
    assert saved["link"] == {"noise_lines": 0, "resynced_lines": 0, "resets": 1,
                             "protocol_errors": 0}
