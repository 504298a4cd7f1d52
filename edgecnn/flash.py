"""``edgecnn flash``: build and upload a generated project with PlatformIO (``pio run -t upload``).

Example:
    >>> flash_command("nano33ble_edge_cnn")            # doctest: +SKIP
    ['/venv/bin/pio', 'run', '-d', 'nano33ble_edge_cnn', '-e', 'nano33ble', '-t', 'upload']
"""
from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from .errors import FlashError, ToolMissingError
from .harness.project import load_project

# What PlatformIO prints when it cannot do its job, and what the user should do about it.
_HINTS = (
    ("HTTPClientError", "PlatformIO could not download the platform or library: the first "
                        "build needs the network"),
    ("Could not resolve", "PlatformIO could not reach its registry: the first build needs the "
                          "network"),
    ("upload_port", "PlatformIO found no board to upload to: connect it (Nano 33 BLE: "
                    "double-tap reset for the bootloader) or pass --port"),
    ("No device found", "PlatformIO found no board to upload to: connect it or pass --port"),
    ("Permission denied", "no permission on the serial port: add yourself to the dialout "
                          "group and log in again"),
)


def pio_executable() -> str:
    """PlatformIO's ``pio``: $EDGECNN_PIO, else the one beside this Python, else PATH."""
    override = os.environ.get("EDGECNN_PIO")
    if override:
        return override
    beside = Path(sys.executable).parent / "pio"
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    found = shutil.which("pio") or shutil.which("platformio")
    if found is None:
        raise ToolMissingError("PlatformIO (`pio`) is not installed: pip install "
                               "platformio==6.2.0 (edgecnn's own dependency)")
    return found


def require_physical_board(project, command: str) -> None:
    """``flash`` and ``monitor`` talk to a board on USB; an emulator project has none."""
    from .errors import ProjectError

    board = project.manifest.board
    if board.target == "emulator":
        raise ProjectError(f"{project.path} is built for {board.title}, an emulated board with "
                           f"no USB port to {command}: run it with `edgecnn emulate --project "
                           f"{project.path}` or `edgecnn bench --project {project.path} --port "
                           "emulator`")


def check_port_name(port: str) -> None:
    """A serial port is a device path or a URL: never a control character (a newline would
    end the command a user copies from --dry-run)."""
    from .errors import OptionError

    if not port or any(ord(c) < 32 or ord(c) == 127 for c in port) or len(port) > 4096:
        raise OptionError(f"--port {port[:40]!r} is not a serial port name")


def flash_command(project: str | Path, port: str | None = None, pio: str | None = None
                  ) -> list[str]:
    """The exact PlatformIO command ``flash`` runs."""
    p = load_project(project)
    require_physical_board(p, "flash")
    if port is not None:
        check_port_name(port)
    command = [pio or pio_executable(), "run", "-d", str(p.path), "-e", p.manifest.board.env,
               "-t", "upload"]
    if port:
        command += ["--upload-port", port]
    return command


def flash(project: str | Path, port: str | None = None, *,
          echo: Callable[[str], None] = print) -> list[str]:
    """Build and upload ``project``, streaming PlatformIO's output to ``echo``.

    Raises ``FlashError`` with PlatformIO's own last error line when it fails.
    """
    command = flash_command(project, port)
    echo("$ " + shlex.join(command))
    try:
        proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                text=True, errors="replace", bufsize=1)
    except OSError as exc:
        raise ToolMissingError(f"cannot run PlatformIO ({command[0]}): {exc.strerror}") from None
    tail: list[str] = []
    assert proc.stdout is not None
    for line in proc.stdout:
        line = line.rstrip("\n")
        echo(line)
        if line.strip():
            tail = (tail + [line.strip()])[-40:]
    code = proc.wait()
    if code != 0:
        text = "\n".join(tail)
        hint = next((h for needle, h in _HINTS if needle in text), None)
        errors = [t for t in tail if "error" in t.lower()]
        last = errors[-1] if errors else (tail[-1] if tail else "no output")
        raise FlashError(f"PlatformIO failed (exit {code}): {hint + '; ' if hint else ''}"
                         f"it said: {last[:200]}")
    return command
