"""``hoodwink predict IMAGE... [--model NAME] [--top K] [--json]``"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from hoodwink.cli.app import (
    DeviceOption,
    JsonOption,
    ModelOption,
    OverwriteOption,
    StrictOption,
    app,
    console,
    load_cli_model,
    print_heading,
    print_json,
    print_saved,
    report_failures,
)
from hoodwink.models import DEFAULT_MODEL

#: The shorter side ``predict`` decodes a big image down to, at least (1.7-2x the
#: bundled models' resize of 256-297 pixels).
WORKING_SIDE = 512


@app.command()
def predict(
    images: Annotated[
        list[str],
        typer.Argument(metavar="IMAGE",
                       help="Image files, directories, http(s) URLs, or samples (chelsea, coffee, rocket, astronaut)."),
    ],
    model: ModelOption = DEFAULT_MODEL,
    top: Annotated[int, typer.Option("--top", "-k", min=1, help="How many classes to show.")] = 5,
    weights: Annotated[str | None, typer.Option(help="Weights file for --model's architecture.")] = None,
    device: DeviceOption = None,
    plot: Annotated[
        str | None, typer.Option("--plot", help="Also save prediction bars, one row per image, as this PNG.")
    ] = None,
    strict: StrictOption = False,
    overwrite: OverwriteOption = False,
    json_output: JsonOption = False,
) -> None:
    """Ask the network what it sees: "is this a cat?"."""
    from hoodwink.errors import ImageError
    from hoodwink.images import load_images

    if plot is not None:
        from hoodwink.viz.common import check_png_path

        check_png_path(plot, inputs=images, overwrite=overwrite)
    failed: list[ImageError] = []
    # the model resizes to 256-297 pixels: a huge photo is shrunk in 8 bits while decoding
    named = load_images(images, errors=None if strict else failed, side=WORKING_SIDE)
    if not named:
        raise failed[0] if len(failed) == 1 else ImageError(f"none of the {len(failed)} images could be read")
    from hoodwink.predict import predict as run_predict  # torch: only once an image is read

    classifier = load_cli_model(model, device, weights)
    results = run_predict(classifier, named, top=top)
    if plot is not None:
        from hoodwink.models.classifier import model_input
        from hoodwink.viz.common import save_figure
        from hoodwink.viz.predictions import prediction_figure

        pictures = [model_input(classifier, n.pixels)[0] for n in named]
        print_saved(save_figure(prediction_figure(results, pictures), plot))
    if json_output:
        print_json([r.to_dict() for r in results] + [{"error": str(e)} for e in failed])
        report_failures(failed, len(failed) + len(named), "the others were predicted")
        return
    for result in results:
        print_heading(result.image)
        table = Table(show_edge=False)
        table.add_column("#", justify="right", style="dim")
        table.add_column("class")
        table.add_column("index", justify="right", style="dim")
        table.add_column("probability", justify="right")
        table.add_column("")
        for rank, p in enumerate(result.predictions, 1):
            bar = "█" * max(0, round(p.probability * 20))
            table.add_row(str(rank), p.name, str(p.index), f"{p.probability:.3f}", f"[cyan]{bar}[/]")
        console.print(table)
    report_failures(failed, len(failed) + len(named), "the others were predicted")
