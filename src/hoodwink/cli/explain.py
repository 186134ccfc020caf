"""``hoodwink explain IMAGE... [--method NAME] [--target CLASS] [--model NAME] [--plot FILE] [--json]``"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

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
    err_console,
    load_cli_model,
    print_heading,
    print_json,
    print_saved,
    report_failures,
)
from hoodwink.models import DEFAULT_MODEL

if TYPE_CHECKING:
    from hoodwink.explain.result import Explanation


@app.command()
def explain(
    images: Annotated[
        list[str],
        typer.Argument(metavar="IMAGE", help="Image files, directories, URLs, or samples (chelsea, coffee, ...)."),
    ],
    method: Annotated[str, typer.Option(
        "--method", help="saliency, smoothgrad, integrated-gradients, gradcam, occlusion, lime, "
                         "kernelshap (or random, the baseline).")] = "gradcam",
    target: Annotated[str | None, typer.Option(
        "--target", "-t", help="Class to explain (name or index); default the predicted class.")] = None,
    model: ModelOption = DEFAULT_MODEL,
    plot: Annotated[str | None, typer.Option(
        "--plot", help="Write image | heat map | overlay to this PNG.")] = None,
    versus: Annotated[str | None, typer.Option(
        "--versus", help="An adversarial version of IMAGE: explain both for the same class, "
                         "side by side with their difference.")] = None,
    samples: Annotated[int | None, typer.Option(
        "--samples", min=1, help="Samples for smoothgrad, lime, kernelshap.")] = None,
    layer: Annotated[str | None, typer.Option(
        "--layer", help="Grad-CAM layer (dotted name in the network); default found automatically.")] = None,
    seed: Annotated[int, typer.Option("--seed", help="Seed of every random choice (noise, sampling).")] = 0,
    curve_points: Annotated[int, typer.Option(
        "--curve-points", min=1, help="Points of the deletion/insertion curves.")] = 32,
    sanity: Annotated[bool, typer.Option(
        "--sanity", help="Also run the model-randomisation check (explains again on scrambled weights).")] = False,
    weights: Annotated[str | None, typer.Option(help="Weights file for --model's architecture.")] = None,
    device: DeviceOption = None,
    strict: StrictOption = False,
    overwrite: OverwriteOption = False,
    json_output: JsonOption = False,
) -> None:
    """Show where the network looked, and whether to believe the map."""
    import dataclasses

    from hoodwink.errors import ImageError
    from hoodwink.explain import explain as run_explain
    from hoodwink.explain import explain_attack, method_info
    from hoodwink.explain.result import Explanation
    from hoodwink.images import load_image, load_images
    from hoodwink.viz import save as save_picture
    from hoodwink.viz.common import check_png_path

    info = method_info(method)
    fields = {f.name for f in dataclasses.fields(info.cls)}
    params: dict[str, Any] = {}
    if samples is not None and "samples" in fields:
        params["samples"] = samples
    if layer is not None and "layer" in fields:
        params["layer"] = layer
    if "seed" in fields:
        params["seed"] = seed
    if plot is not None:
        check_png_path(plot, inputs=[*images, *([versus] if versus else [])], overwrite=overwrite)
    failed: list[ImageError] = []
    named = load_images(images, errors=None if strict else failed)
    if not named:
        raise failed[0] if len(failed) == 1 else ImageError(f"none of the {len(failed)} images could be read")
    classifier = load_cli_model(model, device, weights)
    chosen_target: int | None = classifier.labels.find(target) if target is not None else None

    if versus is not None:
        if len(named) != 1:
            raise typer.BadParameter("--versus explains one clean image against one adversarial image")
        adversarial = load_image(versus)
        with err_console.status(f"{info.name}: clean and adversarial ..."):
            pair = explain_attack(classifier, named[0].pixels, adversarial, info.name,
                                  target=chosen_target, faithfulness=True, **params)
        if plot:
            print_saved(save_picture(pair, plot))
        if json_output:
            print_json(pair.to_dict())
            return
        for entry, result in (("clean", pair.clean), ("adversarial", pair.adversarial)):
            _table(result, f"{entry}: {named[0].name}" if entry == "clean" else f"{entry}: {versus}")
        console.print(f"prediction: {pair.clean_prediction} -> {pair.adversarial_prediction}; "
                      f"map change (mean |difference|) {float(pair.difference.abs().mean()):.3f}")
        return

    results = []
    with err_console.status(f"{info.name} ...") as status:
        for k, image in enumerate(named, 1):
            status.update(f"{info.name}: {image.name} ({k}/{len(named)})")
            results.append(run_explain(classifier, [image], info.name, target=chosen_target,
                                       steps=curve_points, sanity=sanity, **params))
    merged = Explanation.concat(results)
    if plot:
        print_saved(save_picture(merged, plot))
    if json_output:
        print_json(merged.to_dict())
    else:
        for i in range(len(merged)):
            _table(merged, merged.name(i), [i])
    report_failures(failed, len(failed) + len(named), "the others were explained")


def _table(result: Explanation, title: str, rows: list[int] | None = None) -> None:
    print_heading(title)
    table = Table(show_edge=False)
    for column in ("method", "target", "probability", "deletion AUC", "insertion AUC", "seconds"):
        table.add_column(column, justify="left" if column in ("method", "target") else "right")
    if result.sanity is not None:
        table.add_column("sanity", justify="left")
    entries = result.to_dict()
    for entry in entries if rows is None else [entries[i] for i in rows]:
        row = [entry["method"], entry["target"], f"{entry['probability']:.3f}",
               _number(entry["deletion_auc"]), _number(entry["insertion_auc"]), f"{entry['seconds']:.2f}"]
        if "sanity" in entry:
            s = entry["sanity"]
            row.append(f"{'ok' if s['passed'] else '[red]flagged[/]'} (similarity {s['similarity']:.2f})")
        table.add_row(*row)
    console.print(table)


def _number(value: object) -> str:
    return "-" if value is None else f"{float(value):.3f}"  # type: ignore[arg-type]
