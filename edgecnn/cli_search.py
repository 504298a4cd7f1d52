"""`edgecnn search`: the most accurate model that fits the board (edgecnn.search)."""
from __future__ import annotations

import click

from .runtimes import runtime_names


def register(main: click.Group) -> None:
    main.add_command(search_cmd)


def _ranges(values) -> dict[str, str]:
    ranges = {}
    for item in values:
        name, sep, text = item.partition("=")
        if not sep or not name.strip():
            raise click.BadParameter(f"{item!r} is not NAME=LO..HI", param_hint="--param")
        ranges[name.strip()] = text.strip()
    return ranges


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
@click.option("--seed", default=0, show_default=True, type=click.IntRange(0, 2**32 - 1))
@click.option("--storage", help="An Optuna RDB URL (e.g. sqlite:///study.db, postgresql://...) "
                                "shared by several machines; default: a journal file in --out.")
@click.option("--ray", "ray_address", is_flag=False, flag_value="local", metavar="[ADDRESS]",
              help="Run the trials on a Ray cluster with Ray Tune (Optuna stays the searcher, "
                   "on the same study): --ray alone starts Ray on this machine (127.0.0.1), "
                   "--ray HOST:PORT joins a cluster's head. Needs pip install \"edgecnn[ray]\".")
@click.option("--cpus-per-trial", default=1, show_default=True, type=click.IntRange(1, 1024),
              help="With --ray: CPUs Ray gives each trial (and TensorFlow's threads).")
def search_cmd(board, dataset, data_dir, runtime, trials, out, archs, params, epochs,
               train_samples, max_flash, max_arena, max_model, max_instructions, seed, storage,
               ray_address, cpus_per_trial):
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
        max_instructions=max_instructions, seed=seed, storage=storage)
    engine = None
    if ray_address is not None:
        from .search_ray import RayEngine

        engine = RayEngine(ray_address, cpus_per_trial)
        engine.connect()        # a cluster that is not there is said before any work
    elif cpus_per_trial != 1:
        raise click.BadParameter("is for --ray (in this process TensorFlow uses every core)",
                                 param_hint="--cpus-per-trial")
    result = search(config, log=lambda line: click.echo(line, err=True), engine=engine)
    done = sum(r.status == "complete" for r in result.records)
    click.echo(f"trials    {len(result.records)}: {done} trained, {result.rejected} rejected "
               "before training")
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
