"""CLI command that writes a report for people about one model (compare is with search: it
runs its architectures as trials)."""
from __future__ import annotations

import click


def register(main: click.Group) -> None:
    main.add_command(report_cmd)


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
