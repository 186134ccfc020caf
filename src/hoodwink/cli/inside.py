"""Inside the network: ``neuron``, ``inside``, ``visualize``, ``dream``, ``style`` and ``unseen``.

Each command parses, checks its output paths before any work, calls one function
of :mod:`hoodwink.inside`, and renders: a table (or ``--json``), one
``saved FILE`` line per file written, a Rich progress bar on stderr for the long ones.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
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
)
from hoodwink.models import DEFAULT_MODEL

#: Where ``hoodwink neuron`` looks for MNIST when no ``--data`` is given (the project's shared data).
SHARED_MNIST = Path("../shared/data/mnist")

OutOption = Annotated[Path | None, typer.Option("--out", "-o", help="Save the image here (PNG).")]
PlotOption = Annotated[Path | None, typer.Option("--plot", help="Save the picture with its numbers here (PNG).")]
SeedOption = Annotated[int, typer.Option("--seed", help="Seed of every random choice.")]
WeightsOption = Annotated[str | None, typer.Option(help="Weights file for --model's architecture.")]


def _check(*paths: Path | None) -> None:
    from hoodwink.io import check_output

    for what, path in zip(("--out", "--plot", "--dense-plot"), paths):
        if path is not None:
            check_output(path, suffixes=(".png",), what=what)


def _save_plot(result: Any, path: Path | None) -> str | None:
    if path is None:
        return None
    from hoodwink.viz import save

    saved = save(result, path)
    print_saved(saved)
    return str(saved)


def _save_image(image: Any, path: Path | None) -> str | None:
    if path is None:
        return None
    from hoodwink.images import save_image

    saved = save_image(image, path)
    print_saved(saved)
    return str(saved)


@contextmanager
def _bar(description: str, total: int, quiet: bool = False) -> Iterator[Callable[..., None]]:
    """A Rich progress bar on stderr; yields ``advance(done, total, *info)``."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), TextColumn("{task.fields[info]}"), console=err_console,
                  transient=True, disable=quiet) as progress:
        task = progress.add_task(description, total=total, info="")

        def advance(done: int, all_steps: int, *info: Any) -> None:
            text = " ".join(f"{v:.3g}" if isinstance(v, float) else f"octave {v + 1}" for v in info)
            progress.update(task, completed=done, total=all_steps, info=text)

        yield advance


def _load_shorter(image: str, size: int | None) -> Any:
    from hoodwink.images import load_image
    from hoodwink.inside.style import resize_shorter

    pixels = load_image(image)
    return resize_shorter(pixels, size) if size else pixels


# --- neuron ---------------------------------------------------------------------------------------

@app.command()
def neuron(
    scores: Annotated[list[float] | None, typer.Argument(
        help="Scores out of 10 for: favourite band, friends going, weather, ticket price.")] = None,
    data: Annotated[Path | None, typer.Option(
        "--data", help="MNIST folder to train the 784 -> 10 linear net on (default ../shared/data/mnist "
                       "when it exists).")] = None,
    linear: Annotated[Path | None, typer.Option(
        "--linear", help="A trained linear digits net (hoodwink train linear ... --out FILE).")] = None,
    index: Annotated[int, typer.Option("--index", min=0, help="Which test digit to explain.")] = 0,
    plot: PlotOption = None,
    dense_plot: Annotated[Path | None, typer.Option(
        "--dense-plot", help="Save the dense layer picture (ten dot products on a digit) here.")] = None,
    json_output: JsonOption = False,
) -> None:
    """A neuron (should I go to the concert?), then a layer of ten on a handwritten digit."""
    from hoodwink.inside.neuron import CONCERT, concert, dense_layer

    _check(None, plot, dense_plot)
    if scores is not None and len(scores) != len(CONCERT):
        raise typer.BadParameter(f"give {len(CONCERT)} scores ({', '.join(f for f, _, _ in CONCERT)})")
    n = concert(scores)
    dense = None
    model, digits = _digits(data, linear)
    if model is not None and digits is not None:
        i = min(index, len(digits) - 1)
        dense = dense_layer(model, digits.images[i], int(digits.labels[i]))
    doc = {"neuron": n.to_dict(), "dense": dense.to_dict() if dense else None,
           "plot": _save_plot(n, plot), "dense_plot": _save_plot(dense, dense_plot) if dense else None}
    if dense is None and dense_plot is not None:
        err_console.print("no digits: pass --data MNIST_FOLDER (and --linear FILE to skip training)",
                          highlight=False, markup=False)
    if json_output:
        print_json(doc)
        return
    table = Table(title="Should I go to the concert?", title_justify="left", show_edge=False)
    for column in ("factor", "score", "importance", "score x importance"):
        table.add_column(column, justify="left" if column == "factor" else "right")
    for f, s, w, p in zip(n.factors, n.scores, n.weights, n.products):
        table.add_row(f, f"{s:g}", f"{w:g}", f"{p:g}")
    console.print(table)
    acts = ", ".join(f"{k} {v:.3g}" for k, v in n.activations.items())
    console.print(f"sum {n.total:g} + bias {n.bias:g} = z {n.z:g}; {acts}: "
                  f"{'go' if n.go else 'stay home'}", highlight=False, markup=False)
    if dense is not None:
        label = "" if dense.label is None else f" (a {dense.classes[dense.label]})"
        console.print(f"\ndigit {index}{label}: dense[j] = np.dot(input, W[:, j]) + b[j], W is "
                      f"{dense.W.shape[0]} x {dense.W.shape[1]}", highlight=False, markup=False)
        console.print("  ".join(f"{c}: {v:.2f}" for c, v in zip(dense.classes, dense.dense)), highlight=False, markup=False)
        console.print(f"softmax -> {dense.classes[dense.predicted]} "
                      f"{float(dense.probabilities[dense.predicted]):.1%}; the network's own logits differ by "
                      f"{float(abs(dense.dense - dense.logits).max()):.1e}", highlight=False, markup=False)


