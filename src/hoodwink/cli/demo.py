"""``hoodwink demo [--out DIR] [--open] [--quick] [--json]``: the talk, retold end to end."""

from __future__ import annotations

from typing import Annotated

import typer

from hoodwink.cli.app import (
    DeviceOption,
    JsonOption,
    ModelOption,
    app,
    console,
    err_console,
    print_json,
)
from hoodwink.models import DEFAULT_MODEL


@app.command()
def demo(
    out: Annotated[str, typer.Option("--out", "-o", help="Folder for index.html and the PNGs.")] = "hoodwink-demo",
    open_page: Annotated[bool, typer.Option("--open", help="Open the page in a web browser when done.")] = False,
    quick: Annotated[bool, typer.Option("--quick", help="Fewer steps and sweep points (a fast check).")] = False,
    model: ModelOption = DEFAULT_MODEL,
    device: DeviceOption = None,
    json_output: JsonOption = False,
) -> None:
    """Retell "how to trick a neural network" on a real network: one HTML page with pictures."""
    from pathlib import Path

    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from hoodwink.demo import DemoSettings, output_folder, run_demo
    from hoodwink.models import load_model

    settings = DemoSettings.quick() if quick else DemoSettings()
    output_folder(out)
    with Progress(TextColumn("[bold]{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                  TimeElapsedColumn(), console=err_console, transient=False) as bar:
        task = bar.add_task(f"loading {model}", total=None)
        classifier = load_model(model, device=device)

        def advance(done: int, total: int, title: str) -> None:
            bar.update(task, completed=done, total=total, description=title)

        report = run_demo(out, model=classifier, settings=settings, progress=advance)
    page = Path(report.page).resolve()
    if json_output:
        print_json({"page": str(report.page), "figures": [str(p) for p in report.figures],
                    "images": [str(p) for p in report.images], "sections": list(report.sections),
                    "seconds": round(report.seconds, 2), "model": report.model})
    else:
        console.print(f"wrote {report.page} ({len(report.figures)} pictures, {len(report.images)} adversarial "
                      f"PNGs) in {report.seconds:.0f} s; open {page.as_uri()}", highlight=False, soft_wrap=True)
    if open_page:
        import webbrowser

        if not webbrowser.open(page.as_uri()):
            err_console.print(f"could not open a browser; the page is {page}", highlight=False)
