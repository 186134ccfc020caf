"""``hoodwink trick IMAGE (--into CLASS | --away | --less-like CLASS | --more-like CLASS) ...``"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from hoodwink.cli.app import (
    DeviceOption,
    JsonOption,
    ModelOption,
    app,
    console,
    err_console,
    load_cli_model,
    print_json,
)
from hoodwink.models import DEFAULT_MODEL

if TYPE_CHECKING:
    from hoodwink.attacks.result import AttackResult


def check_png(path: Path | None, what: str = "--out", inputs: tuple[str, ...] = (), overwrite: bool = False) -> None:
    """Fail before any work when an output file could not be written, or would overwrite an input."""
    if path is None:
        return
    from hoodwink.io import check_output

    check_output(path, suffixes=(".png",), what=what, inputs=inputs, overwrite=overwrite,
                 noun="images (lossless 8-bit)")


@app.command()
def trick(
    image: Annotated[str, typer.Argument(help="Image file, URL, sample (chelsea, ...) or black, white, noise.")],
    into: Annotated[str | None, typer.Option("--into", help="Make the network see this class.")] = None,
    away: Annotated[bool, typer.Option("--away", help="Move away from the current prediction.")] = False,
    less_like: Annotated[str | None, typer.Option("--less-like", help="Move away from this class.")] = None,
    more_like: Annotated[str | None, typer.Option("--more-like", help="Move toward this class.")] = None,
    attack: Annotated[str, typer.Option("--attack", "-a", help="Attack name (see `hoodwink attack --list`).")] = "bim",
    eps: Annotated[str, typer.Option("--eps", help="Largest change, e.g. 8/255 or 0.03 (pixel units).")] = "8/255",
    norm: Annotated[str, typer.Option("--norm", help="linf, l2 or l1.")] = "linf",
    steps: Annotated[int | None, typer.Option("--steps", min=1, help="Update steps (default: the attack's).")] = None,
    step_size: Annotated[str | None, typer.Option("--step-size", help="Step size, e.g. 1/255.")] = None,
    restarts: Annotated[int | None, typer.Option("--restarts", min=0, help="Extra runs if not fooled.")] = None,
    confidence: Annotated[float, typer.Option(
        "--confidence", min=0.0, max=0.999, help="Go on until the winning class has this probability.")] = 0.0,
    seed: Annotated[int, typer.Option("--seed", help="Seed for random starts.")] = 0,
    model: ModelOption = DEFAULT_MODEL,
    weights: Annotated[str | None, typer.Option(help="Weights file for --model's architecture.")] = None,
    device: DeviceOption = None,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Save the adversarial PNG here.")] = None,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Allow --out to be the input image.")] = False,
    plot: Annotated[Path | None, typer.Option("--plot", help="Save a picture of the trick (PNG).")] = None,
    json_output: JsonOption = False,
) -> None:
    """Trick the network: make it see a vulture in a cat, or paper towel in a black image."""
    from hoodwink.attacks.threat import parse_eps
    from hoodwink.attacks.trick import make_goal
    from hoodwink.attacks.trick import trick as run_trick
    from hoodwink.images import load_image, save_image
    from hoodwink.viz.common import check_png_path, save_figure
    from hoodwink.viz.trick import trick_figure

    eps_value = parse_eps(eps, upper=1.0 if norm == "linf" else None)
    size = None if step_size is None else _positive(step_size, "--step-size")
    check_png(out, inputs=(image,), overwrite=overwrite)
    if plot is not None:
        check_png_path(plot)
    pixels = load_image(image)
    classifier = load_cli_model(model, device, weights)
    make_goal(classifier.labels, into=into, away=away, less_like=less_like, more_like=more_like)
    result = run_trick(classifier, pixels, into=into, away=away, less_like=less_like, more_like=more_like,
                       attack=attack, eps=eps_value, norm=norm, steps=steps, step_size=size,
                       confidence=confidence, seed=seed, restarts=restarts)
    saved = str(save_image(result.adversarial[0], out)) if out is not None else None
    if plot is not None:
        save_figure(trick_figure(result), plot)
    if json_output:
        doc = {"image": image, **result.header_dict(), **result.sample_dict(0), "out": saved,
               "plot": None if plot is None else str(plot)}
        print_json(doc)
        return
    _show(result, image, saved)


def _positive(text: str, what: str) -> float:
    from hoodwink.attacks.threat import parse_eps
    from hoodwink.errors import ParameterError

    try:
        value = parse_eps(text, upper=None)
    except ParameterError:
        raise ParameterError(f"{what} must be a positive number like 1/255 or 0.5, not {text!r}") from None
    if not (math.isfinite(value) and value > 0):
        raise ParameterError(f"{what} must be a positive number, not {text!r}")
    return value


def _show(result: AttackResult, image: str, saved: str | None) -> None:
    sample = result.sample_dict(0, top=3)
    table = Table(title=f"{image}: {result.goal.describe(result.names)} ({result.attack})",
                  title_justify="left", show_edge=False)
    table.add_column("before", justify="left")
    table.add_column("p", justify="right")
    table.add_column("after", justify="left")
    table.add_column("p", justify="right")
    for before, after in zip(sample["original"], sample["adversarial"]):
        table.add_row(before["name"], f"{before['probability']:.3f}", after["name"],
                      f"{after['probability']:.3f}")
    console.print(table)
    verdict = "[bold green]tricked[/]" if sample["success"] else "[bold red]not tricked[/]"
    console.print(
        f"{verdict}: Linf {sample['linf_255']:.1f}/255, L2 {sample['l2']:.3f}, "
        f"{sample['steps']} steps, {sample['forward']} forward + {sample['backward']} backward passes",
        highlight=False)
    if saved:
        console.print(f"saved {saved}", highlight=False)
    if not sample["success"]:
        err_console.print("note: try more --steps or a larger --eps", highlight=False)
