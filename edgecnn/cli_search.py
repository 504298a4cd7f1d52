"""`edgecnn search` (the most accurate model that fits the board, edgecnn.search) and `edgecnn
compare` (several architectures, edgecnn.comparison): both run their candidates as trials of
one trial runner, in this process or on a Ray cluster."""
from __future__ import annotations

import click

from .runtimes import runtime_names


def register(main: click.Group) -> None:
    main.add_command(search_cmd)
    main.add_command(compare_cmd)


def _ranges(values) -> dict[str, str]:
    ranges = {}
    for item in values:
        name, sep, text = item.partition("=")
        if not sep or not name.strip():
            raise click.BadParameter(f"{item!r} is not NAME=LO..HI", param_hint="--param")
        ranges[name.strip()] = text.strip()
    return ranges


RAY_OPTION = click.option(
    "--ray", "ray_address", is_flag=False, flag_value="local", metavar="[ADDRESS]",
    help="Run the trials on a Ray cluster with Ray Tune (Optuna stays the searcher, on the "
         "same study): --ray alone starts Ray on this machine (127.0.0.1), --ray HOST:PORT "
         "joins a cluster's head. Needs pip install \"edgecnn[ray]\".")
CPUS_PER_TRIAL_OPTION = click.option(
    "--cpus-per-trial", default=1, show_default=True, type=click.IntRange(1, 1024),
    help="With --ray: CPUs Ray gives each trial (and TensorFlow's threads).")


def _engine(ray_address: str | None, cpus_per_trial: int):
    """The Ray engine for --ray (connected now: a cluster that is not there is said before
    any work), or None: the trials run in this process."""
    if ray_address is None:
        if cpus_per_trial != 1:
            raise click.BadParameter("is for --ray (in this process TensorFlow uses every "
                                     "core)", param_hint="--cpus-per-trial")
        return None
    from .search_ray import RayEngine

    engine = RayEngine(ray_address, cpus_per_trial)
    engine.connect()
    return engine


@click.command("search")
@click.option("--board", required=True, help="The board the model must fit (see `edgecnn boards`).")
@click.option("--dataset", default="fashion_mnist", show_default=True,
              help="fashion_mnist, mnist, cifar10 or digits.")
@click.option("--data", "data_dir", type=click.Path(file_okay=False),
              help="A folder of class sub-folders of images (overrides --dataset).")
@click.option("--runtime", type=click.Choice(runtime_names()),
              help="Plan memory with this runtime (default: the board's first).")
@click.option("--trials", default=20, show_default=True, type=click.IntRange(1, 100_000),
              help="Trials the study holds when done (a rerun continues to this number).")
@click.option("--out", default="search", show_default=True, type=click.Path(),
              help="Folder of the study, the trials, the report and the best model.")
@click.option("--archs", help="Comma-separated architectures to search (default: all of the "
                              "search space's).")
@click.option("--param", "params", multiple=True, metavar="NAME=LO..HI",
              help="Narrow a searched parameter, e.g. --param dense=16..64 --param "
                   "learning_rate=0.002..0.006.")
@click.option("--epochs", default=6, show_default=True, type=click.IntRange(1, 1000),
              help="Training epochs of every candidate that fits.")
@click.option("--min-epochs", type=click.IntRange(1), metavar="N",
              help="Successive halving: look at every trial after N, 3N, 9N, ... epochs "
                   "(each while 3 times it is within --epochs) and "
                   "stop it there unless its validation accuracy is in the top third the "
                   "study's trials reached at that point (the zoo's defaults, the bar to "
                   "beat, are never stopped).")
@click.option("--train-samples", type=click.IntRange(1), help="Train on the first N samples.")
@click.option("--max-flash", type=click.IntRange(1), metavar="BYTES",
              help="A flash budget tighter than the board's (model + runtime estimate).")
@click.option("--max-arena", type=click.IntRange(1), metavar="BYTES",
              help="A tensor-arena budget tighter than the board's RAM.")
@click.option("--max-model", type=click.IntRange(1), metavar="BYTES",
              help="A budget for the int8 model itself (the .tflite bytes in flash).")
@click.option("--max-instructions", type=click.IntRange(1), metavar="N",
              help="A budget of emulated instructions per inference: each candidate that fits "
                   "is built with edgecnn's native runtime and run on the emulated Cortex-M4 "
                   "(QEMU mps2-an386) before training. Emulated instructions, not cycles.")
@click.option("--seed", default=0, show_default=True, type=click.IntRange(0, 2**32 - 1),
              help="The sampler's and training's seed; give each of several processes on one "
                   "storage its own, or they draw the same first candidates.")
@click.option("--warm-start/--no-warm-start", default=True, show_default=True,
              help="Begin a new study with each searched architecture's zoo defaults.")
