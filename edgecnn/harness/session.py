"""What a bench session is, and the one loop that reads a stage of edgecnn's protocol.

A session drives one protocol over an open target: :class:`~.edgecnn_session.EdgecnnSession`
(edgecnn's own: identify, self-check, timed runs, profile, verification) and
:class:`~.mlperf_session.MlperfSession` (the MLPerf Tiny runner's performance or accuracy
mode). ``bench`` opens one through :func:`~.bench.open_session`, runs it, closes it and asks
it how the link behaved; it never knows which protocol it ran.

Every multi-line stage of edgecnn's protocol has the same shape — a command, rows of one kind
keyed by an index, a ``done`` summary, perhaps an ``error`` or an unasked ``id`` (the board
rebooted) — so it is read by :func:`read_stage`, with the stage saying what a row and a
summary mean.
"""
from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Protocol

from ..errors import DeviceTimeoutError, ProtocolError
from .link import SerialLink
from .protocol import Message
from .records import LinkStats

STAGE_SLACK = 16        # protocol lines beyond a stage's expected count before it is stopped

Progress = Callable[[str, int, int], None]   # (stage, done, total)


class Session(Protocol):
    """One protocol's client over an open target."""

    def open(self) -> None:
        """Open the port; until it opens, nothing is measured and no report is written."""

    def run(self) -> None:
        """Run every stage, filling the report as results arrive (also when it fails)."""

    def close(self) -> None:
        """Close the port (safe to call when it never opened)."""

    def link_stats(self) -> LinkStats:
        """Noise, resynchronised lines, resets and protocol errors seen on the link."""


class Rows:
    """report.jsonl: one JSON object per line, flushed as it is written, so that a run that
    dies midway keeps every row it received."""

    def __init__(self, path: Path):
        self.path = path
        self._file = open(path, "a", encoding="utf-8")

    def write(self, kind: str, **values) -> None:
        self._file.write(json.dumps({"type": kind, "t": round(time.time(), 3), **values}) + "\n")
        self._file.flush()

    def close(self) -> None:
        self._file.close()


def checked_int(m: Message, key: str, low: int, high: int) -> int | None:
    """``m``'s integer field ``key`` when it lies in ``low..high``; None for anything else
    (missing, a string, a bool, out of range): a corrupted line is never data."""
    value = m.fields.get(key)
    if isinstance(value, int) and not isinstance(value, bool) and low <= value <= high:
        return value
    return None


class Watchdog:
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


class StageEnd(Enum):
    DONE = "done"        # the summary arrived and was accepted
    RESET = "reset"      # the board rebooted (already recovered): the caller decides what next
    ERROR = "error"      # the board answered `error` and the stage's on_error did not raise


@dataclass
class Stage:
    """One multi-line stage of edgecnn's protocol, as :func:`read_stage` reads it.

    ``on_row`` and ``on_done`` take a message and return None when they accepted it, or the
    reason it cannot be data (then it is counted as a protocol error, kept in the JSONL and
    the stage goes on). ``on_error`` handles an ``error`` line: raise, or return to end the
    stage with :attr:`StageEnd.ERROR`.
    """

    name: str                                   # in messages: "self-check", "benchmark"
    kind: str                                   # the lines' kind: "selfcheck", "bench"
    row_field: str                              # the field that makes a line a row: "vector"
    expected: int                               # rows asked for (bounds the lines read)
    on_row: Callable[[Message], str | None]
    on_done: Callable[[Message], str | None]
    on_error: Callable[[Message], None]


def read_stage(link: SerialLink, stage: Stage, rows: Rows,
               recover: Callable[[Message], None]) -> StageEnd:
    """Read ``stage``'s lines (its command already sent) until its summary, an error or a
    reboot; ``recover(m)`` waits for a rebooted board and checks it again."""
    watch = Watchdog(link, stage.name, stage.expected)
    while True:
        m = link.read()
        watch.check()
        if m.kind == stage.kind and stage.row_field in m.fields:
            reason = stage.on_row(m)
            if reason is None:
                watch.progress()
            else:
                reject(link, rows, m, reason)
        elif m.kind == stage.kind and "done" in m.words:
            reason = stage.on_done(m)
            if reason is None:
                return StageEnd.DONE
            reject(link, rows, m, reason)
        elif m.kind == "id":
            recover(m)
            return StageEnd.RESET
        elif m.kind == "error":
            stage.on_error(m)
            return StageEnd.ERROR


def reject(link: SerialLink, rows: Rows, m: Message, reason: str) -> None:
    """A protocol line that cannot be data: counted and kept in the JSONL, never used."""
    link.protocol_errors += 1
    rows.write("protocol_error", reason=reason, line=m.text[:200])
