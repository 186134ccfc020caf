"""``hoodwink transfer IMAGE... --from MODEL[,MODEL...] --to MODEL [--attack A] [--eps E]
[--then square [--queries N]] [--json]``"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from hoodwink.cli.app import (
    DeviceOption,
    JsonOption,
    app,
    console,
    load_cli_model,
    print_json,
    print_saved,
)

#: The target's query budget per image with --then when --queries is not given.
THEN_QUERIES = 1000


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
    then: Annotated[str | None, typer.Option(
        "--then", metavar="ATTACK",
        help="Then ask the target with this query attack, started from the crafted images "
             "(the hybrid attack, Suya et al. 2020): square.")] = None,
    queries: Annotated[int | None, typer.Option(
        "--queries", min=2,
        help=f"The target's query budget per image (2 are used; with --then, the attack's "
             f"budget, {THEN_QUERIES} by default).")] = None,
    seed: Annotated[int | None, typer.Option("--seed", help="Seed of the random transforms "
                                                            "(and of --then's).")] = None,
    out_dir: Annotated[Path | None, typer.Option("--out-dir", "-o",
                                                 help="Save the adversarial PNGs here (with "
                                                      "--then, its final ones).")] = None,
    device: DeviceOption = None,
    json_output: JsonOption = False,
) -> None:
    """Craft on models you hold, then see whether a model you can only ask is fooled too.

    With --then square, the images the transfer did not fool go on with Square on the
    target, started from the crafted image, within --queries per image (the hybrid attack).
    """
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
    if then is not None and queries is None:
        queries = THEN_QUERIES
    result = run_transfer(surrogates, goal_model, pixels, goal, threat, attack=attack,
                          queries=queries, then=then, steps=steps, seed=seed)
    doc: dict[str, Any] = {"from": names, "to": target, **result.to_dict()}
    for sample, image in zip(doc["samples"], named):
        sample["image"] = image.name
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
        for i, (sample, image) in enumerate(zip(doc["samples"], named)):
            path = save_image(result.adversarial[i], out_dir / f"{Path(image.name).stem}.png")
            sample["out"] = str(path)
            print_saved(path)
    if json_output:
        print_json(doc)
        return
    how = attack if then is None else f"{attack} then {then}"
    table = Table(title=f"{how} on {' + '.join(names)} -> {target} (linf, eps {eps})",
                  title_justify="left", show_edge=False)
    columns = ["image", "target before", "target after", "fooled", "surrogate fooled"]
    for column in columns + (["queries"] if then is not None else []):
        table.add_column(column)
    for s in doc["samples"]:
        row = [s["image"], s["target_clean"], s["target_adversarial"],
               "[green]yes[/]" if s["success"] else "[red]no[/]",
               "yes" if s["surrogate_success"] else "no"]
        if then is not None:
            row.append(str(s["queries"]))
        table.add_row(*row)
    console.print(table)
    asked = sum(s["queries"] for s in doc["samples"])
    if then is None:
        console.print(f"transfer success {doc['success_rate']:.0%} (surrogates: "
                      f"{doc['surrogate_success_rate']:.0%}); the target was asked "
                      f"{asked} times", highlight=False)
        return
    fooled = sum(s["success"] for s in doc["samples"])
    by_start = sum(s["start_fooled"] for s in doc["samples"])
    median = doc["median_queries"]
    console.print(f"{fooled} of {len(doc['samples'])} fooled, {by_start} by the crafted image "
                  f"alone (query 2); median queries of the fooled: "
                  f"{'-' if median is None else f'{median:g}'} (budget {queries}); the target "
                  f"was asked {asked} times", highlight=False)