@click.option("--storage", help="An Optuna RDB URL (e.g. sqlite:///study.db, postgresql://...) "
                                "shared by several machines; default: a journal file in --out.")
@RAY_OPTION
@CPUS_PER_TRIAL_OPTION
def search_cmd(board, dataset, data_dir, runtime, trials, out, archs, params, epochs,
               min_epochs, train_samples, max_flash, max_arena, max_model, max_instructions,
               seed, warm_start, storage, ray_address, cpus_per_trial):
    """Search for the most accurate model that fits the board: every candidate's int8 graph is
    measured before training, and only those that fit are trained (Optuna)."""
    from .boards import load_board
    from .search import SearchConfig, search

    load_board(board)           # an unknown board is one line before anything is imported
    if archs is not None and not archs.replace(",", "").strip():
        raise click.BadParameter("names no architecture", param_hint="--archs")
    config = SearchConfig(
        dataset=dataset, board=board, out=out, trials=trials, runtime=runtime,
        data_dir=data_dir, archs=tuple(a.strip() for a in archs.split(",") if a.strip())
        if archs else (), ranges=_ranges(params), epochs=epochs, train_samples=train_samples,
        max_flash=max_flash, max_arena=max_arena, max_model=max_model,
        max_instructions=max_instructions, seed=seed, storage=storage, min_epochs=min_epochs,
        warm_start=warm_start)
    engine = _engine(ray_address, cpus_per_trial)
    result = search(config, log=lambda line: click.echo(line, err=True), engine=engine)
    done = sum(r.status == "complete" and r.same_as is None for r in result.records)
    pruned = sum(r.status == "pruned" and r.same_as is None for r in result.records)
    click.echo(f"trials    {len(result.records)}: {done} trained, {result.rejected} rejected "
               "before training" + (f", {pruned} stopped early" if pruned else ""))
    click.echo(f"report    {result.files['html']}  (trials.csv, trials.json, Pareto fronts)")
    b = result.best
    if b is None:
        click.echo("best      none: no candidate was trained")
        return
    test = (f", {result.best_test_int8_accuracy:.4f} on the test split"
            if result.best_test_int8_accuracy is not None else "")
    click.echo(f"best      trial {b.number}: {b.arch}, int8 {b.val_int8_accuracy:.4f} "
               f"(validation){test}; arena {b.arena_bytes:,} B, flash {b.flash_bytes:,} B")
    click.echo(f"next      edgecnn build --model {result.out / 'best.tflite'} --board {board}")


@click.command("compare")
@click.option("--dataset", default="fashion_mnist", show_default=True)
@click.option("--archs", default="edge_cnn,edge_cnn_gap,dscnn,fcnn", show_default=True,
              help="Comma-separated architectures (see `edgecnn models`).")
@click.option("--epochs", default=10, show_default=True, type=click.IntRange(1))
@click.option("--board", default="nano33", show_default=True)
@click.option("--train-samples", type=click.IntRange(1), help="Train on the first N samples.")
@click.option("--test-samples", type=click.IntRange(1), help="Evaluate on the first N samples.")
@click.option("--out", default="compare", show_default=True, type=click.Path())
@click.option("--force", is_flag=True, help="Replace an earlier edgecnn report folder.")
@RAY_OPTION
@CPUS_PER_TRIAL_OPTION
def compare_cmd(dataset, archs, epochs, board, train_samples, test_samples, out, force,
                ray_address, cpus_per_trial):
    """Train, quantize and measure several architectures; table, plots, the best per goal.
    Each architecture is a trial of `edgecnn search`'s trial runner: in this process, or on a
    Ray cluster with --ray."""
    from .boards import load_board
    from .comparison import compare

    load_board(board)
    engine = _engine(ray_address, cpus_per_trial)
    result = compare(dataset, [a.strip() for a in archs.split(",") if a.strip()],
                     epochs=epochs, board=board, out=out, train_samples=train_samples,
                     test_samples=test_samples, force=force,
                     log=lambda s: click.echo(s, err=True), engine=engine)
    click.echo(f"{'model':<14} {'int8 acc':>9} {'params':>9} {'.tflite B':>10} {'arena B':>9} "
               f"{'host µs':>8}  fits")
    for r in result.rows:
        click.echo(f"{r['name']:<14} {100 * r['int8_accuracy']:>8.2f}% {r['params']:>9,} "
                   f"{r['tflite_bytes']:>10,} {r['arena_bytes']:>9,} {r['host_latency_us']:>8,.0f}"
                   f"  {'yes' if r['fits'] else 'NO'}")
    b = result.best
    click.echo(f"best: accuracy {b['accuracy']}, size {b['size']}, latency {b['latency']}, "
               f"fits {result.board}: {b['fits_board'] or 'none'}")
    click.echo(f"report    {result.out / 'report.html'}")