def _digits(data: Path | None, linear: Path | None) -> tuple[Any, Any]:
    """A linear digits net (loaded, or trained on the spot) and test digits, or (None, None)."""
    from hoodwink.train.data import load_dataset

    folder = data if data is not None else (SHARED_MNIST if SHARED_MNIST.is_dir() else None)
    if folder is None:
        return None, None
    split = load_dataset(folder)
    if linear is not None:
        return load_cli_model(str(linear)), split.test
    from hoodwink.train.loop import TrainConfig, train

    with err_console.status(f"training the 784 -> 10 linear net on {len(split.train):,} digits ..."):
        result = train("linear", split, TrainConfig(epochs=3, seed=0), device="cpu")
    err_console.print(f"linear net: {result.test_accuracy:.1%} on {len(split.test):,} test digits",
                      highlight=False, markup=False)
    return result.model, split.test


# --- inside ---------------------------------------------------------------------------------------

@app.command()
def inside(
    image: Annotated[str, typer.Argument(help="Image file, URL, or sample (chelsea, coffee, ...).")],
    model: ModelOption = DEFAULT_MODEL,
    layer: Annotated[list[str] | None, typer.Option(
        "--layer", "-l", help="Layer to show (name in the network, repeatable); default a few from early to "
                              "late.")] = None,
    top: Annotated[int, typer.Option("--top", min=1, max=64, help="Channels shown per layer.")] = 8,
    all_layers: Annotated[bool, typer.Option("--all", help="List every named module, not just the table.")] = False,
    plot: PlotOption = None,
    weights: WeightsOption = None,
    device: DeviceOption = None,
    json_output: JsonOption = False,
) -> None:
    """Look inside: the layers, a convolution on the image, the feature maps that respond most."""
    from hoodwink.images import load_image
    from hoodwink.inside.layers import layer_names
    from hoodwink.inside.look import look_inside

    _check(None, plot)
    pixels = load_image(image)
    classifier = load_cli_model(model, device, weights)
    result = look_inside(classifier, pixels, layers=layer, top=top)
    saved = _save_plot(result, plot)
    if json_output:
        doc = {"image": image, **result.to_dict(), "plot": saved}
        if all_layers:
            doc["modules"] = layer_names(classifier)
        print_json(doc)
        return
    table = Table(title=f"{result.model}: {result.parameters:,} parameters", title_justify="left",
                  show_edge=False)
    for column in ("layer", "kind", "in", "out", "parameters"):
        table.add_column(column, justify="right" if column == "parameters" else "left")
    for row in result.table:
        table.add_row(row.name, row.kind, _shape(row.input_shape), _shape(row.output_shape),
                      f"{row.parameters:,}")
    console.print(table)
    if all_layers:
        console.print("modules: " + " ".join(layer_names(classifier)), highlight=False, markup=False)
    c = result.convolution
    if c is not None:
        console.print(f"\n{c.layer}, kernel {c.channel} ({'x'.join(map(str, c.kernel.shape))}) at output "
                      f"{c.position}: sum(kernel x patch) {float(c.products.sum()):+.3f} + bias {c.bias:+.3f} "
                      f"= {c.value:.3f} (the layer computed {float(c.output[c.position]):.3f})", highlight=False, markup=False)
    console.print("\nstrongest channels (mean activation):", highlight=False, markup=False)
    for maps in result.layers:
        channels = ", ".join(f"{ch} ({s:.2f})" for ch, s in zip(maps.channels, maps.strength))
        console.print(f"  {maps.name} {_shape(maps.shape)}: {channels}", highlight=False, markup=False)
    said = ", ".join(f"{p.name} {p.probability:.1%}" for p in result.predictions)
    console.print(f"\nprediction: {said}", highlight=False, markup=False)


