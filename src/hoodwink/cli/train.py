"""``hoodwink train ARCH --data DIR [--epochs N] [--adversarial fgsm|pgd --eps E] [--augment PX] [--hidden H]
[--seed S] --out FILE [--plot FILE] [--json]``"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from hoodwink.cli.app import (
    DeviceOption,
    JsonOption,
    app,
    console,
    err_console,
    print_heading,
    print_json,
    print_saved,
)
from hoodwink.errors import ParameterError

#: Default batch sizes. Adversarial training on a small set needs more optimiser steps: on
#: 8,000 MNIST images, PGD-7 at eps 0.3 for 10 epochs is 70.9% robust at batch 128 and 86.9% at
#: batch 50 (Madry et al.'s batch; docs/digits.md has the measurements).
PLAIN_BATCH = 128
ADVERSARIAL_BATCH = 50


def _parse_split(text: str | None) -> tuple[int, int] | None:
    if text is None:
        return None
    parts = text.replace(",", "").split("/")
    try:
        n_train, n_test = (int(p) for p in parts)
    except ValueError:
        raise ParameterError(f"--split must look like 8000/2000, not {text!r}") from None
    return n_train, n_test


def _parse_eps(text: str) -> float:
    from hoodwink.attacks import parse_eps

    value: float = parse_eps(text)
    return value


@app.command()
def train(
    arch: Annotated[str, typer.Argument(help="Architecture to train: linear, mlp or cnn.")],
    data: Annotated[str, typer.Option(
        "--data", help="Folder of MNIST IDX files, or of one sub-folder per class; 'mnist' downloads MNIST.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Where to save the model (.safetensors).")],
    epochs: Annotated[int, typer.Option(min=1, help="Passes over the training set.")] = 10,
    adversarial: Annotated[str | None, typer.Option(
        help="Adversarial training: fgsm (random start, Wong et al. 2020) or pgd (Madry et al. 2018).")] = None,
    eps: Annotated[str, typer.Option(help="Linf radius of the training attack, e.g. 0.3 or 76/255.")] = "0.3",
    steps: Annotated[int, typer.Option(
        "--attack-steps", min=1, help="PGD steps per batch during adversarial training.")] = 7,
    step_size: Annotated[str | None, typer.Option(
        help="Attack step size (default 2.5*eps/steps for PGD, 1.25*eps for FGSM).")] = None,
    warmup: Annotated[float, typer.Option(min=0, help="Epochs over which eps grows from 0.")] = 0.0,
    augment: Annotated[int, typer.Option(
        min=0, help="Data augmentation: random shifts of up to this many pixels (0: none; 2 suits MNIST).")] = 0,
    width: Annotated[int | None, typer.Option(
        min=1, help="cnn: channels of the first conv layer (the second has twice as many; default 32).")] = None,
    hidden: Annotated[int | None, typer.Option(
        min=1, help="mlp, cnn: hidden dense units (default 512 for mlp, 128 for cnn; Madry et al.: 1024).")] = None,
    batch_size: Annotated[int | None, typer.Option(
        min=1, help=f"Images per training step (default {PLAIN_BATCH}; {ADVERSARIAL_BATCH} with --adversarial).")] = None,
    lr: Annotated[float | None, typer.Option(
        help="Adam learning rate, cosine decay to 0 (default 0.01 for linear, 0.001 otherwise).")] = None,
    seed: Annotated[int, typer.Option(help="Seed for initialisation, shuffling and attacks.")] = 0,
    split: Annotated[str | None, typer.Option(
        help="TRAIN/TEST image counts, e.g. 8000/2000 (default: all; 8000/2000 for a test-only MNIST folder).")] = None,
    samples: Annotated[Path | None, typer.Option(
        "--samples-dir", help="Also write test images (never trained on) as PNGs into this folder.")] = None,
    sample_count: Annotated[int, typer.Option(min=1, help="How many PNGs --samples-dir writes.")] = 10,
    templates: Annotated[Path | None, typer.Option(
        help="For the linear model: draw its 10 weight templates into this PNG.")] = None,
    plot: Annotated[Path | None, typer.Option(
        "--plot", help="Save the training curves (loss, accuracy per epoch, test accuracy) as PNG.")] = None,
    device: DeviceOption = None,
    json_output: JsonOption = False,
) -> None:
    """Train a digits network (linear, mlp, cnn), optionally adversarially, and save it."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )
    from rich.table import Table

    from hoodwink.models.registry import model_info
    from hoodwink.train import TrainConfig, export_pngs, load_dataset, save_trained
    from hoodwink.train import train as run_train
    from hoodwink.viz.common import check_png_path

    model_info(arch)  # an unknown name fails before the data loads
    if out.suffix.lower() != ".safetensors":
        raise ParameterError(f"{out}: --out must be a .safetensors file")
    from hoodwink.io import check_out_dir, check_output

    check_output(out, what="--out", probe=True)  # a read-only folder fails now, not after the training
    if templates is not None and arch != "linear":
        raise ParameterError(f"--templates draws the weight templates of a linear classifier, not of {arch!r}")
    for picture in (templates, plot):  # a bad picture path fails before the training, not after
        if picture is not None:
            check_png_path(picture)
    if samples is not None:
        check_out_dir(samples, what="samples folder")
    config = TrainConfig(
        epochs=epochs, batch_size=batch_size or (ADVERSARIAL_BATCH if adversarial else PLAIN_BATCH),
        lr=lr, seed=seed, adversarial=adversarial,
        eps=_parse_eps(eps), steps=steps, step_size=None if step_size is None else _parse_eps(step_size),
        warmup=warmup, augment=augment,
    )
    options: dict[str, Any] = {}
    if width is not None:
        if arch != "cnn":
            raise ParameterError(f"--width is an option of the cnn, not of {arch!r}")
        options["width"] = width
    if hidden is not None:
        if arch not in ("mlp", "cnn"):
            raise ParameterError(f"--hidden is an option of mlp and cnn, not of {arch!r}")
        options["hidden"] = hidden
    dataset = load_dataset(data, split=_parse_split(split), seed=seed)
    if dataset.note:
        err_console.print(f"[yellow]note:[/] {dataset.note}", highlight=False)
    columns = (
        TextColumn(f"training {arch}" + (f" ({adversarial}, eps {config.eps:.3g})" if adversarial else "")),
        BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
        TextColumn("loss {task.fields[loss]:.3f}  accuracy {task.fields[accuracy]:.1%}"),
    )
    with Progress(*columns, console=err_console, transient=False) as bar:
        task = bar.add_task("train", total=None, loss=float("nan"), accuracy=0.0)

        def report(step: int, total: int, loss: float, accuracy: float) -> None:
            bar.update(task, completed=step, total=total, loss=loss, accuracy=accuracy)

        result = run_train(arch, dataset, config, options=options or None, device=device, progress=report)
    print_saved(save_trained(result, str(out)))
    written = [str(p) for p in export_pngs(dataset.test, samples, count=sample_count)] if samples else []
    if templates is not None:
        from hoodwink.viz.templates import templates_figure

        templates_figure(result.model, path=templates)
        print_saved(templates)
    if plot is not None:
        from hoodwink.viz.common import save_figure
        from hoodwink.viz.training import training_figure

        print_saved(save_figure(training_figure(result), plot))
    if json_output:
        document: dict[str, Any] = {"out": str(out), **result.to_dict(), "samples": written,
                                    "templates": str(templates) if templates else None,
                                    "plot": str(plot) if plot else None}
        print_json(document)
        return
    print_heading(f"{arch}: {out}")
    table = Table(show_edge=False)
    for column in ("epoch", "loss", "train accuracy", "seconds"):
        table.add_column(column, justify="right")
    for e in result.history:
        table.add_row(str(e.epoch), f"{e.loss:.4f}", f"{e.accuracy:.2%}", f"{e.seconds:.1f}")
    console.print(table)
    console.print(
        f"test accuracy [bold]{result.test_accuracy:.2%}[/] on {result.test_size:,} images "
        f"(trained on {result.train_size:,} in {result.train_seconds:.1f} s)", highlight=False,
    )
    if written:
        console.print(f"wrote {len(written)} test images to {samples}/ (try: hoodwink predict "
                      f"{written[0]} --model {out})", highlight=False)
