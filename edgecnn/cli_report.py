"""CLI commands that write reports for people: report (one model) and compare (several)."""
from __future__ import annotations

import click


def register(main: click.Group) -> None:
    main.add_command(report_cmd)
    main.add_command(compare_cmd)


@click.command("report")
@click.option("--model", required=True, type=click.Path(),
              help="The trained .keras model (its .json and .history.json beside it).")
@click.option("--tflite", type=click.Path(),
              help="The int8 model (default: the .tflite beside --model).")
@click.option("--board", help="Draw the flash and RAM budget on this board.")
@click.option("--bench", type=click.Path(),
              help="A report.json from `edgecnn bench` to include.")
@click.option("--samples", type=click.IntRange(1), help="Use the first K test samples.")
@click.option("--image", "image_index", default=0, show_default=True, type=click.IntRange(0),
              help="Test image whose feature maps are shown.")
@click.option("--layers", help="Comma-separated layer names for feature maps "
                               "(default: up to four activations after non-linearities).")
@click.option("--out", default="report", show_default=True, type=click.Path(),
              help="Output folder.")
@click.option("--force", is_flag=True, help="Replace an earlier edgecnn report folder.")
def report_cmd(model, tflite, board, bench, samples, image_index, layers, out, force):
    """Write an HTML + Markdown report with plots about one trained model."""
    from .reporting import report

    result = report(model, tflite=tflite, board=board, bench=bench, out=out, samples=samples,
                    image_index=image_index,
                    layers=[s.strip() for s in layers.split(",")] if layers else None,
                    force=force)
    n = result.numbers
    click.echo(f"int8 accuracy {n['accuracy']:.4f} (float {n['float_accuracy']:.4f}) on "
               f"{n['test_samples']:,} test samples; most confused: "
               f"{n['most_confused']['true']} -> {n['most_confused']['predicted']}")
    click.echo(f"report    {result.out / 'report.html'}  ({len(result.files)} files)")


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
def compare_cmd(dataset, archs, epochs, board, train_samples, test_samples, out, force):
    """Train, quantize and measure several architectures; table, plots, the best per goal."""
    from .reporting import compare

    result = compare(dataset, [a.strip() for a in archs.split(",") if a.strip()],
                     epochs=epochs, board=board, out=out, train_samples=train_samples,
                     test_samples=test_samples, force=force,
                     log=lambda s: click.echo(s, err=True))
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
