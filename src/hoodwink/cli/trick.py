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
    OverwriteOption,
    app,
    console,
    err_console,
    fail,
    load_cli_model,
    print_heading,
    print_json,
    print_saved,
)
from hoodwink.models import DEFAULT_MODEL

if TYPE_CHECKING:
    from hoodwink.attacks.result import AttackResult


GOALS = "--into CLASS, --away, --less-like CLASS or --more-like CLASS"


def check_goal(into: str | None, away: bool, less_like: str | None, more_like: str | None) -> None:
    """Exactly one goal, or a usage error (exit 2) in the command line's words."""
    given = [name for name, value in (("--into", into), ("--away", away or None), ("--less-like", less_like),
                                      ("--more-like", more_like)) if value is not None]
    if not given:
        fail(f"choose a goal: {GOALS}", code=2)
    if len(given) > 1:
        fail(f"choose one goal, not {' and '.join(given)}: {GOALS}", code=2)


@app.command()
def trick(
    image: Annotated[str, typer.Argument(help="Image file, URL, sample (chelsea, ...) or black, white, noise.")],
    into: Annotated[str | None, typer.Option("--into", metavar="CLASS", help="Make the network see this class.")] = None,
    away: Annotated[bool, typer.Option("--away", help="Move away from the current prediction.")] = False,
    less_like: Annotated[str | None, typer.Option(
        "--less-like", metavar="CLASS", help="Move away from this class.")] = None,
    more_like: Annotated[str | None, typer.Option(
        "--more-like", metavar="CLASS", help="Move toward this class.")] = None,
    attack: Annotated[str, typer.Option("--attack", "-a", help="Attack name (see `hoodwink attack --list`).")] = "bim",
    eps: Annotated[str | None, typer.Option("--eps", help="Largest change, e.g. 8/255 or 0.03 (pixel units; "
                                              "default 8/255, or no bound for an attack without linf).")] = None,
    norm: Annotated[str | None, typer.Option("--norm", help="linf, l2 or l1 (default: linf when the attack "
                                                             "has it).")] = None,
    steps: Annotated[int | None, typer.Option("--steps", min=1, help="Attack steps (default: the attack's).")] = None,
    step_size: Annotated[str | None, typer.Option(
        "--step-size", help="Size of one step, e.g. 1/255 (default: the attack's; bim: 1/255, the talk's).")] = None,
    restarts: Annotated[int | None, typer.Option("--restarts", min=0, help="Extra runs if not fooled.")] = None,
    confidence: Annotated[float, typer.Option(
        "--confidence", min=0.0, max=0.999, help="Go on until the winning class has this probability.")] = 0.0,
    seed: Annotated[int | None, typer.Option("--seed", help="Seed for random starts (default 0; attacks that draw none take no seed).")] = None,
    queries: Annotated[int | None, typer.Option(
        "--queries", min=1, help="Query budget for the image (black-box attacks: square, hopskipjump, ...).")] = None,
    model: ModelOption = DEFAULT_MODEL,
    weights: Annotated[str | None, typer.Option(help="Weights file for --model's architecture.")] = None,
    device: DeviceOption = None,
    out: Annotated[Path | None, typer.Option(
        "--out", "-o", help="Save the adversarial image here: .png, or .jpg (judged as it reads back).")] = None,
    overwrite: OverwriteOption = False,
    plot: Annotated[Path | None, typer.Option("--plot", help="Save a picture of the trick (PNG).")] = None,
    robust_to: Annotated[str | None, typer.Option(
        "--robust-to", metavar="TRANSFORMS", help="Survive these (EOT): physical, or e.g. "
        "rotate:22.5,scale:0.9-1.4,translate:0.1,brightness:0.05,noise:0.02,blur:1.0,jpeg:70-95.")] = None,
    eot_samples: Annotated[int, typer.Option(
        "--eot-samples", min=1, help="Transformations averaged per step with --robust-to.")] = 4,
    verify: Annotated[int | None, typer.Option(
        "--verify", min=1, metavar="N", help="Check N fresh real transformations (PIL, Pillow's JPEG; "
        "another seed) and report the fraction still fooled.")] = None,
    full_size: Annotated[bool, typer.Option(
        "--full-size", help="Attack the photo at its own size, through the model's resize; --out keeps it.")] = False,
    quality: Annotated[int | None, typer.Option(
        "--quality", min=1, max=100, help="JPEG quality of a .jpg --out (default 90).")] = None,
    json_output: JsonOption = False,
) -> None:
    """Trick the network: make it see a vulture in a cat, or paper towel in a black image."""
    from hoodwink.attacks.threat import parse_eps
    from hoodwink.attacks.trick import make_goal
    from hoodwink.attacks.trick import trick as run_trick
    from hoodwink.images import load_image
    from hoodwink.viz import save as save_picture
    from hoodwink.viz.common import check_png_path

    check_goal(into, away, less_like, more_like)
    norm, eps = _threat_options(attack, norm, eps)
    eps_value = None if eps is None else parse_eps(eps, upper=1.0 if norm == "linf" else None)
    size = _positive(step_size, "--step-size") if step_size is not None else None
    from hoodwink.attacks.eot import parse_transforms
    from hoodwink.cli.progress import query_progress
    from hoodwink.physical.outputs import finish, output_quality

    jpeg_quality = output_quality(out, quality, inputs=(image,), overwrite=overwrite)
    if robust_to is not None:
        parse_transforms(robust_to)
    if plot is not None:
        check_png_path(plot, inputs=(image,), overwrite=overwrite)
    pixels = load_image(image)
    classifier = load_cli_model(model, device, weights)
    make_goal(classifier.labels, into=into, away=away, less_like=less_like, more_like=more_like)
    with query_progress(attack, queries):
        result = run_trick(classifier, pixels, into=into, away=away, less_like=less_like,
                           more_like=more_like, attack=attack, eps=eps_value, norm=norm, steps=steps,
                           step_size=size, confidence=confidence, seed=seed, restarts=restarts,
                           queries=queries, robust_to=robust_to, eot_samples=eot_samples,
                           full_size=full_size)
    world = finish(classifier, result, out=out, quality=jpeg_quality, verify_samples=verify,
                   robust_to=robust_to, full_size=full_size, seed=seed)
    result = world.result
    saved = None if world.saved[0] is None else str(world.saved[0])
    if saved is not None:
        print_saved(saved)
    if plot is not None:
        print_saved(save_picture(result, plot))
        if world.verification is not None:
            print_saved(save_picture(world.verification, plot.with_name(f"{plot.stem}-verify.png"),
                                     names=[image]))
    if json_output:
        doc = {"image": image, **result.header_dict(), **result.sample_dict(0), "goal_probability": _moved(result),
               "trajectory": trajectory_dict(result), "out": saved, "plot": None if plot is None else str(plot),
               **world.sample_json(0)}
        print_json(doc)
        return
    _show(result, image)
    for line in world.lines(0):
        console.print(line, highlight=False, markup=False)


