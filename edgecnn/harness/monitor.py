"""``edgecnn monitor``: the board's serial console (pyserial's miniterm) at the project's baud
rate, opened without resetting the board."""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from ..errors import EdgecnnError
from .project import Project, load_project

HINTS = {"edgecnn": "commands: id, selfcheck, bench RUNS, profile, help",
         "mlperf-tiny": "MLPerf Tiny commands end with '%' (name%, profile%, infer 10 1%)"}


def monitor(project: str | Path | Project, port: str | None = None,
            echo: Callable[[str], None] = print) -> None:
    """Open the console on ``port`` (default: the board found by its USB VID:PID) until
    Ctrl-] is typed."""
    from serial.tools import miniterm

    from .link import find_port, open_port

    p = project if isinstance(project, Project) else load_project(project)
    if port == "virtual":
        raise EdgecnnError("use `edgecnn virtual-board --project DIR` and open its port")
    board = p.manifest.board
    if port is None and board.target == "emulator":
        raise EdgecnnError(f"{p.path} is built for {board.title}, an emulated board with no USB "
                           f"port: start it with `edgecnn emulate --project {p.path}`, then "
                           "`edgecnn monitor --project ... --port` the port it prints")
    port = port or find_port(board.usb_ids, board.title)
    s = open_port(port, board.baud, board.reset_on_open)
    term = miniterm.Miniterm(s, echo=False, eol="crlf")
    term.set_rx_encoding("utf-8")
    term.set_tx_encoding("utf-8")
    echo(f"--- {board.title} on {port} at {board.baud} baud; "
         f"{HINTS[p.manifest.firmware.protocol]}; Ctrl-] quits ---")
    term.start()
    try:
        term.join(True)
    except KeyboardInterrupt:
        pass
    term.join()
    term.close()
