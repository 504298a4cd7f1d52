"""The ``edgecnn`` command line: each command parses options and calls one library function."""
from __future__ import annotations

import json
import logging
import os
import sys
import traceback
from pathlib import Path

import click

from . import __version__
from .cli_types import FiniteFloat, ImageSize
from .errors import EdgecnnError, Terminated
from .runtimes import runtime_names


class EdgecnnGroup(click.Group):
    """Turns every ``EdgecnnError`` into one line on stderr and exit status 2."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except EdgecnnError as exc:
            if ctx.obj and ctx.obj.get("debug"):
                traceback.print_exc()
            click.echo(f"edgecnn: error: {exc}{_partial_report(exc)}", err=True)
            sys.exit(exc.exit_code)
        except KeyboardInterrupt as exc:
            suffix = _partial_report(exc)
            if isinstance(exc, Terminated):
                click.echo(f"edgecnn: stopped by {exc.name}{suffix}", err=True)
                sys.exit(128 + exc.signum)
            click.echo(f"edgecnn: interrupted{suffix}", err=True)
            sys.exit(130)
        except BrokenPipeError:
            # The reader of stdout went away (`edgecnn models | head -1`): say so on stderr;
            # stdout is pointed at /dev/null so that Python's exit flush cannot fail again.
            try:
                os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            except (OSError, ValueError, AttributeError):   # no real file descriptor
                pass
            click.echo("edgecnn: error: the output pipe was closed before edgecnn finished "
                       "writing", err=True)
            sys.exit(2)
        except OSError as exc:
            # The computer's refusal, not a bug: a full disk, a read-only or missing folder,
            # a name the file system cannot hold.
            if ctx.obj and ctx.obj.get("debug"):
                traceback.print_exc()
            where = f": {exc.filename}" if exc.filename else ""
            click.echo(f"edgecnn: error: {exc.strerror or exc}{where}", err=True)
            sys.exit(2)
        except click.exceptions.UsageError as exc:
            # A bad option or argument: one line, like every other refusal (not click's usage
            # block), naming the command and the option.
            command = exc.ctx.command_path if exc.ctx is not None else "edgecnn"
            message = exc.format_message().replace("\n", " ")
            click.echo(f"edgecnn: error: {command}: {message} (see {command} --help)", err=True)
            sys.exit(2)
        except (click.exceptions.Exit, click.ClickException, SystemExit):
            raise
        except Exception as exc:  # a bug: still one line, the traceback on request
            if ctx.obj and ctx.obj.get("debug"):
                traceback.print_exc()
            click.echo(f"edgecnn: internal error: {type(exc).__name__}: {exc} "
                       "(rerun with --debug for the traceback)", err=True)
            sys.exit(1)


def _partial_report(exc: BaseException) -> str:
    """`` (partial report: PATH)`` when the failed command saved what it had measured."""
    saved = getattr(exc, "report_path", None)
    return f" (partial report: {saved})" if saved else ""


@click.group(cls=EdgecnnGroup)
@click.version_option(__version__, prog_name="edgecnn")
@click.option("--debug", is_flag=True, help="Show tracebacks for errors.")
@click.pass_context
def main(ctx, debug):
    """Train, quantize, analyze and deploy compact CNNs to microcontrollers."""
    ctx.obj = {"debug": debug}
    _log_to_stderr()
    _terminate_like_ctrl_c()


def _terminate_like_ctrl_c() -> None:
    """SIGTERM and SIGHUP stop a command the way Ctrl-C does: every command's cleanup runs
    and partial results (a bench report) are written before the process exits."""
    import signal

    def stop(signum, frame):
        raise Terminated(signum, signal.Signals(signum).name)

    for sig in (signal.SIGTERM, getattr(signal, "SIGHUP", None)):
        if sig is not None:
            try:
                signal.signal(sig, stop)
            except ValueError:   # not the main thread (an embedding application)
                pass


class _ClickStderr(logging.Handler):
    """Looks up stderr at each record (click's test runner swaps it per invocation)."""

    def emit(self, record):
        click.echo(f"edgecnn: {record.levelname.lower()}: {record.getMessage()}", err=True)


def _log_to_stderr() -> None:
    """edgecnn's library notes (``logging.getLogger("edgecnn")``) as one line each on stderr."""
    logger = logging.getLogger("edgecnn")
    if not any(isinstance(h, _ClickStderr) for h in logger.handlers):
        logger.addHandler(_ClickStderr())
        logger.setLevel(logging.INFO)
        logger.propagate = False


def _parse_params(values) -> dict:
    params = {}
    for item in values:
        if "=" not in item:
            raise click.BadParameter(f"{item!r} is not KEY=VALUE", param_hint="--param")
        key, raw = item.split("=", 1)
        try:
            value = json.loads(raw)
        except ValueError:
            value = raw
        params[key.strip()] = tuple(value) if isinstance(value, list) else value
    return params


def data_options(f):
    f = click.option("--dataset", default="fashion_mnist", show_default=True,
                     help="fashion_mnist, mnist, cifar10 or digits.")(f)
    f = click.option("--data", "data_dir", type=click.Path(file_okay=False),
                     help="A folder of class sub-folders of images (overrides --dataset).")(f)
    f = click.option("--image-size", type=ImageSize(), metavar="SIZE|HxW",
                     help="The image size the network sees: folder images are loaded at it; "
                          "mobilenet_v2 resizes other data sets to it inside the model.")(f)
    f = click.option("--grayscale", is_flag=True, help="Load folder images as one channel.")(f)
    f = click.option("--train-samples", type=click.IntRange(1),
                     help="Use only the first N training samples.")(f)
    return f


def _load_data(dataset, data_dir, image_size, grayscale, train_samples, test_samples=None):
    from .data import load_dataset

    ds = load_dataset(dataset, data_dir=data_dir, image_size=image_size or None,
                      grayscale=grayscale)
    return ds.subset(train_samples, test_samples) if (train_samples or test_samples) else ds


def train_options(f):
    f = click.option("--arch", default="edge_cnn", show_default=True,
                     help="Architecture (see `edgecnn models`).")(f)
    f = click.option("--param", "params", multiple=True, metavar="KEY=VALUE",
                     help="Architecture parameter, e.g. --param alpha=0.5 "
                          "--param filters=[8,16].")(f)
    f = click.option("--epochs", default=12, show_default=True, type=click.IntRange(1))(f)
    f = click.option("--batch-size", default=128, show_default=True, type=click.IntRange(1))(f)
    f = click.option("--patience", default=4, show_default=True, type=click.IntRange(1),
                     help="Early stopping: epochs without a better validation accuracy.")(f)
    f = click.option("--augment/--no-augment", default=None,
                     help="Augment the training images (default: only when there are fewer "
                          "than 20,000).")(f)
    f = click.option("--seed", default=0, show_default=True, type=click.IntRange(0, 2**32 - 1))(f)
    f = click.option("--alpha", type=FiniteFloat(0.05, 2.0),
                     help="Width multiplier of mobilenet_v1 / mobilenet_v2 (= --param alpha=A).")(f)
    f = click.option("--pretrained", default=None, metavar="none|imagenet|PATH",
                     help="mobilenet_v2 base weights: none (default), Keras' ImageNet weights, "
                          "or a weights file.")(f)
    f = click.option("--fine-tune", "fine_tune", default=0, show_default=True,
                     type=click.IntRange(0), metavar="K",
                     help="After training the head, also train the base's last K layers at a "
                          "tenth of the learning rate.")(f)
    return f


def _arch_params(arch, params, alpha=None, pretrained=None, image_size=None, data_dir=None):
    """The architecture's parameters from the options, checked before TensorFlow is imported."""
    from .zoo import arch_params as wanted_params

    return wanted_params(arch, _parse_params(params), alpha=alpha, pretrained=pretrained,
                         image_size=image_size, resizes_images=bool(data_dir))


def _train(ds, arch, arch_params, epochs, batch_size, patience, augment, seed, out,
           quiet=False, fine_tune=0, force=False):
    from .console import keras_verbosity
    from .train import TrainConfig, train

    config = TrainConfig(epochs=epochs, batch_size=batch_size, patience=patience,
                         augment=augment, seed=seed, arch_params=arch_params,
                         verbose=0 if quiet else keras_verbosity(), fine_tune=fine_tune)
    return train(arch, ds, config, out=out, force=force)


@main.command("train")
@data_options
@train_options
@click.option("--out", default="model.keras", show_default=True, type=click.Path())
@click.option("--force", is_flag=True, help="Replace an existing OUT and its .json files.")
def train_cmd(dataset, data_dir, image_size, grayscale, train_samples, arch, params, epochs,
              batch_size, patience, augment, seed, alpha, pretrained, fine_tune, out, force):
    """Train a zoo architecture; saves OUT, OUT's .json metadata and .history.json."""
    from .fsutil import check_writable_outputs
    from .train import trained_paths

    check_writable_outputs(trained_paths(out), force)   # before loading data and training
    arch_params = _arch_params(arch, params, alpha, pretrained, image_size, data_dir)
    ds = _load_data(dataset, data_dir, image_size if data_dir else None, grayscale,
                    train_samples)
    click.echo(f"data: {ds.name} from {ds.source}: {len(ds.x_train)} train, {len(ds.x_val)} "
               f"validation, {len(ds.x_test)} test, input {ds.input_shape}", err=True)
    result = _train(ds, arch, arch_params, epochs, batch_size, patience, augment, seed, out,
                    fine_tune=fine_tune, force=force)
    click.echo(f"saved {result.path}: float test accuracy {result.meta.float_accuracy:.4f} "
               f"after {result.meta.training['epochs_run']} epochs ({result.seconds:.0f} s)")


@main.command("quantize")
@click.argument("model", type=click.Path())
@click.option("--out", type=click.Path(), help="Default: MODEL with .tflite.")
@click.option("--dataset", help="Data set for calibration and evaluation "
                                "(default: the one in the model's metadata).")
@click.option("--data", "data_dir", type=click.Path(file_okay=False))
@click.option("--image-size", type=ImageSize(), metavar="SIZE|HxW")
@click.option("--grayscale", is_flag=True)
@click.option("--representative-samples", default=300, show_default=True, type=click.IntRange(1))
@click.option("--eval-samples", type=click.IntRange(1), help="Evaluate on the first N test "
                                                             "samples only.")
@click.option("--force", is_flag=True, help="Replace an existing OUT (its .json, the model's "
                                            "metadata, is always completed).")
def quantize_cmd(model, out, dataset, data_dir, image_size, grayscale, representative_samples,
                 eval_samples, force):
    """Convert MODEL (.keras) to a full-integer int8 .tflite and measure its accuracy."""
    from .quantize import quantize

    ds = None
    if dataset or data_dir:
        ds = _load_data(dataset, data_dir, image_size, grayscale, None)
    out = Path(out) if out else Path(model).with_suffix(".tflite")
    q = quantize(model, ds, out=out, representative_samples=representative_samples,
                 evaluate_samples=eval_samples, force=force)
    click.echo(format_quantize(q))


def format_quantize(q) -> str:
    m = q.meta
    i, o = m.quantization["input"], m.quantization["output"]
    return (f"saved {q.path} ({len(q.tflite):,} bytes) and {q.path.with_suffix('.json')}\n"
            f"accuracy on {m.test_samples} test samples: float {m.float_accuracy:.4f}, "
            f"int8 (TFLite Micro kernels) {m.int8_accuracy:.4f} "
            f"(drop {100 * (m.float_accuracy - m.int8_accuracy):+.2f} points; float and int8 agree "
            f"on {100 * m.int8_agreement:.2f} %)\n"
            f"input  {i['dtype']} {i['shape']} scale {i['scale']:.6g} zero point {i['zero_point']}"
            f" (int8 = round(pixel * {m.input_scale:.6g} / scale) + zero point)\n"
            f"output {o['dtype']} {o['shape']} scale {o['scale']:.6g} zero point {o['zero_point']}")


@main.command("analyze")
@click.argument("model", type=click.Path())
@click.option("--keras", "keras_model", type=click.Path(),
              help="The .keras model it came from, for a parameter cross-check.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.option("--board", help="Also check the fit against this board (see `edgecnn boards`).")
@click.option("--runtime", type=click.Choice(runtime_names()),
              help="Fit the board with this runtime's memory plan, and print the plan where "
                   "the runtime makes its own (native: its static plan over tensor lifetimes).")
def analyze_cmd(model, keras_model, as_json, board, runtime):
    """Per-layer parameters, MACs, activations, receptive field, flash and measured arena."""
    from .analyze import analyze, format_table

    a = analyze(model, keras_model)
    fit = plan = None
    if runtime:
        from .errors import UnsupportedModelError
        from .runtimes import get_runtime

        if a.tflite is None:
            raise UnsupportedModelError(f"the {runtime} runtime's plan needs the .tflite model")
        plan = get_runtime(runtime).describe_plan(a.tflite)
    if board:
        from .boards import load_board
        from .fit import check_fit
        from .runtimes import runtime_for

        b = load_board(board)
        fit = check_fit(a, b, runtime_for(b, runtime).plan_memory(a, b) if runtime else None)
    if as_json:
        d = a.to_dict()
        if plan is not None:
            d[f"{runtime}_plan"] = plan[0]
        if fit:
            d["fit"] = fit.to_dict()
        click.echo(json.dumps(d, indent=2))
    else:
        click.echo(format_table(a))
        if plan is not None:
            click.echo("\n" + plan[1])
        if fit:
            click.echo("\n" + fit.table())


@main.command("models")
@click.option("--input-shape", default="28,28,1", show_default=True, help="H,W,C")
@click.option("--classes", default=10, show_default=True, type=click.IntRange(2, 100_000))
def models_cmd(input_shape, classes):
    """List the zoo's architectures with their parameter counts for an input."""
    from .console import import_tensorflow

    import_tensorflow()
    from .zoo import ARCHITECTURES, build_model

    try:
        shape = tuple(int(d) for d in input_shape.split(","))
    except ValueError:
        shape = ()
    if len(shape) != 3 or min(shape) < 1 or max(shape) > 4096:
        raise click.BadParameter(f"{input_shape!r} is not H,W,C with each from 1 to 4096, "
                                 "such as 28,28,1", param_hint="--input-shape")
    click.echo(f"{'architecture':<14} {'parameters':>10}  defaults / description")
    for name, spec in ARCHITECTURES.items():
        params = build_model(name, shape, classes).count_params()
        defaults = ", ".join(f"{k}={v}" for k, v in spec.defaults.items())
        click.echo(f"{name:<14} {params:>10,}  {defaults}; {spec.summary}")


from .cli_build import register as _register_build  # noqa: E402
from .cli_device import register as _register_device  # noqa: E402
from .cli_report import register as _register_report  # noqa: E402
from .cli_search import register as _register_search  # noqa: E402

_register_build(main)
_register_device(main)
_register_report(main)
_register_search(main)

if __name__ == "__main__":
    main()