def _threat_options(attack: str, norm: str | None, eps: str | None) -> tuple[str, str | None]:
    """--norm defaults to linf when the attack has it, else to its first norm; --eps to
    8/255, except that an attack without linf given neither (hopskipjump, cw-l2) keeps its
    own threat (no bound but the pixel box)."""
    from hoodwink.attacks import attack_info

    if norm is None:
        norms = attack_info(attack).norms
        norm = "linf" if "linf" in norms else norms[0]
        if eps is None and norm != "linf":
            return norm, None
    return norm, "8/255" if eps is None else eps


def trajectory_dict(result: AttackResult, index: int = 0) -> dict[str, object] | None:
    """Per step of one sample: the probability of the goal's class and the top-1 class (None without a trajectory)."""
    trajectory = result.trajectory
    if trajectory is None:
        return None
    goal = int(result.goal_classes[index])
    rows = int(result.steps[index]) + 1
    top1 = [int(c) for c in trajectory.top1[:rows, index].tolist()]
    return {"class": {"index": goal, "name": result.names.name(goal)},
            "probability": [round(float(p), 6) for p in trajectory.probability(goal)[:rows, index].tolist()],
            "top1": [result.names.name(c) for c in top1]}


def _moved(result: AttackResult, index: int = 0) -> dict[str, float]:
    """p(goal's class) on the clean and on the adversarial image."""
    goal = int(result.goal_classes[index])
    return {"before": float(result.clean_probabilities[index, goal]),
            "after": float(result.adversarial_probabilities[index, goal])}


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


def _show(result: AttackResult, image: str) -> None:
    sample = result.sample_dict(0, top=3)
    print_heading(f"{image}: {result.goal.describe(result.names)} ({result.attack})")
    table = Table(show_edge=False)
    table.add_column("before", justify="left")
    table.add_column("p", justify="right")
    table.add_column("after", justify="left")
    table.add_column("p", justify="right")
    for before, after in zip(sample["original"], sample["adversarial"]):
        table.add_row(before["name"], f"{before['probability']:.3f}", after["name"],
                      f"{after['probability']:.3f}")
    console.print(table)
    moved = _moved(result)
    goal_name = sample["goal_class"]["name"]
    verdict = "[bold green]tricked[/]" if sample["success"] else "[bold red]not tricked[/]"
    steps = sample["steps"]
    console.print(
        f"{verdict}: p({goal_name}) went from {moved['before']:.3f} to {moved['after']:.3f}; "
        f"Linf {sample['linf_255']:.1f}/255, L2 {sample['l2']:.3f}, {steps} step{'s' if steps != 1 else ''}, "
        f"{sample['forward']} forward + {sample['backward']} backward passes"
        + (f", {sample['queries']} of {result.params['queries']} queries" if "queries" in result.params else ""),
        highlight=False)
    if not sample["success"]:
        err_console.print("note: try more --steps or a larger --eps", highlight=False)
