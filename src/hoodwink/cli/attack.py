"""``hoodwink attack IMAGES|DIR --attack NAME --out-dir DIR [--into CLASS] [--json]``"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

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
    resumable,
)
from hoodwink.errors import HoodwinkError, ImageError

if TYPE_CHECKING:
    from hoodwink.images import NamedImage
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
    against: Annotated[str, typer.Option(
        "--against", metavar="auto|labels|predictions",
        help="Untargeted success is judged against the true labels (file names that start with "
             "the class index, like 388_panda.png, or one folder of class sub-folders) or the "
             "model's clean predictions; auto: labels when every input has one.")] = "auto",
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
    if against not in ("auto", "labels", "predictions"):
        raise HoodwinkError(f"--against must be auto, labels or predictions, not {against!r}")
    if into is not None and against != "auto":
        raise HoodwinkError(f"--against {against} is for untargeted attacks: --into is judged "
                            "against the target class")
    from rich.markup import escape
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from hoodwink.attacks import AttackResult, Goal, ThreatModel, get_attack
    from hoodwink.attacks.oracle import num_classes
    from hoodwink.attacks.registry import attack_info
    from hoodwink.attacks.threat import parse_eps
    from hoodwink.cli.trick import _positive, _threat_options
    from hoodwink.evaluate.attack_run import (
        attack_images,
        find_labels,
        judged_against,
        rebuild,
        run_key,
        summary,
    )
    from hoodwink.evaluate.data import is_class_folder, load_data
    from hoodwink.evaluate.store import Store, model_fingerprint
    from hoodwink.io import check_out_dir, write_atomic
    from hoodwink.viz import save as save_picture
    from hoodwink.viz.common import GRID_ROWS, check_png_path

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
    failed: list[ImageError] = []
    class_folder = len(images) == 1 and is_class_folder(images[0])
    named = [] if class_folder else _read(images, failed, strict)
    if against == "labels" and not class_folder:  # before any work: a name without a label
        judged_against(against, find_labels([n.name for n in named], classes=sys.maxsize),
                       targeted=False)
    check_out_dir(out_dir, inputs=_input_files(images), overwrite=overwrite)
    classifier = load_cli_model(model, device, weights)
    folder: dict[str, int] | None = None
    if class_folder:
        data = load_data(images[0], labels=getattr(classifier, "labels", None))
        folder = dict(zip(data.names, data.labels.tolist()))
        named = _read(list(data.names), failed, strict)
    classes = num_classes(classifier) or 0
    found = find_labels([n.name for n in named], classes=classes, folder=folder)
    judged = judged_against(against, found, targeted=into is not None)
    target_class = None if into is None else classifier.labels.find(into)
    labels = found.labels if judged.startswith("true labels") else None
    goal = (Goal.targeted(target_class) if target_class is not None else Goal.untargeted(labels))
    files = _out_names([n.name for n in named])
    if quality is not None:
        files = [str(Path(f).with_suffix(".jpg")) for f in files]
    outs = [out_dir / f for f in files]
    target = FullSize(classifier) if full_size else classifier
    if robust_to is not None:
        target = EOT(target, robust_to, samples=eot_samples, seed=seed or 0)
    extras = robust_to is not None or full_size or quality is not None or bool(verify)

    def finish_batch(result: AttackResult, paths: list[Path]) -> tuple[AttackResult, list[dict[str, Any]]]:
        world = finish(target, result, out=list(paths), quality=quality, verify_samples=verify,
                       robust_to=robust_to, full_size=full_size, seed=seed)
        return world.result, [world.sample_json(i) if extras else {} for i in range(len(paths))]

    options = {"attack": algorithm.name, "params": algorithm.params(), "threat": threat and threat.to_dict(),
               "against": judged, "target": target_class, "queries": queries, "robust_to": robust_to,
               "eot_samples": eot_samples if robust_to is not None else None, "verify": verify,
               "full_size": full_size, "quality": quality, "seed": seed}
    database = out_dir / "attack.sqlite"
    count_queries = queries is not None or attack_info(attack_name).kind != "gradient"
    from hoodwink.attacks.watch import QueryMeter
    from hoodwink.cli.progress import LiveColumn

    meter = QueryMeter()
    budget = f" (budget {queries:,}/image)" if queries is not None else ""
    columns = [TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
               TimeElapsedColumn()]
    if count_queries:  # read live, by the bar's own refresh thread
        columns.append(LiveColumn(lambda: Text(f"queries {meter.spent():,}{budget}")))
    with resumable(database), Store(database) as store, \
            Progress(*columns, console=err_console, transient=True) as bar:
        task = bar.add_task(algorithm.name, total=len(named))
        key = run_key(model_fingerprint(classifier), options)
        run = attack_images(target, algorithm, named, outs, threat, store=store, key=key,
                            finish=finish_batch, labels=labels, target=target_class,
                            queries=queries, batch_size=1 if full_size else batch_size,
                            progress=lambda done, _: bar.update(task, completed=done),
                            meter=meter)
        picture = None if plot is None else rebuild(target, run, named, goal, GRID_ROWS)
    if run.resumed:
        err_console.print(f"resumed: {run.resumed} of {len(named)} images were already done ({database})",
                          highlight=False, markup=False, soft_wrap=True)
    doc = summary(run, named, goal, model=classifier.name, judged_against=judged,
                  out_dir=str(out_dir), plot=None if plot is None else str(plot), store=str(database))
    if picture is not None and plot is not None:
        print_saved(save_picture(picture, plot, names=[n.name for n in named[:GRID_ROWS]]))
    summary_file = out_dir / "summary.json"
    write_atomic(summary_file, (json.dumps(doc, indent=2) + "\n").encode("utf-8"))
    if json_output:
        print_json(doc)
        report_failures(failed, len(failed) + len(named), "the others were attacked")
        return
    samples = doc["samples"]
    table = Table(title=f"{algorithm.name} on {len(samples)} images ({norm}, eps {eps or 'unbounded'}), "
                        f"judged against {judged}",
                  title_justify="left", show_edge=False)
    for column in ("image", "before", "after", "tricked", "Linf*255", "passes"):
        table.add_column(column)
    for s in samples:
        verdict = ("[yellow]already wrong[/]" if s["already_wrong"] else
                   "[green]yes[/]" if s["success"] else "[red]no[/]")
        table.add_row(escape(s["image"]), s["original"][0]["name"], s["adversarial"][0]["name"], verdict,
                      f"{s['linf_255']:.1f}", f"{s['forward']}+{s['backward']}")
    console.print(table)
    wrong = f" ({doc['already_wrong']} already wrong)" if doc["already_wrong"] else ""
    resumed = f"; {run.resumed} resumed from {database}" if run.resumed else ""
    console.print(f"success {doc['success_rate']:.0%}{wrong}; wrote {len(samples)} "
                  f"{'JPEGs' if quality is not None else 'PNGs'} and {summary_file}{resumed}",
                  highlight=False, markup=False)
    report_failures(failed, len(failed) + len(named), "the others were attacked")


def _read(sources: list[str], failed: list[ImageError], strict: bool) -> list[NamedImage]:
    """The images, decoded (an unreadable one goes to ``failed`` unless ``strict``)."""
    from hoodwink.images import load_images

    named = load_images(sources, errors=None if strict else failed)
    if not named:
        raise failed[0] if len(failed) == 1 else ImageError(f"none of the {len(failed)} images could be read")
    return named


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


