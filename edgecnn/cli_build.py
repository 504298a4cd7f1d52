"""CLI commands for boards and project generation."""
from __future__ import annotations

import click

from .runtimes import runtime_names


def register(main: click.Group) -> None:
    main.add_command(boards_cmd)
    main.add_command(build_cmd)
    main.add_command(requantize_cmd)


@click.command("requantize")
@click.argument("model", type=click.Path())
@click.option("--out", type=click.Path(),
              help="Default: MODEL_per_tensor.tflite beside MODEL.")
@click.option("--force", is_flag=True, help="Replace an existing output file.")
def requantize_cmd(model, out, force):
    """Give a ready .tflite one scale per dense weight tensor (what the boards' TFLM computes)."""
    from .requantize import requantize_file

    path, layers = requantize_file(model, out, force=force)
    if not layers:
        click.echo(f"{model} has no per-channel dense layers; {path} is an unchanged copy")
        return
    click.echo(f"saved {path}: {len(layers)} dense layer{'s' if len(layers) > 1 else ''} now "
               "per-tensor: " + ", ".join(f"{q.layer} ({q.channels} channels -> scale "
                                           f"{q.scale:.4g})" for q in layers))
    click.echo(f"next      edgecnn build --board BOARD --model {path}")


@click.command("boards")
def boards_cmd():
    """List the boards edgecnn can build for: its own boards/*.toml, then the folders named in
    $EDGECNN_BOARDS_DIR. A file that does not validate is reported and the others still work."""
    from .boards import scan_boards

    scan = scan_boards()
    for b in scan.boards:
        click.echo(f"{b.name:<12} {b.title} — {b.mcu} {b.core} @ {b.clock_hz // 1_000_000} MHz, "
                   f"{b.sram_bytes // 1024} KB SRAM, {b.flash_bytes // 1024} KB flash; "
                   f"aliases: {', '.join(b.aliases) or '-'}")
        where = (f"PlatformIO {b.platformio.platform} / {b.platformio.board}" if b.platformio
                 else f"emulated: {b.emulator.qemu} -M {b.emulator.machine}" if b.emulator
                 else f"platform {b.platform}")
        tflm = (f"; TFLM: {b.tflm.library} ({b.tflm.kernels} kernels, {len(b.tflm.ops)} ops)"
                if b.tflm else "")
        click.echo(f"{'':<12} {where}; runtimes: {', '.join(b.runtimes)}{tflm}; "
                   f"file {b.path}")
    for error in scan.errors:
        click.echo(f"warning: {error}", err=True)


@click.command("build")
@click.option("--board", required=True, help="Board name or alias (see `edgecnn boards`).")
@click.option("--model", type=click.Path(),
              help="A ready .tflite, or a .keras to quantize. Default: train one first.")
@click.option("--out", type=click.Path(file_okay=True),
              help="Project folder. Default: ./BOARD_MODEL.")
@click.option("--force", is_flag=True, help="Replace an existing edgecnn project; build even "
                                            "if the model does not fit.")
@click.option("--format", "formats", multiple=True, type=click.Choice(["platformio", "arduino"]),
              default=["platformio"], show_default=True,
              help="'arduino' also writes an Arduino IDE sketch folder under arduino/.")
@click.option("--arena", "arena_bytes", type=click.IntRange(1024),
              help="Override the measured tensor arena size (bytes).")
@click.option("--dataset", default="fashion_mnist", show_default=True,
              help="Data to train on when no --model is given.")
@click.option("--arch", default="edge_cnn", show_default=True,
              help="Architecture to train when no --model is given.")
@click.option("--epochs", default=12, show_default=True, type=click.IntRange(1),
              envvar="EDGECNN_EPOCHS", show_envvar=True)
@click.option("--train-samples", type=click.IntRange(1), help="Train on the first N samples.",
              envvar="EDGECNN_TRAIN_SAMPLES", show_envvar=True)
@click.option("--retrain", is_flag=True, help="Train again even if the trained-model cache "
                                             "holds this model (see EDGECNN_CACHE_DIR).")