def _shape(shape: tuple[int, ...]) -> str:
    return "x".join(str(s) for s in shape[1:]) if shape else "-"


# --- visualize ------------------------------------------------------------------------------------

@app.command()
def visualize(
    target: Annotated[str, typer.Argument(
        help="A class (vulture, 23, 'paper towel') or LAYER:CHANNEL (_blocks.10:5).")],
    model: ModelOption = DEFAULT_MODEL,
    steps: Annotated[int, typer.Option("--steps", min=1, help="Optimisation steps.")] = 256,
    step_size: Annotated[float, typer.Option("--step-size", min=0.0, help="Adam's learning rate.")] = 0.05,
    size: Annotated[int | None, typer.Option("--size", min=16, max=1024,
                                             help="Side of the image (default the model's input).")] = None,
    seed: SeedOption = 0,
    out: OutOption = None,
    plot: PlotOption = None,
    weights: WeightsOption = None,
    device: DeviceOption = None,
    json_output: JsonOption = False,
) -> None:
    """The picture that excites a class (or a channel) most: feature visualisation."""
    from hoodwink.inside.features import parse_target
    from hoodwink.inside.features import visualize as run

    _check(out, plot)
    classifier = load_cli_model(model, device, weights)
    chosen = parse_target(classifier, target)
    with _bar(f"visualize {chosen.describe()}", steps, json_output) as advance:
        result = run(classifier, chosen, steps=steps, step_size=step_size, size=size, seed=seed,
                     progress=advance)
    doc = {**result.to_dict(), "out": _save_image(result.image, out), "plot": _save_plot(result, plot)}
    if json_output:
        print_json(doc)
        return
    what = "logit" if chosen.layer is None else "mean activation"
    said = ", ".join(f"{p.name} {p.probability:.1%}" for p in result.predictions)
    console.print(f"{chosen.describe()}: {what} {result.start:.2f} (random start) -> {result.final:.2f} "
                  f"after {steps} steps" + (f"; the network says {said}" if said else ""), highlight=False, markup=False)


# --- dream ----------------------------------------------------------------------------------------

@app.command()
def dream(
    image: Annotated[str, typer.Argument(help="Image file, URL, or sample (chelsea, coffee, ...).")],
    layer: Annotated[str | None, typer.Option("--layer", "-l", help="Layer to amplify (default a middle one).")] = None,
    octaves: Annotated[int, typer.Option("--octaves", min=1, max=8, help="Image scales, small to full.")] = 3,
    steps: Annotated[int, typer.Option("--steps", min=1, help="Steps per octave.")] = 10,
    step_size: Annotated[float, typer.Option("--step-size", min=0.0, help="Change per step (pixel units).")] = 0.01,
    size: Annotated[int, typer.Option("--size", min=32, max=2048,
                                      help="Shorter side of the dream in pixels.")] = 224,
    seed: SeedOption = 0,
    model: ModelOption = DEFAULT_MODEL,
    out: OutOption = None,
    plot: PlotOption = None,
    weights: WeightsOption = None,
    device: DeviceOption = None,
    json_output: JsonOption = False,
) -> None:
    """DeepDream: make the image more of whatever a layer sees in it."""
    from hoodwink.inside.dream import dream as run

    _check(out, plot)
    pixels = _load_shorter(image, size)
    classifier = load_cli_model(model, device, weights)
    with _bar("dreaming", octaves * steps, json_output) as advance:
        result = run(classifier, pixels, layer=layer, octaves=octaves, steps=steps, step_size=step_size,
                     seed=seed, progress=advance)
    doc = {"image": image, **result.to_dict(), "out": _save_image(result.image, out),
           "plot": _save_plot(result, plot)}
    if json_output:
        print_json(doc)
        return
    rises = ", ".join(f"{b:.2f} -> {a:.2f}" for b, a in zip(result.before, result.after))
    console.print(f"dreamed on {result.layer}: activation norm per octave {rises}", highlight=False, markup=False)


