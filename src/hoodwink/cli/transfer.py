"""``hoodwink transfer IMAGE... --from MODEL[,MODEL...] --to MODEL [--attack A] [--eps E] [--json]``"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from hoodwink.cli.app import DeviceOption, JsonOption, app, console, load_cli_model, print_json


@app.command()
def transfer(
    images: Annotated[list[str], typer.Argument(metavar="IMAGE",
                                                help="Image files, directories, URLs or samples.")],
    sources: Annotated[str, typer.Option("--from", help="The surrogate model(s) you hold, "
                                                        "comma-separated (an ensemble).")],
    target: Annotated[str, typer.Option("--to", help="The model to fool: a name, onnx:FILE or "
                                                     "an http(s) endpoint.")],
    attack: Annotated[str, typer.Option("--attack", "-a", help="The attack run on the "
                                                               "surrogates.")] = "mifgsm-di",
    eps: Annotated[str, typer.Option("--eps", help="Largest change (Linf), e.g. 16/255.")] = "16/255",
    steps: Annotated[int | None, typer.Option("--steps", min=1, help="Attack steps.")] = None,
    into: Annotated[str | None, typer.Option("--into", metavar="CLASS",
                                             help="Target class (default: away).")] = None,
    queries: Annotated[int | None, typer.Option("--queries", min=2, help="The target's query "
                                                                         "budget per image (2 are used).")] = None,
    seed: Annotated[int | None, typer.Option("--seed", help="Seed of the random transforms.")] = None,
    out_dir: Annotated[Path | None, typer.Option("--out-dir", "-o",
                                                 help="Save the crafted PNGs here.")] = None,
    device: DeviceOption = None,
    json_output: JsonOption = False,
) -> None:
    """Craft on models you hold, then see whether a model you can only ask is fooled too."""
    import torch

    from hoodwink.attacks import Goal, ThreatModel
    from hoodwink.attacks import transfer as run_transfer
    from hoodwink.attacks.threat import parse_eps
    from hoodwink.errors import ParameterError
    from hoodwink.images import load_images, save_image
    from hoodwink.io import check_out_dir

    names = [s.strip() for s in sources.split(",") if s.strip()]
    if not names:
        raise ParameterError("--from needs at least one model name")
    threat = ThreatModel("linf", parse_eps(eps))
    if out_dir is not None:
        check_out_dir(out_dir, inputs=[], overwrite=False)
    named = load_images(images)
    surrogates = [load_cli_model(name, device) for name in names]
    goal_model = load_cli_model(target, device)
    first = surrogates[0]
    goal = Goal.untargeted() if into is None else Goal.targeted(first.labels.find(into))
    pixels = torch.cat([first.prepare(n.pixels.to(getattr(first, "device", "cpu")))
                        for n in named])
    result = run_transfer(surrogates, goal_model, pixels, goal, threat, attack=attack,
                          queries=queries, steps=steps, seed=seed)
    doc: dict[str, Any] = {"from": names, "to": target, **result.to_dict()}
    for sample, image in zip(doc["samples"], named):
        sample["image"] = image.name
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
        for i, (sample, image) in enumerate(zip(doc["samples"], named)):
            path = save_image(result.crafted.adversarial[i], out_dir / f"{Path(image.name).stem}.png")
            sample["out"] = str(path)
    if json_output:
        print_json(doc)
        return
    table = Table(title=f"{attack} on {' + '.join(names)} -> {target} (linf, eps {eps})",
                  title_justify="left", show_edge=False)
    for column in ("image", "target before", "target after", "fooled", "surrogate fooled"):
        table.add_column(column)
    for s in doc["samples"]:
        table.add_row(s["image"], s["target_clean"], s["target_adversarial"],
                      "[green]yes[/]" if s["success"] else "[red]no[/]",
                      "yes" if s["surrogate_success"] else "no")
    console.print(table)
    console.print(f"transfer success {doc['success_rate']:.0%} (surrogates: "
                  f"{doc['surrogate_success_rate']:.0%}); the target was asked "
                  f"{sum(s['queries'] for s in doc['samples'])} times", highlight=False)
