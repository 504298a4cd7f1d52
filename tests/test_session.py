"""harness/session.py: the one loop that reads a stage of edgecnn's protocol, driven by a
scripted link (the lines a board could send), and the bounds every number must meet."""
from __future__ import annotations

import json

import pytest

from edgecnn.errors import DeviceTimeoutError, ProtocolError
from edgecnn.harness.protocol import parse_line
from edgecnn.harness.session import Rows, Stage, StageEnd, checked_int, read_stage


class ScriptedLink:
    """What read_stage uses of a SerialLink: read(), its timeout, port and error count."""

    def __init__(self, lines: list[str], timeout: float = 5.0):
        self.lines = list(lines)
        self.timeout, self.port, self.protocol_errors = timeout, "scripted", 0

    def read(self, timeout=None):
        if not self.lines:
            raise DeviceTimeoutError("scripted link: no more lines")
        m = parse_line(self.lines.pop(0))
        assert m is not None
        return m


def _stage(received: list[int], expected: int = 3, errors: list[str] | None = None) -> Stage:
    def row(m):
        index = checked_int(m, "op", 0, expected - 1)
        if index is None or index in received:
            return "bad or repeated op"
        received.append(index)
        return None

    def done(m):
        return None if checked_int(m, "ops", 0, expected) is not None else "bad summary"

    def error(m):
        if errors is None:
            raise ProtocolError(m.fields["message"])
        errors.append(m.fields["message"])

    return Stage("profile", "profile", "op", expected, row, done, error)


def _rows(tmp_path) -> Rows:
    return Rows(tmp_path / "report.jsonl")


def _jsonl(tmp_path) -> list[dict]:
    return [json.loads(line) for line in (tmp_path / "report.jsonl").read_text().splitlines()]


def test_rows_then_the_summary_end_the_stage(tmp_path):
    got: list[int] = []
    link = ScriptedLink(["edgecnn profile op=0 us=1", "edgecnn bench run=0 us=1",
                         "edgecnn profile op=1 us=2", "edgecnn profile done ops=2"])
    assert read_stage(link, _stage(got), _rows(tmp_path), lambda m: None) is StageEnd.DONE
    assert got == [0, 1]          # another stage's line is passed over, not taken as a row
    assert link.protocol_errors == 0


def test_a_rejected_row_or_summary_is_counted_kept_and_the_stage_goes_on(tmp_path):
    got: list[int] = []
    rows = _rows(tmp_path)
    link = ScriptedLink(["edgecnn profile op=0", "edgecnn profile op=0", "edgecnn profile op=7",
                         "edgecnn profile done ops=x", "edgecnn profile op=2",
                         "edgecnn profile done ops=2"])
    assert read_stage(link, _stage(got), rows, lambda m: None) is StageEnd.DONE
    rows.close()
    assert got == [0, 2]
    assert link.protocol_errors == 3
    kept = _jsonl(tmp_path)
    assert [r["reason"] for r in kept] == ["bad or repeated op", "bad or repeated op",
                                           "bad summary"]
    assert kept[1]["line"] == "edgecnn profile op=7"


def test_an_unasked_identification_is_a_reset_handed_to_recover(tmp_path):
    recovered = []
    link = ScriptedLink(["edgecnn profile op=0", "edgecnn id version=1 protocol=2",
                         "edgecnn profile done ops=1"])
    end = read_stage(link, _stage([]), _rows(tmp_path), recovered.append)
    assert end is StageEnd.RESET
    assert [m.kind for m in recovered] == ["id"]
    assert link.lines == ["edgecnn profile done ops=1"]    # nothing read past the reset


def test_an_error_line_goes_to_the_stage(tmp_path):
    errors: list[str] = []
    link = ScriptedLink(["edgecnn error no profiler in this build"])
    assert read_stage(link, _stage([], errors=errors), _rows(tmp_path),
                      lambda m: None) is StageEnd.ERROR
    assert errors == ["no profiler in this build"]
    with pytest.raises(ProtocolError, match="no profiler"):
        read_stage(ScriptedLink(["edgecnn error no profiler"]), _stage([]), _rows(tmp_path),
                   lambda m: None)


def test_a_board_that_talks_without_progress_is_stopped(tmp_path):
    # 3 rows asked for: the 3 + 16 lines of slack pass, the next one stops the stage.
    link = ScriptedLink(["edgecnn bench run=0 us=1"] * 100)
    with pytest.raises(ProtocolError, match="sent 20 lines during profile, more than the 3"):
        read_stage(link, _stage([]), _rows(tmp_path), lambda m: None)
    assert len(link.lines) == 80


def test_a_board_that_talks_past_the_timeout_without_a_result_is_stopped(tmp_path):
    link = ScriptedLink(["edgecnn bench run=0 us=1"] * 10, timeout=-1.0)
    with pytest.raises(DeviceTimeoutError, match="no new profile result"):
        read_stage(link, _stage([]), _rows(tmp_path), lambda m: None)


@pytest.mark.parametrize("line, value", [
    ("edgecnn bench run=5", 5), ("edgecnn bench run=0", 0), ("edgecnn bench run=10", 10),
    ("edgecnn bench run=11", None), ("edgecnn bench run=-1", None),
    ("edgecnn bench run=5x", None), ("edgecnn bench us=5", None)])
def test_checked_int_takes_only_integers_in_range(line, value):
    assert checked_int(parse_line(line), "run", 0, 10) == value


def test_checked_int_refuses_a_bool():
    from edgecnn.harness.protocol import Message

    assert checked_int(Message("bench", {"run": True}), "run", 0, 10) is None


def test_rows_are_on_disk_as_soon_as_written(tmp_path):
    rows = _rows(tmp_path)
    rows.write("bench", run=0, us=12)
    assert _jsonl(tmp_path)[0]["us"] == 12      # read before close: flushed per row
    rows.close()
