"""``hoodwink predict IMAGE... [--model NAME] [--top K] [--json]``"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from hoodwink.cli.app import (
    DeviceOption,
    JsonOption,
    ModelOption,
    app,
    console,
    load_cli_model,
    print_json,
)
from hoodwink.models import DEFAULT_MODEL


@app.command()
def predict(
    images: Annotated[
        list[str],
        typer.Argument(help="Image files, directories, http(s) URLs, or samples (chelsea, coffee, rocket, astronaut)."),
    ],
    model: ModelOption = DEFAULT_MODEL,
    top: Annotated[int, typer.Option("--top", "-k", min=1, help="How many classes to show.")] = 5,
    weights: Annotated[str | None, typer.Option(help="Weights file for --model's architecture.")] = None,
    device: DeviceOption = None,
    json_output: JsonOption = False,
) -> None:
    """Ask the network what it sees: "is this a cat?"."""
    from hoodwink.images import load_images
    from hoodwink.predict import predict as run_predict

    named = load_images(images)
    classifier = load_cli_model(model, device, weights)
    results = run_predict(classifier, named, top=top)
    if json_output:
        print_json([r.to_dict() for r in results])
        return
    for result in results:
        table = Table(title=result.image, title_justify="left", show_edge=False)
        table.add_column("#", justify="right", style="dim")
        table.add_column("class")
        table.add_column("index", justify="right", style="dim")
        table.add_column("probability", justify="right")
        table.add_column("")
        for rank, p in enumerate(result.predictions, 1):
            bar = "█" * max(0, round(p.probability * 20))
            table.add_row(str(rank), p.name, str(p.index), f"{p.probability:.3f}", f"[cyan]{bar}[/]")
        console.print(table)