# --- style ----------------------------------------------------------------------------------------

@app.command()
def style(
    content: Annotated[str, typer.Argument(help="The picture to paint (file, URL or sample).")],
    style_image: Annotated[str, typer.Argument(metavar="STYLE", help="The picture whose style to use.")],
    steps: Annotated[int, typer.Option("--steps", min=1, help="Optimiser steps.")] = 150,
    size: Annotated[int, typer.Option("--size", min=32, max=1024, help="Shorter side of the result.")] = 256,
    style_weight: Annotated[float, typer.Option("--style-weight", min=0.0,
                                                help="Style loss against content loss.")] = 30.0,
    optimizer: Annotated[str, typer.Option("--optimizer", help="lbfgs (Gatys) or adam.")] = "lbfgs",
    step_size: Annotated[float | None, typer.Option("--step-size", min=0.0,
                                                    help="Learning rate (default 1 lbfgs, 0.02 adam).")] = None,
    init: Annotated[str, typer.Option("--init", help="Start from the content photo or from noise.")] = "content",
    style_layer: Annotated[list[str] | None, typer.Option(
        "--style-layer", help="Layer for the style (Gram) loss, repeatable; default five early to middle.")] = None,
    content_layer: Annotated[str | None, typer.Option("--content-layer", help="Layer for the content loss.")] = None,
    seed: SeedOption = 0,
    model: ModelOption = DEFAULT_MODEL,
    out: OutOption = None,
    plot: PlotOption = None,
    weights: WeightsOption = None,
    device: DeviceOption = None,
    json_output: JsonOption = False,
) -> None:
    """Style transfer (Gatys et al.): paint CONTENT in the style of STYLE."""
    from hoodwink.inside.style import stylize

    _check(out, plot)
    content_pixels = _load_shorter(content, None)
    style_pixels = _load_shorter(style_image, None)
    classifier = load_cli_model(model, device, weights)
    with _bar(f"style ({optimizer})", steps, json_output) as advance:
        result = stylize(classifier, content_pixels, style_pixels, style_layers=style_layer,
                         content_layer=content_layer, steps=steps, size=size, style_weight=style_weight,
                         optimizer=optimizer, step_size=step_size, init=init, seed=seed, progress=advance)
    doc = {"content": content, "style": style_image, **result.to_dict(),
           "out": _save_image(result.image, out), "plot": _save_plot(result, plot)}
    if json_output:
        print_json(doc)
        return
    console.print(f"style loss {result.style_loss[0]:.3g} -> {result.style_loss[-1]:.3g}, content loss "
                  f"{result.content_loss[0]:.3g} -> {result.content_loss[-1]:.3g} ({result.model}, "
                  f"{len(result.style_layers)} style layers, content at {result.content_layer})", highlight=False, markup=False)


# --- unseen ---------------------------------------------------------------------------------------

@app.command()
def unseen(
    model: ModelOption = DEFAULT_MODEL,
    top: Annotated[int, typer.Option("--top", min=1, max=10, help="Classes shown per photo.")] = 3,
    plot: PlotOption = None,
    weights: WeightsOption = None,
    device: DeviceOption = None,
    json_output: JsonOption = False,
) -> None:
    """It sees what it was trained to see: photos of things outside its classes, forced into them."""
    from hoodwink.inside.bias import unseen as run

    _check(None, plot)
    classifier = load_cli_model(model, device, weights)
    result = run(classifier, top=top)
    saved = _save_plot(result, plot)
    if json_output:
        print_json({**result.to_dict(), "plot": saved})
        return
    table = Table(title=f"{result.model} has no class for any of these", title_justify="left", show_edge=False)
    table.add_column("photo")
    table.add_column("shows")
    table.add_column("the network says")
    for photo in result.photos:
        table.add_row(photo.name, photo.truth,
                      ", ".join(f"{p.name} {p.probability:.1%}" for p in photo.predictions))
    console.print(table)
