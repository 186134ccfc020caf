"""``hoodwink demo``: the talk "how to trick a neural network", retold on a real network.

Julia Evans' talk (and her essay "How to trick a neural network into thinking a
panda is a vulture") goes: a neural network is a function; download one; ask
it "is this a cat?"; follow the gradient to make a black image a "paper towel"
(invisible until multiplied by 50) and a panda a "vulture"; one step "less like
panda" makes a weasel; and it works because networks are "too linear"
(Goodfellow et al. 2015). :func:`run_demo` does every step on EfficientNet-Lite0
and scikit-image's photos, and writes one self-contained HTML page plus a PNG
per picture. Every number on the page is measured on the spot; every
adversarial image is saved as an 8-bit PNG and read back before it is reported.

Example:
    >>> report = run_demo("hoodwink-demo")          # doctest: +SKIP
    >>> report.page                                  # doctest: +SKIP
    PosixPath('hoodwink-demo/index.html')
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

import torch

from hoodwink.errors import ParameterError
from hoodwink.images import load_image, save_image
from hoodwink.models.classifier import Classifier, model_input
from hoodwink.predict import ImagePredictions, Prediction, predict
from hoodwink.viz.common import percent, pixels, save_figure
from hoodwink.viz.page import Page, Picture, Section, write_page

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from hoodwink.attacks.result import AttackResult

#: Called before each chapter with (chapter number from 0, number of chapters, its title).
Progress = Callable[[int, int, str], None]


@dataclass(frozen=True)
class DemoSettings:
    """What the demo does; the defaults tell the talk's story in well under two minutes on 2 CPU cores.

    ``black_steps`` and ``cat_steps`` are the most BIM steps of ``step_size``; each
    trick stops as soon as the 8-bit image is the target with ``confidence``
    (the talk: "90% paper towel"). ``cat_eps`` bounds the cat's change per pixel.
    """

    photos: tuple[str, ...] = ("chelsea", "coffee", "rocket", "astronaut")
    black_target: str = "paper towel"
    black_steps: int = 20
    cat: str = "chelsea"
    cat_target: str = "vulture"
    cat_eps: float = 8 / 255
    cat_steps: int = 40
    step_size: float = 1 / 255
    confidence: float = 0.9
    less_like: tuple[str, ...] = ("chelsea", "rocket")
    less_like_eps: float = 1 / 255
    sweep_eps: float = 8 / 255
    sweep_points: int = 33
    magnify: float = 50.0
    seed: int = 0
    #: "Survives the world": PGD steps for the cat -> vulture trick without and with EOT
    #: (4 transformations per step), and the fresh transformations that check each.
    world_steps: int = 10
    world_checks: int = 100
    #: "You only get to ask": Square's Linf bound and query budget through the local API,
    #: and the transfer's bound and MI-FGSM-DI-TI steps on the demo's model.
    ask_eps: float = 4 / 255
    ask_queries: int = 1000
    transfer_eps: float = 16 / 255
    transfer_steps: int = 10

    def __post_init__(self) -> None:
        for name in ("black_steps", "cat_steps"):
            if getattr(self, name) < 1:
                raise ParameterError(f"{name} must be at least 1, not {getattr(self, name)}")
        if not 0.0 <= self.confidence < 1.0:
            raise ParameterError(f"confidence must be in [0, 1), not {self.confidence}")
        if self.sweep_points < 3:
            raise ParameterError(f"sweep_points must be at least 3, not {self.sweep_points}")
        if not self.photos:
            raise ParameterError("the demo needs at least one photo")

    @classmethod
    def quick(cls) -> DemoSettings:
        """Fewer steps and sweep points: the whole story at a fraction of the cost (for tests)."""
        return cls(black_steps=12, cat_steps=12, sweep_points=9, photos=("chelsea", "coffee"),
                   less_like=("chelsea",), world_steps=4, world_checks=20, ask_queries=100,
                   transfer_steps=4)


@dataclass(frozen=True)
class DemoReport:
    """What :func:`run_demo` wrote: the page, the figures, the adversarial PNGs, and how long it took."""

    page: Path
    figures: tuple[Path, ...]
    images: tuple[Path, ...]
    sections: tuple[str, ...]
    seconds: float
    model: str


@dataclass
class _Run:
    """State shared by the chapters of one demo run (its output folder and what was written)."""

    model: Classifier
    settings: DemoSettings
    out: Path
    figures: list[Path] = field(default_factory=list)
    images: list[Path] = field(default_factory=list)

    def picture(self, fig: Figure, name: str, alt: str, caption: str) -> Picture:
        path = save_figure(fig, self.out / f"{len(self.figures) + 1:02d}-{name}.png")
        self.figures.append(path)
        return Picture(path.read_bytes(), alt, caption, path.name)

    def keep(self, image: torch.Tensor, name: str) -> tuple[Path, ImagePredictions]:
        """Save an adversarial image as an 8-bit PNG and ask the network about the file."""
        path = save_image(image, self.out / f"{name}.png")
        self.images.append(path)
        return path, predict(self.model, load_image(path), top=3)[0]

    def trick(self, image: torch.Tensor, **kwargs: object) -> AttackResult:
        from hoodwink.attacks.trick import trick

        return trick(self.model, image, seed=self.settings.seed, **kwargs)  # type: ignore[arg-type]


def run_demo(
    out: str | os.PathLike[str] = "hoodwink-demo",
    *,
    model: Classifier | None = None,
    settings: DemoSettings | None = None,
    progress: Progress | None = None,
) -> DemoReport:
    """Retell the talk: write ``out/index.html`` (self-contained) and one PNG per picture.

    Args:
        out: folder for the page and the PNGs (created if missing).
        model: an ImageNet :class:`~hoodwink.Classifier` (default: EfficientNet-Lite0).
        settings: steps and sizes; :meth:`DemoSettings.quick` for a fast run.
        progress: called before each chapter as ``progress(done, total, title)``.
    """
    started = time.perf_counter()
    settings = settings or DemoSettings()
    out = output_folder(out)
    if model is None:
        from hoodwink.models import load_model

        model = load_model()
    if model.num_classes != 1000:
        raise ParameterError(f"the demo needs an ImageNet model (1000 classes); {model.name} has {model.num_classes}")
    run = _Run(model, settings, out)
    sections = []
    for done, (title, chapter) in enumerate(CHAPTERS):
        if progress is not None:
            progress(done, len(CHAPTERS), title)
        sections.append(replace(chapter(run), title=title))
    seconds = time.perf_counter() - started
    from hoodwink import __version__

    page = Page(
        title="How to trick a neural network",
        intro=(f"Julia Evans' talk, retold by hoodwink {__version__} on a real network: {model.name}, "
               f"ImageNet's 1000 classes, on this computer's {model.device.type.upper()}. Every number "
               f"and picture below was computed just now, in {seconds:.0f} seconds, and every "
               "adversarial image was saved as an 8-bit PNG and read back before its result was reported."),
        sections=tuple(sections),
        footer=(f"Made by `hoodwink demo` ({__version__}). The pictures are also in this folder as "
                "PNG files, and the adversarial images as the PNGs the network was asked about."),
    )
    path = write_page(page, out / "index.html")
    if progress is not None:
        progress(len(CHAPTERS), len(CHAPTERS), "done")
    return DemoReport(path, tuple(run.figures), tuple(run.images), tuple(s.title for s in sections),
                      seconds, model.name)


def output_folder(out: str | os.PathLike[str]) -> Path:
    """``out`` as a folder that exists (created if missing); a file there is refused."""
    path = Path(out)
    if path.exists() and not path.is_dir():
        raise ParameterError(f"{path}: exists and is not a directory")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ParameterError(f"{path}: cannot create the output folder ({exc.strerror or exc})") from exc
    return path


# --- the chapters, in the talk's order --------------------------------------------------------

def _function(run: _Run) -> Section:
    model = run.model
    parameters = sum(p.numel() for p in model.parameters())
    c, (h, w) = model.channels, model.input_size
    x = load_image("chelsea").to(model.device)
    with torch.no_grad():
        once, twice = model(x[None]), model(x[None])
    same = "the same" if torch.equal(once, twice) else "nearly the same"
    return Section("", (
        f"{model.name} is a function: {h} x {w} x {c} = {h * w * c:,} pixel values in, "
        f"{model.num_classes} probabilities out (one per ImageNet class), made of many simple functions "
        f"with {parameters:,} numbers learned from data. It is deterministic: asked twice about the "
        f"same photo, it gave {same} 1000 numbers. The talk's network took six hours to install; "
        "this one came inside a pip wheel and runs offline."), anchor="function")


def _cat(run: _Run) -> Section:
    s = run.settings
    images = [model_input(run.model, load_image(name))[0] for name in s.photos]
    results = predict(run.model, list(s.photos), top=5)
    said = "; ".join(f"{r.image}: {r.top1.name} {percent(r.top1.probability)}" for r in results)
    fig = _prediction_figure(results, images, "is this a cat?")
    return Section("", (
        "Ask the network about scikit-image's sample photos. It sees the cat, though it is unsure "
        "which kind of cat (the top five classes of each photo, with their probabilities)."),
        (run.picture(fig, "predictions", "prediction bars for the sample photos",
                     f"Top-5 classes of each photo: {said}."),), anchor="cat")


def _gradient(run: _Run) -> Section:
    from hoodwink.gradient import class_gradient
    from hoodwink.viz.gradient import class_gradient_figure

    s = run.settings
    black = load_image("black", size=run.model.input_size)
    start = predict(run.model, black, top=1)[0].top1
    grad = class_gradient(run.model, black, s.black_target)
    fig = class_gradient_figure(grad)
    return Section("", (
        "Which way should the image go? Picture the loss as a hill over all possible images: the best "
        f"direction is the derivative. The gradient of log p({grad.name}) with respect to every pixel "
        "says how to change that pixel to make the image look more like a "
        f"{grad.name}; backpropagation computes it in one backward pass."),
        (run.picture(fig, "gradient", f"the gradient toward {grad.name} on a black image", (
            f"A black image: the network says {start.name} ({percent(start.probability)}), and "
            f"{grad.name} only {percent(grad.probability)}. Middle: the gradient of log p({grad.name}) "
            "divided by its 98th percentile (gray is zero); right: its sign, the step of 1/255 per "
            "pixel the trick takes.")),), anchor="gradient")


def _black(run: _Run) -> Section:
    s = run.settings
    black = load_image("black", size=run.model.input_size)
    result = run.trick(black, into=s.black_target, attack="bim", eps=s.black_steps * s.step_size,
                       steps=s.black_steps, step_size=s.step_size, confidence=s.confidence)
    target = int(result.goal_classes[0])
    name = result.names.name(target)
    path, back = run.keep(result.adversarial[0], _slug(f"black-{name}"))
    steps = int(result.steps[0])
    panel = run.picture(_trick_figure(result, s.magnify), f"black-{_slug(name)}",
                        f"black image tricked into {name}", (
        f"Black, and black after {steps} steps of {pixels(s.step_size)}: {_top(result.predictions(True, 2)[0])}. "
        f"The change (at most {pixels(float(result.linf[0]))} per pixel) is invisible until multiplied by "
        f"{s.magnify:g}. Read back from {path.name}: {_top(back.predictions[:2])}."))
    trajectory = run.picture(_trajectory_figure(result), f"black-{_slug(name)}-trajectory",
                             f"probabilities over the steps, black to {name}",
                             "The probability of every class that mattered, step by step. " + _story(result))
    return Section("", (
        f"Add sign(gradient) x {pixels(s.step_size)} to every pixel, ask again, and repeat until the "
        f"network is {s.confidence:.0%} sure it sees a {name} (at most {s.black_steps} steps)."),
        (panel, trajectory), anchor="paper-towel")


def _vulture(run: _Run) -> Section:
    s = run.settings
    cat = model_input(run.model, load_image(s.cat))[0]
    result = run.trick(cat, into=s.cat_target, attack="bim", eps=s.cat_eps, steps=s.cat_steps,
                       step_size=s.step_size, confidence=s.confidence)
    target = int(result.goal_classes[0])
    name = result.names.name(target)
    path, back = run.keep(result.adversarial[0], _slug(f"{s.cat}-{name}"))
    steps = int(result.steps[0])
    panel = run.picture(_trick_figure(result, s.magnify), f"{s.cat}-{_slug(name)}",
                        f"the cat tricked into {name}", (
        f"The cat before and after {steps} steps, each pixel within {pixels(s.cat_eps)} of the photo: "
        f"{_top(result.predictions(True, 2)[0])}. Read back from {path.name}: {_top(back.predictions[:2])}."))
    trajectory = run.picture(_trajectory_figure(result), f"{s.cat}-{_slug(name)}-trajectory",
                             f"probabilities over the steps, cat to {name}", _story(result) + (
        " The talk's panda passed through \"ostrich\" on its way to \"vulture\"."))
    return Section("", (
        f"The same trick on the cat: more like a {name} at every step, never more than "
        f"{pixels(s.cat_eps)} away from the photo in any pixel (the talk's panda took 100 steps)."),
        (panel, trajectory), anchor="vulture")


def _less_like(run: _Run) -> Section:
    s = run.settings
    pictures = []
    for photo in s.less_like:
        image = model_input(run.model, load_image(photo))[0]
        start = predict(run.model, image, top=1)[0].top1
        result = run.trick(image, less_like=start.index, attack="bim", eps=s.less_like_eps, steps=1,
                           step_size=s.less_like_eps)
        path, back = run.keep(result.adversarial[0], _slug(f"{photo}-less-like-{start.name}"))
        pictures.append(run.picture(
            _trick_figure(result, s.magnify), f"{photo}-less-like-{_slug(start.name)}",
            f"{photo}, one step less like {start.name}", (
                f"{photo}: {start.name} {percent(start.probability)}. One step of {pixels(s.less_like_eps)} "
                f"less like {start.name}: {_top(result.predictions(True, 2)[0])} "
                f"(read back from {path.name}: {back.top1.name} {percent(back.top1.probability)}).")))
    return Section("", (
        "The talk's other move: one step in the direction that makes the image less like what the "
        "network sees (the panda became a weasel). The network's answer tells what it thinks is nearby."),
        tuple(pictures), anchor="less-like")


def _why(run: _Run) -> Section:
    from hoodwink.linearity import linearity_sweep
    from hoodwink.viz.linearity import linearity_figure

    s = run.settings
    cat = model_input(run.model, load_image(s.cat))[0]
    sweep = linearity_sweep(run.model, cat, eps=s.sweep_eps, points=s.sweep_points, seed=s.seed)
    k = sweep.classes.index(sweep.source)
    e = sweep.eps
    one = int((e - s.step_size).abs().argmin())
    middle = len(e) // 2
    moved = float(sweep.logits[middle, k] - sweep.logits[one, k])
    moved_random = float((sweep.random_logits[:, k] - sweep.random_logits[middle, k]).abs().max())
    predicted = -float(sweep.slopes[k] * e[one])
    r2 = sweep.linearity()[k]
    fig = linearity_figure(sweep)
    return Section("", (
        "Why it works (Goodfellow, Shlens and Szegedy 2015, \"Explaining and Harnessing Adversarial "
        "Examples\"): networks are \"too linear\". For a linear score w . x, a step of e * sign(w) "
        "changes the score by e * |w|_1, which grows with the number of pixels: "
        f"{cat.numel():,} changes too small to see add up to a large one. Their figure 4 follows the "
        "logits along the fast gradient sign direction; here is the same for the cat."),
        (run.picture(fig, "why-it-works", "logits along the sign of the gradient", (
            f"Left: logits along x + e * sign(gradient) (less like {sweep.source_name} for e > 0). A step "
            f"of {pixels(float(e[one]))} per pixel lowers the {sweep.source_name} logit by {moved:.1f}; "
            f"right: a random +-1 direction of the same size moves it by at most {moved_random:.1f} over "
            f"the whole range. The tangent at the photo (dashed: what a linear function would do) "
            f"predicts a drop of {predicted:.1f} for that step. Further away the curves bend (a straight "
            f"line fits the {sweep.source_name} curve with R^2 = {r2:.2f}): {run.model.name} is less "
            "linear than Goodfellow's networks, but a few steps, each re-computing the gradient, are all "
            "the trick needs.")),),
        anchor="why")


def _inside(run: _Run) -> Section:
    from hoodwink.inside.tour import inside_chapter

    text, pictures = inside_chapter(run.model, run.picture, photo=run.settings.cat, seed=run.settings.seed)
    return Section("", text, pictures, anchor="inside")


def _world(run: _Run) -> Section:
    from hoodwink.physical.demo import world_chapter

    s = run.settings
    text, pictures = world_chapter(run.model, run.picture, photo=s.cat, target=s.cat_target,
                                   steps=s.world_steps, checks=s.world_checks, seed=s.seed)
    return Section("", text, pictures, anchor="world")


def _ask(run: _Run) -> Section:
    from hoodwink.blackbox_demo import ask_chapter

    s = run.settings
    text, pictures, facts = ask_chapter(run.model, run.picture, photo=s.cat, eps=s.ask_eps,
                                        queries=s.ask_queries, transfer_eps=s.transfer_eps,
                                        transfer_steps=s.transfer_steps, into=s.cat_target,
                                        seed=s.seed, out=run.out)
    if facts.saved is not None:
        run.images.append(facts.saved)
    return Section("", text, pictures, anchor="ask")


def _next(run: _Run) -> Section:
    s = run.settings
    return Section("", (
        "Don't trust machine learning models: try to trick them. Your own photo: "
        f"`hoodwink trick photo.jpg --into {s.cat_target} --eps {pixels(s.cat_eps)} --out adv.png --plot trick.png`, "
        "then `hoodwink predict adv.png` asks the network about the saved file. Read the paper "
        "(Goodfellow et al. 2015, short and readable) and Karpathy's \"Breaking linear classifiers on "
        "ImageNet\", which does the same trick on a linear classifier."), anchor="next")


CHAPTERS: tuple[tuple[str, Callable[[_Run], Section]], ...] = (
    ("A neural network is a (deterministic!) function", _function),
    ("Is this a cat?", _cat),
    ("Which direction? The gradient", _gradient),
    ("Trick it: a black image becomes a paper towel", _black),
    ("Let's do more: the cat becomes a vulture", _vulture),
    ("One step less like a cat", _less_like),
    ("Why it works: networks are too linear", _why),
    ("Inside the network", _inside),
    ("Tricks that survive the world", _world),
    ("You only get to ask", _ask),
    ("What you can do next", _next),
)


# --- helpers ----------------------------------------------------------------------------------

def _prediction_figure(results: Sequence[ImagePredictions], images: Sequence[torch.Tensor], title: str) -> Figure:
    from hoodwink.viz.predictions import prediction_figure

    return prediction_figure(results, images, title=title)


def _trick_figure(result: AttackResult, magnify: float) -> Figure:
    from hoodwink.viz.trick import trick_figure

    return trick_figure(result, magnify=magnify)


def _trajectory_figure(result: AttackResult) -> Figure:
    from hoodwink.viz.trajectory import trajectory_figure

    return trajectory_figure(result)


def _story(result: AttackResult) -> str:
    """What the trajectory of a one-sample result shows, in numbers."""
    target = int(result.goal_classes[0])
    name = result.names.name(target)
    steps = int(result.steps[0])
    final = percent(float(result.adversarial_probabilities[0, target]))
    if result.trajectory is None:
        return f"after {steps} steps it is {final} {name}."
    p = result.trajectory.probability(target)[:, 0]
    visited = " -> ".join(result.names.name(c) for c in result.trajectory.visited(0))
    first = f", {percent(float(p[1]))} after one step" if steps >= 1 and len(p) > 1 else ""
    return (f"{name[:1].upper()}{name[1:]} was {percent(float(p[0]))} at the start{first} and {final} after {steps} "
            f"step{'s' if steps != 1 else ''}; the top class went {visited}.")


def _top(predictions: Sequence[Prediction]) -> str:
    return ", ".join(f"{p.name} {percent(p.probability)}" for p in predictions)


def _slug(text: str) -> str:
    return "-".join("".join(ch if ch.isalnum() else " " for ch in text.lower()).split())