@click.option("--flash", "then_flash", is_flag=True,
              help="Then build and upload it with PlatformIO (like `edgecnn flash`).")
@click.option("--port", help="With --flash: the upload port (default: PlatformIO finds it).")
@click.option("--runtime", type=click.Choice(runtime_names()), default=None,
              help="Inference runtime (default: the board's first; see `edgecnn boards`).")
@click.option("--protocol", type=click.Choice(["edgecnn", "mlperf-tiny"]), default="edgecnn",
              show_default=True, help="What the firmware speaks on its serial port: edgecnn's "
              "line protocol, or the MLCommons MLPerf Tiny DUT API (its runner can drive it).")
@click.option("--mlperf-model", help="With --protocol mlperf-tiny: the benchmark `profile%` "
              "reports; kws01, ic01, vww01 and ad01 also bring their reference submission's "
              "input conversion and result. Default: the model's name.")
def build_cmd(board, model, out, force, formats, arena_bytes, dataset, arch, epochs,
              train_samples, retrain, then_flash, port, runtime, protocol, mlperf_model):
    """Generate a PlatformIO project running the model on the board's runtime (TFLite Micro)."""
    from .build import build
    from .console import keras_verbosity
    from .errors import OptionError

    given = _given_options(click.get_current_context())
    if model is not None:
        ignored = given & {"dataset", "arch", "epochs", "train_samples", "retrain"}
        if ignored:
            names = ", ".join(f"--{n.replace('_', '-')}" for n in sorted(ignored))
            raise OptionError(f"{names} choose(s) what to train when no --model is given; "
                                   f"with --model {model} nothing is trained: drop {names}")
    if "port" in given and not then_flash:
        raise OptionError("--port is the upload port of --flash; add --flash or drop it")

    result = build(board, model, out, force=force, arduino="arduino" in formats,
                   arena_bytes=arena_bytes, dataset=dataset, arch=arch, epochs=epochs,
                   train_samples=train_samples, verbose=keras_verbosity(), retrain=retrain,
                   runtime=runtime, protocol=protocol, mlperf_model=mlperf_model,
                   log=lambda s: click.echo(s, err=True))
    for w in result.warnings:
        click.echo(f"warning: {w}", err=True)
    m = result.manifest.model
    click.echo(f"project   {result.project}")
    inst = result.installed
    if inst and inst.replaced:
        click.echo(f"          updated the earlier project; {inst.kept} file(s) of yours kept "
                   "as they were")
    if inst and inst.backed_up:
        click.echo(f"warning: you had edited {len(inst.backed_up)} generated file(s) "
                   f"({', '.join(inst.backed_up[:5])}{', ...' if len(inst.backed_up) > 5 else ''})"
                   f": your versions are saved in {inst.backup}", err=True)
    click.echo(f"model     {m.bytes:,} B int8, {m.params or 0:,} parameters, {m.macs or 0:,} "
               f"MACs, ops: {', '.join(o.name for o in m.ops)}")
    if m.int8_accuracy is not None:
        float_text = f"{m.float_accuracy:.4f}" if m.float_accuracy is not None else "n/a"
        click.echo(f"accuracy  float {float_text}, int8 {m.int8_accuracy:.4f} "
                   "(TFLite Micro kernels, test split)")
    click.echo(result.fit.table())
    if then_flash:
        from .flash import flash

        flash(result.project, port, echo=click.echo)
        click.echo(f"next      edgecnn bench --project {result.project}")
    elif result.board.target == "emulator":
        click.echo(f"next      edgecnn bench --project {result.project} --port emulator   "
                   f"(or edgecnn emulate --project {result.project})")
    else:
        click.echo(f"next      edgecnn flash --project {result.project}   "
                   f"(runs: {result.flash_command})")


def _given_options(ctx: click.Context) -> set[str]:
    """The options typed on the command line (not defaults, not environment variables)."""
    from click.core import ParameterSource

    return {name for name in ctx.params
            if ctx.get_parameter_source(name) == ParameterSource.COMMANDLINE}
