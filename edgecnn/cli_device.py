"""CLI commands that talk to boards: flash, bench, monitor, virtual-board."""
from __future__ import annotations

import sys

import click

from .cli_types import FiniteFloat
from .harness.protocol import MAX_RUNS, MAX_VERIFY_SAMPLES

PROJECT = click.option("--project", "project", required=True,
                       type=click.Path(file_okay=False),
                       help="A project folder written by `edgecnn build`.")
PORT = click.option("--port", help="Serial port (default: found by the board's USB VID:PID); "
                                   "'virtual' starts a virtual board; 'emulator' builds the "
                                   "project for its emulated board and runs it under QEMU.")


def register(main: click.Group) -> None:
    for command in (flash_cmd, bench_cmd, monitor_cmd, virtual_board_cmd, emulate_cmd):
        main.add_command(command)


@click.command("flash")
@PROJECT
@PORT
@click.option("--dry-run", is_flag=True, help="Print the PlatformIO command and stop.")
def flash_cmd(project, port, dry_run):
    """Build and upload a project with PlatformIO (pio run -t upload)."""
    from .flash import flash, flash_command

    if dry_run:
        import shlex

        click.echo(shlex.join(flash_command(project, port)))
        return
    flash(project, port, echo=click.echo)


@click.command("bench")
@PROJECT
@PORT
@click.option("--runs", type=click.IntRange(1, MAX_RUNS),
              help="Timed inferences (default 100; MLPerf Tiny: as many as --window needs).")
@click.option("--warmup", default=5, show_default=True, type=click.IntRange(0, MAX_RUNS))
@click.option("--verify", is_flag=True, help="Stream test inputs through the board and check "
                                             "every output against the host interpreter.")
@click.option("--samples", type=click.IntRange(1, MAX_VERIFY_SAMPLES),
              help="Verify only the first K samples.")
@click.option("--no-profile", is_flag=True, help="Skip the per-op profile.")
@click.option("--timeout", default=10.0, show_default=True, type=FiniteFloat(0.1, 3600),
              help="Seconds to wait for each answer.")
@click.option("--fault", help="Inject faults on the line to any target, e.g. garbage=0.2,drop=7,"
                              "reset=30,silence=50,vanish=40,corrupt=3.")
@click.option("--out", type=click.Path(), help="report.json path or folder "
                                               "(default PROJECT/reports/TIME/).")
@click.option("--force", is_flag=True, help="Replace report files that exist at --out.")
@click.option("--window", "window_s", default=10.0, show_default=True,
              type=FiniteFloat(0, 3600, min_open=True),
              help="MLPerf Tiny: seconds each of the five performance windows lasts at least "
                   "(the runner's rule is 10).")
@click.option("--dataset", type=click.Path(),
              help="MLPerf Tiny: run the runner's accuracy mode over a data set in its layout "
                   "(.bin files and y_labels.csv).")
def bench_cmd(project, port, runs, warmup, verify, samples, no_profile, timeout, fault, out,
              force, window_s, dataset):
    """Measure latency, arena and (with --verify) correctness on the board."""
    from .harness import Faults, bench
    from .reporting.bench_report import console_lines

    faults = Faults.parse(fault) if fault else None
    bar = {}

    def progress(stage, done, total):
        if not sys.stderr.isatty():
            return
        if stage not in bar:
            for b in bar.values():
                b.render_finish()
            bar.clear()
            bar[stage] = click.progressbar(length=total, label=f"{stage:<7}", file=sys.stderr)
        b = bar[stage]
        b.update(done - b.pos)

    report = bench(project, port=port, runs=runs, warmup=warmup, verify=verify,
                   samples=samples, profile=not no_profile, out=out, timeout=timeout,
                   faults=faults, progress=progress, force=force, window_s=window_s,
                   dataset=dataset)
    for b in bar.values():
        b.render_finish()
    for line in console_lines(report):
        click.echo(line)
    if report.verdict is not None and report.verdict.outputs_match is False:
        from .errors import OutputMismatchError

        raise OutputMismatchError(f"{report.verdict.summary} (report: {report.files['md']})")


@click.command("emulate")
@PROJECT
@click.option("--serial", default="pty", show_default=True,
              help="Where the emulated UART goes: pty, or tcp:PORT (then open "
                   "socket://127.0.0.1:PORT).")
@click.option("--tflm-library", type=click.Path(file_okay=False),
              help="A TFLM project's library checkout (default: $EDGECNN_TFLM_LIBRARY, or "
                   "DIR/.pio/libdeps after `pio pkg install -d DIR`).")
def emulate_cmd(project, serial, tflm_library):
    """Build the project for its emulated board (arm-none-eabi-gcc) and run it under QEMU until
    Ctrl-C; print the port to bench or monitor. Figures are emulated instruction counts."""
    import re
    import time

    from .errors import EdgecnnError
    from .harness.emulator import Emulator, elf_memory

    tcp = re.fullmatch(r"tcp:(\d{1,5})", serial)
    if serial != "pty" and not (tcp and 1 <= int(tcp.group(1)) <= 65535):
        raise EdgecnnError(f"--serial {serial!r}: use pty or tcp:PORT with PORT from 1 to 65535")
    emu = Emulator(project, serial, tflm_library)
    port = emu.start()
    try:
        assert emu.elf is not None
        mem = elf_memory(emu.elf)
        click.echo(f"elf       {emu.elf}: text {mem.text:,} B, rodata {mem.rodata:,} B, "
                   f"data {mem.data:,} B, bss {mem.bss:,} B")
        click.echo(f"port      {port}")
        click.echo(f"next      edgecnn bench --project {project} --port {port}   (Ctrl-C stops "
                   "the emulator)")
        while emu._proc is not None and emu._proc.poll() is None:
            time.sleep(0.5)
    except KeyboardInterrupt as exc:
        _reraise_signal(exc)
    finally:
        emu.stop()


@click.command("monitor")
@PROJECT
@PORT
def monitor_cmd(project, port):
    """Open the board's serial console (pyserial's miniterm; Ctrl-] quits)."""
    from .harness.monitor import monitor

    monitor(project, port, echo=lambda line: click.echo(line, err=True))


@click.command("virtual-board")
@PROJECT
@click.option("--fault", help="Inject faults on its line: garbage=P, drop=N, reset=N, "
                              "silence=N, vanish=N, corrupt=N.")
def virtual_board_cmd(project, fault):
    """Serve the project's firmware, compiled for this computer, on a pseudo-terminal."""
    from .harness import Faults, load_project, open_target

    p = load_project(project)
    board = open_target(p, "virtual", Faults.parse(fault))
    port = board.start()
    click.echo(port)
    click.echo(f"virtual board for {p.path} (model {p.sha256[:12]}…) on {port}: the project's "
               f"firmware on this computer; {board.clock}. Ctrl-C stops it", err=True)
    try:
        board.serve_forever()
    except KeyboardInterrupt as exc:
        _reraise_signal(exc)
    finally:
        board.stop()


def _reraise_signal(exc: KeyboardInterrupt) -> None:
    """Ctrl-C is how a serving command is meant to stop (exit 0); SIGTERM/SIGHUP go on to
    the CLI's handler, which exits 128 + the signal as every other command does."""
    from .errors import Terminated

    if isinstance(exc, Terminated):
        raise exc
