"""``hoodwink attack IMAGES|DIR --attack NAME --out-dir DIR [--into CLASS] [--json]``"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

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
    print_saved,
    report_failures,
)
from hoodwink.errors import HoodwinkError, ImageError
from hoodwink.models import DEFAULT_MODEL


def _list_table() -> Table:
    from hoodwink.attacks import list_attacks

    table = Table(show_edge=False)
    table.add_column("attack")
    table.add_column("norms")
    table.add_column("what it does")
    for info in list_attacks():
        table.add_row(info.name, ", ".join(info.norms), info.description)
    return table


def _out_names(names: list[str]) -> list[str]:
    """One PNG name per image: its stem, made unique with a counter."""
    seen: dict[str, int] = {}
    out = []
    for name in names:
        stem = Path(name).stem if name else "image"
        stem = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in stem) or "image"
        count = seen.get(stem, 0)
        seen[stem] = count + 1
        out.append(f"{stem}.png" if count == 0 else f"{stem}-{count}.png")
    return out


@app.command()
def attack(
    images: Annotated[list[str] | None, typer.Argument(help="Image files, directories, URLs or samples.")] = None,
    attack_name: Annotated[str, typer.Option("--attack", "-a", help="Attack name (--list shows them).")] = "pgd",
    out_dir: Annotated[Path | None, typer.Option("--out-dir", "-o", help="Folder for the PNGs and summary.json.")] = None,
    into: Annotated[str | None, typer.Option("--into", help="Target class for every image (default: away).")] = None,
    eps: Annotated[str | None, typer.Option("--eps", help="Largest change, e.g. 8/255 (pixel units; default "
                                                          "8/255, or no bound for an attack without linf).")] = None,
    norm: Annotated[str | None, typer.Option("--norm", help="linf, l2 or l1 (default: linf when the attack "
                                                             "has it).")] = None,
    steps: Annotated[int | None, typer.Option("--steps", min=1, help="Update steps (default: the attack's).")] = None,
    step_size: Annotated[str | None, typer.Option("--step-size", help="Step size, e.g. 2/255.")] = None,
    restarts: Annotated[int | None, typer.Option("--restarts", min=0, help="Extra runs on unbroken images.")] = None,
    confidence: Annotated[float, typer.Option("--confidence", min=0.0, max=0.999,
                                              help="Winning-class probability needed.")] = 0.0,
    seed: Annotated[int | None, typer.Option("--seed", help="Seed for random starts (default 0; attacks that draw none take no seed).")] = None,
    batch_size: Annotated[int, typer.Option("--batch-size", min=1, help="Images per batch.")] = 16,
    queries: Annotated[int | None, typer.Option(
        "--queries", min=1, help="Query budget per image (black-box attacks: square, hopskipjump, ...).")] = None,
    robust_to: Annotated[str | None, typer.Option(
        "--robust-to", metavar="TRANSFORMS", help="Survive these (EOT): physical, or e.g. rotate:22.5,jpeg:70-95.")] = None,
    eot_samples: Annotated[int, typer.Option(
        "--eot-samples", min=1, help="Transformations averaged per step with --robust-to.")] = 4,
    verify: Annotated[int | None, typer.Option(
        "--verify", min=1, metavar="N", help="Check N fresh real transformations per image (PIL, Pillow's JPEG).")] = None,
    full_size: Annotated[bool, typer.Option(
        "--full-size", help="Attack each photo at its own size, through the model's resize.")] = False,
    quality: Annotated[int | None, typer.Option(
        "--quality", min=1, max=100, help="Save JPEGs of this quality (judged as they read back) instead of PNGs.")] = None,
    model: ModelOption = DEFAULT_MODEL,
    weights: Annotated[str | None, typer.Option(help="Weights file for --model's architecture.")] = None,
    device: DeviceOption = None,
    plot: Annotated[Path | None, typer.Option(
        "--plot", help="Save original | perturbation x50 | adversarial, one row per image (at most 8), as PNG.")] = None,
    list_: Annotated[bool, typer.Option("--list", help="List the attacks and exit.")] = False,
    overwrite: Annotated[bool, typer.Option(
        "--overwrite", help="Allow --out-dir to be the folder of the input images.")] = False,
    strict: Annotated[bool, typer.Option(
        "--strict", help="Stop at the first image that cannot be read (default: go on, report it at the end).")] = False,
    json_output: JsonOption = False,
) -> None:
    """Attack many images; write one adversarial PNG per image and a JSON summary."""
    if list_:
        if json_output:
            from hoodwink.attacks import list_attacks

            print_json([{"name": a.name, "norms": list(a.norms), "description": a.description,
                         "paper": a.paper, "params": {k: v for k, v in a.params.items()}}
                        for a in list_attacks()])
        else:
            console.print(_list_table())
        return
    if not images:
        raise HoodwinkError("give at least one image or directory (or --list)")
    if out_dir is None:
        raise HoodwinkError("--out-dir is required: where to write the adversarial PNGs")
    import torch
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from hoodwink.attacks import AttackResult, Goal, ThreatModel, get_attack
    from hoodwink.attacks.threat import parse_eps
    from hoodwink.cli.trick import _positive, _threat_options
    from hoodwink.images import load_images
    from hoodwink.io import check_out_dir, write_atomic
    from hoodwink.viz import save as save_picture
    from hoodwink.viz.common import check_png_path

    if plot is not None:
        check_png_path(plot)
    norm, eps = _threat_options(attack_name, norm, eps)
    eps_value = None if eps is None else parse_eps(eps, upper=1.0 if norm == "linf" else None)
    size = None if step_size is None else _positive(step_size, "--step-size")
    from hoodwink.attacks.eot import EOT, FullSize, parse_transforms
    from hoodwink.physical.outputs import finish

    if robust_to is not None:
        parse_transforms(robust_to)
    if full_size and plot is not None:
        raise HoodwinkError("--plot draws images of one size: leave out --plot or --full-size")
    robust = {"early_stop": False} if robust_to is not None and hasattr(
        get_attack(attack_name), "early_stop") else {}
    algorithm = get_attack(attack_name, steps=steps, step_size=size, restarts=restarts,
                           confidence=confidence or None, seed=seed, batch_size=batch_size, **robust)
    threat = None if eps_value is None else ThreatModel(norm, eps_value)
    check_out_dir(out_dir, inputs=_input_files(images), overwrite=overwrite)
    failed: list[ImageError] = []
    named = load_images(images, errors=None if strict else failed)
    if not named:
        raise failed[0] if len(failed) == 1 else ImageError(f"none of the {len(failed)} images could be read")
    classifier = load_cli_model(model, device, weights)
    goal = Goal.targeted(classifier.labels.find(into)) if into is not None else Goal.untargeted()
    out_dir.mkdir(parents=True, exist_ok=True)
    files = _out_names([n.name for n in named])
    if quality is not None:
        files = [str(Path(f).with_suffix(".jpg")) for f in files]
    target = FullSize(classifier) if full_size else classifier
    if robust_to is not None:
        target = EOT(target, robust_to, samples=eot_samples, seed=seed or 0)
    per_batch = 1 if full_size else batch_size  # photos of their own sizes go one by one
    extra: list[dict[str, Any]] = []
    results: list[AttackResult] = []
    columns = (TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=err_console, transient=True, disable=False) as progress:
        task = progress.add_task(f"{algorithm.name}", total=len(named))
        for start in range(0, len(named), per_batch):
            chunk = named[start : start + per_batch]
            device = getattr(classifier, "device", "cpu")      # a query-only model has none
            pixels = torch.cat([target.prepare(n.pixels.to(device)) for n in chunk])
            result = algorithm(target, pixels, goal.part(start, start + len(chunk), len(named)),
                               threat, index=torch.arange(start, start + len(chunk)), queries=queries)
            world = finish(target, result, out=[out_dir / files[start + i] for i in range(len(chunk))],
                           quality=quality, verify_samples=verify, robust_to=robust_to,
                           full_size=full_size, seed=seed)
            result = world.result
            extra += [world.sample_json(i) for i in range(len(chunk))]
            results.append(result)
            progress.advance(task, len(chunk))
    samples: list[dict[str, Any]] = []
    for result in results:
        samples += [result.sample_dict(i) for i in range(len(result))]
    for n, f, s, e in zip(named, files, samples, extra):
        s["image"] = n.name
        s["out"] = str(out_dir / f)
        if robust_to is not None or full_size or quality is not None or verify:
            s.update(e)
    success = [s["success"] for s in samples]
    doc = {**results[0].header_dict(), "model": classifier.name, "images": len(samples),
           "success_rate": sum(success) / len(success),
           "forward": sum(s["forward"] for s in samples), "backward": sum(s["backward"] for s in samples),
           "queries": sum(s["queries"] for s in samples),
           "out_dir": str(out_dir), "plot": None if plot is None else str(plot), "samples": samples}
    if plot is not None:
        print_saved(save_picture(AttackResult.concat(results), plot, names=[n.name for n in named]))
    summary = out_dir / "summary.json"
    write_atomic(summary, (json.dumps(doc, indent=2) + "\n").encode("utf-8"))
    if json_output:
        print_json(doc)
        report_failures(failed, len(failed) + len(named), "the others were attacked")
        return
    table = Table(title=f"{algorithm.name} on {len(samples)} images ({norm}, eps {eps or 'unbounded'})",
                  title_justify="left", show_edge=False)
    for column in ("image", "before", "after", "tricked", "Linf*255", "passes"):
        table.add_column(column)
    for s in samples:
        table.add_row(s["image"], s["original"][0]["name"], s["adversarial"][0]["name"],
                      "[green]yes[/]" if s["success"] else "[red]no[/]", f"{s['linf_255']:.1f}",
                      f"{s['forward']}+{s['backward']}")
    console.print(table)
    console.print(f"success {doc['success_rate']:.0%}; wrote {len(samples)} PNGs and {summary}",
                  highlight=False)
    report_failures(failed, len(failed) + len(named), "the others were attacked")


def _input_files(images: list[str]) -> list[Path]:
    """The files among the inputs (a folder stands for its image files), for the overwrite check."""
    from hoodwink.images import IMAGE_SUFFIXES

    files: list[Path] = []
    for arg in images:
        path = Path(arg)
        if path.is_dir():
            files += [p for p in path.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES]
        elif path.is_file():
            files.append(path)
    return files


