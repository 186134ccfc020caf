"""``hoodwink explain IMAGE... [--method NAME] [--target CLASS] [--model NAME] [--plot FILE] [--json]``"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

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
    import torch

    from hoodwink.explain.result import Explanation


@app.command()
def explain(
    images: Annotated[
        list[str],
        typer.Argument(help="Image files, directories, URLs, or samples (chelsea, coffee, ...)."),
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
    steps: Annotated[int, typer.Option(
        "--steps", min=1, help="Points of the deletion/insertion curves.")] = 32,
    sanity: Annotated[bool, typer.Option(
        "--sanity", help="Also run the model-randomisation check (explains again on scrambled weights).")] = False,
    weights: Annotated[str | None, typer.Option(help="Weights file for --model's architecture.")] = None,
    device: DeviceOption = None,
    json_output: JsonOption = False,
) -> None:
    """Show where the network looked, and whether to believe the map."""
    import dataclasses

    from hoodwink.explain import explain as run_explain
    from hoodwink.explain import explain_attack, method_info
    from hoodwink.images import load_image, load_images

    info = method_info(method)
    fields = {f.name for f in dataclasses.fields(info.cls)}
    params: dict[str, Any] = {}
    if samples is not None and "samples" in fields:
        params["samples"] = samples
    if layer is not None and "layer" in fields:
        params["layer"] = layer
    if "seed" in fields:
        params["seed"] = seed
    named = load_images(images)
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
            pair.save_plot(plot)
        if json_output:
            print_json(pair.to_dict())
            return
        for entry, result in (("clean", pair.clean), ("adversarial", pair.adversarial)):
            _table(result, f"{entry} ({named[0].name})" if entry == "clean" else f"{entry} ({versus})")
        console.print(f"prediction: {pair.clean_prediction} -> {pair.adversarial_prediction}; "
                      f"map change (mean |difference|) {float(pair.difference.abs().mean()):.3f}")
        return

    results = []
    with err_console.status(f"{info.name} ...") as status:
        for k, image in enumerate(named, 1):
            status.update(f"{info.name}: {image.name} ({k}/{len(named)})")
            results.append(run_explain(classifier, [image], info.name, target=chosen_target,
                                       steps=steps, sanity=sanity, **params))
    if plot:
        from hoodwink.explain.result import Explanation

        merged = Explanation(
            method=info.name, images=_cat([r.images for r in results]),
            attributions=_cat([r.attributions for r in results]), maps=_cat([r.maps for r in results]),
            targets=sum((r.targets for r in results), ()),
            target_names=sum((r.target_names for r in results), ()),
            probabilities=sum((r.probabilities for r in results), ()), signed=results[0].signed,
            names=sum((r.names for r in results), ()),
            faithfulness=sum((r.faithfulness or () for r in results), ()),
            sanity=sum((r.sanity or () for r in results), ()) if sanity else None,
        )
        merged.save_plot(plot)
    if json_output:
        print_json([entry for r in results for entry in r.to_dict()])
        return
    for r in results:
        _table(r, r.name(0))
    if plot:
        console.print(f"figure: {plot}")


def _cat(tensors: list[torch.Tensor]) -> torch.Tensor:
    import torch

    return torch.cat(tensors)


def _table(result: Explanation, title: str) -> None:
    table = Table(title=title, title_justify="left", show_edge=False)
    for column in ("method", "target", "probability", "deletion AUC", "insertion AUC", "seconds"):
        table.add_column(column, justify="left" if column in ("method", "target") else "right")
    if result.sanity is not None:
        table.add_column("sanity", justify="left")
    for entry in result.to_dict():
        row = [entry["method"], entry["target"], f"{entry['probability']:.3f}",
               _number(entry["deletion_auc"]), _number(entry["insertion_auc"]), f"{entry['seconds']:.2f}"]
        if "sanity" in entry:
            s = entry["sanity"]
            row.append(f"{'ok' if s['passed'] else '[red]flagged[/]'} (similarity {s['similarity']:.2f})")
        table.add_row(*row)
    console.print(table)


def _number(value: object) -> str:
    return "-" if value is None else f"{float(value):.3f}"  # type: ignore[arg-type]
