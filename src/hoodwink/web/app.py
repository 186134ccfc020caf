"""The Gradio Blocks of ``hoodwink serve``: the Trick tab first.

Everything the page does goes through :class:`~hoodwink.web.session.Playground`
(the public API behind one lock); this module only lays out components and turns
updates into what Gradio shows. Every event that runs the model shares one queue slot
(``concurrency_id="model"``, ``concurrency_limit`` from :class:`Limits`); the stop
button skips the queue and sets the running trick's stop flag, which the attack's
``on_step`` callback turns into an end at the next step.

Example:
    >>> app = build_app(hoodwink.load_model(), Limits())                      # doctest: +SKIP
    >>> app.launch(server_name="127.0.0.1", prevent_thread_lock=True)       # doctest: +SKIP
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import gradio as gr
import numpy as np
import pandas as pd
import torch

from hoodwink.errors import HoodwinkError, ImageError
from hoodwink.models.classifier import Classifier
from hoodwink.models.labels import Labels
from hoodwink.predict import Prediction
from hoodwink.web.digits import ARCHS, SHARED_MNIST, DigitsLab, canvas_to_digit
from hoodwink.web.limits import Limits, decode_data_url, read_upload
from hoodwink.web.samples import SHARED_PHOTOS, Samples
from hoodwink.web.session import (
    GOALS,
    Playground,
    TrickRequest,
    TrickUpdate,
    attack_choices,
    percent,
)

log = logging.getLogger("hoodwink.web")

#: The API names of the events (``gradio_client.Client.predict(..., api_name="/trick")``).
API_TRICK = "/trick"
API_PREDICT = "/predict"
API_SAMPLE = "/sample"
API_STOP = "/stop"

INTRO = """# hoodwink: play with the neural net yourself
Drop in a photo (or take one, or pick a sample), see what the network sees, then pick
any class and watch the network change its mind, step by step. The change is at most
*eps* levels of 255 per pixel: invisible until it is multiplied by 50."""


def upload_image(**options: Any) -> gr.Image:
    """A ``gr.Image`` that hands over the uploaded file untouched, so that hoodwink decodes it
    with the command line's caps and messages (Gradio's own preprocessing opens it with Pillow
    first, so a bad file would end in Gradio's error instead of a message in the page).

    The method is replaced on the instance: a subclass of a Gradio component makes Gradio
    write a ``.pyi`` file beside this module on import.
    """
    image = gr.Image(type="filepath", **options)

    def preprocess(payload: Any) -> str | None:
        if payload is None:
            return None
        url = getattr(payload, "url", None)
        if isinstance(url, str) and url.startswith("data:"):
            return url
        path = getattr(payload, "path", None)
        return None if path is None else str(path)

    image.preprocess = preprocess  # type: ignore[method-assign]
    return image


def class_choices(labels: Labels) -> list[tuple[str, str]]:
    """Every name and synonym as (shown, value): a name two classes share is shown with its
    class index and sent as that index, so each choice means one class."""
    owners: dict[str, set[int]] = {}
    for index, names in enumerate(labels.synonyms):
        for name in names:
            owners.setdefault(name.lower(), set()).add(index)
    seen: set[str] = set()
    choices: list[tuple[str, str]] = []
    for index, names in enumerate(labels.synonyms):
        for name in names:
            if len(owners[name.lower()]) == 1:
                if name.lower() in seen:
                    continue
                seen.add(name.lower())
                choices.append((name, name))
            else:
                choices.append((f"{name} (class {index}: {labels.name(index)})", str(index)))
    return sorted(choices, key=lambda c: c[0].lower())


def explain_methods() -> list[str]:
    """The registered explanation methods, fastest first, without the random baseline."""
    from hoodwink.explain import list_methods

    names = [m.name for m in list_methods() if m.name != "random"]
    order = ["gradcam", "saliency", "integrated-gradients", "smoothgrad", "occlusion", "lime", "kernelshap"]
    return sorted(names, key=lambda n: order.index(n) if n in order else len(order))


#: Colours of the trajectory's classes (the goal's first), named in the plot's caption: the
#: plot's own legend is cut off by Gradio's fixed plot height.
PALETTE = (("red", "#d62728"), ("blue", "#1f77b4"), ("green", "#2ca02c"), ("orange", "#ff7f0e"),
           ("purple", "#9467bd"), ("brown", "#8c564b"), ("pink", "#e377c2"), ("gray", "#7f7f7f"))
#: The Explain tab's four curves and their colours.
CURVES = {"deletion, map": "#d62728", "insertion, map": "#1f77b4", "deletion, random": "#ff9896",
          "insertion, random": "#aec7e8"}


def trajectory_plot(update: TrickUpdate, names: Labels) -> tuple[Any, str]:
    """The trajectory as a LinePlot update (the data, a colour per class) and its legend in
    words ("red: vulture · blue: giant panda"), shown in the status line."""
    frame = trajectory_frame(update, names)
    classes = [names.name(c) for c in update.classes]
    colours = {name: PALETTE[i % len(PALETTE)] for i, name in enumerate(dict.fromkeys(classes))}
    legend = " · ".join(f"{colour}: {name}" for name, (colour, _) in colours.items())
    plot = gr.LinePlot(value=frame, color_map={name: code for name, (_, code) in colours.items()},
                       caption=legend)
    return plot, legend


def to_picture(image: torch.Tensor) -> np.ndarray:
    """(C, H, W) in [0, 1] as an (H, W, 3) uint8 array for the page."""
    pixels = torch.round(image.detach().float().clamp(0, 1) * 255).to(torch.uint8)
    if pixels.shape[0] == 1:
        pixels = pixels.expand(3, -1, -1)
    return np.ascontiguousarray(pixels.permute(1, 2, 0).cpu().numpy())


def bars(predictions: tuple[Prediction, ...] | list[Prediction]) -> dict[str, float]:
    """Predictions as gr.Label's {name: probability}."""
    out: dict[str, float] = {}
    for p in predictions:
        out.setdefault(p.name, p.probability)
    return out


def trajectory_frame(update: TrickUpdate, names: Labels) -> pd.DataFrame:
    """The probability of each tracked class at every step so far (long format)."""
    steps = update.trajectory.shape[0]
    rows = [(step, names.name(cls), float(update.trajectory[step, j]))
            for j, cls in enumerate(update.classes) for step in range(steps)]
    return pd.DataFrame(rows, columns=["step", "class", "probability"])


def _read_back_text(update: TrickUpdate) -> str:
    if update.read_back is None:
        return ""
    top = update.read_back.top1
    return f"The downloaded PNG is read back as **{top.name}** ({percent(top.probability)})."


def _warn(message: str) -> str:
    return f"**Cannot do that:** {message}"


class TrickTab:
    """The Trick tab's components and handlers."""

    def __init__(self, play: Playground, samples: Samples) -> None:
        self.play = play
        self.samples = samples
        self._stops: dict[str, threading.Event] = {}
        self._stops_lock = threading.Lock()

    # handlers ------------------------------------------------------------------

    def decode(self, upload: str | None) -> torch.Tensor:
        if isinstance(upload, str) and upload.startswith("data:"):
            return read_upload(decode_data_url(upload, self.play.limits), self.play.limits)
        return read_upload(upload, self.play.limits)

    def pick_sample(self, name: str | None) -> Any:
        if not name:
            return gr.skip()
        try:
            return str(self.samples.path(name))
        except HoodwinkError as exc:
            raise gr.Error(str(exc)) from None

    def show_top5(self, upload: str | None) -> tuple[Any, str]:
        if upload is None:
            return None, ""
        try:
            pixels = self.decode(upload)
            return bars(self.play.predict(pixels)), ""
        except HoodwinkError as exc:
            return None, _warn(str(exc))

    def stop(self, request: gr.Request) -> str:
        key = _session(request)
        with self._stops_lock:
            event = self._stops.get(key)
        if event is None:
            return ""
        event.set()
        return "stopping..."

    def run(self, upload: str | None, goal: str, target: str | None, attack: str, eps: float,
            steps: float, request: gr.Request) -> Iterator[tuple[Any, ...]]:
        keep = gr.skip()
        stop = threading.Event()
        key = _session(request)
        with self._stops_lock:  # registered first: Stop works while the first step is computed
            self._stops[key] = stop
        stream = None
        try:
            try:
                pixels = self.decode(upload)
                stream = self.play.trick(pixels, TrickRequest(goal, target, attack, eps, int(steps)), stop)
                first = next(stream)
            except HoodwinkError as exc:
                yield keep, keep, keep, keep, None, "", _warn(str(exc)), keep
                return
            names = self.play.model.labels
            update, previous = first, None
            while True:
                yield self._render(update, names, previous, upload)
                if update.done:
                    return
                update, previous = next(stream), update
        finally:
            stop.set()
            if stream is not None:
                stream.close()
            with self._stops_lock:
                if self._stops.get(key) is stop:
                    del self._stops[key]

    def _render(self, update: TrickUpdate, names: Labels, previous: TrickUpdate | None,
                upload: str | None) -> tuple[Any, ...]:
        """The outputs of one update; an image equal to the last one sent is not sent again."""
        goal = names.name(update.goal_class) if update.goal_class >= 0 else ""
        if update.done:
            status = f"**{update.status}**: {update.message}"
        else:
            p = float(update.probabilities[update.goal_class]) if update.goal_class >= 0 else 0.0
            status = f"step {update.row}: the network sees **{update.top1_name}**; " \
                     f"p({goal}) = {percent(p)}"
        same = previous is not None and torch.equal(previous.image, update.image)
        shown = gr.skip() if same else to_picture(update.image)
        change = gr.skip() if same else to_picture(update.perturbation)
        last = {"upload": upload, "png": str(update.png)} if update.png is not None else gr.skip()
        plot, legend = trajectory_plot(update, names)
        status += f"  \nplot: {legend}"
        return (shown, change, plot, bars(update.top),
                str(update.png) if update.png is not None else None,
                _read_back_text(update), status, last)


class ExplainTab:
    """The Explain tab: a map of the image, its deletion/insertion curves beside the random
    baseline's, and clean vs adversarial for the image just tricked."""

    def __init__(self, play: Playground, decode: Callable[[str | None], torch.Tensor]) -> None:
        self.play = play
        self.decode = decode

    def run(self, upload: str | None, method: str, target: str | None) -> tuple[Any, Any, str]:
        from hoodwink.viz import png as picture

        try:
            result, baseline = self.play.explain(self.decode(upload), method, target or None)
        except HoodwinkError as exc:
            return None, None, _warn(str(exc))
        curves = faithfulness_frame(result, baseline)
        f, r = result.faithfulness[0], baseline.faithfulness[0]
        text = (f"**{result.method}** for **{result.target_names[0]}** "
                f"({percent(result.probabilities[0])}): deletion AUC {f.deletion_auc:.3f} "
                f"(random {r.deletion_auc:.3f}; lower is better), insertion AUC {f.insertion_auc:.3f} "
                f"(random {r.insertion_auc:.3f}; higher is better).  \n{colour_legend(result.signed)}")
        return _image(picture(result)), curves, text

    def pair(self, last: dict[str, str] | None, method: str) -> tuple[Any, str]:
        from hoodwink.images import load_image
        from hoodwink.viz import png as picture

        if not last:
            return None, _warn("trick an image first (Trick tab); then its clean and adversarial maps show here")
        try:
            clean = self.decode(last.get("upload"))
            adversarial = load_image(last["png"])
            pair = self.play.explain_pair(clean, adversarial, method)
        except HoodwinkError as exc:
            return None, _warn(str(exc))
        return _image(picture(pair)), (f"clean: **{pair.clean_prediction}**, adversarial: "
                                       f"**{pair.adversarial_prediction}**")


class StoryTab:
    """The Story tab: the sections of ``hoodwink demo`` (:func:`hoodwink.demo.run_demo`, the same
    numbers), computed once, on first asking, in the background, then served from the cache."""

    def __init__(self, play: Playground, settings: Any = None) -> None:
        self.play = play
        self.settings = settings
        self.report: Any = None
        self.error = ""
        self.state = "not started"
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        with self._lock:
            if self._thread is not None and (self._thread.is_alive() or self.report is not None):
                return
            self.error = ""
            self._thread = threading.Thread(target=self._work, name="hoodwink-story", daemon=True)
            self._thread.start()

    def _work(self) -> None:
        from hoodwink.demo import run_demo

        def progress(done: int, total: int, title: str) -> None:
            self.state = f"{done}/{total}: {title}"

        try:
            with self.play.lock:
                self.report = run_demo(self.play.workdir / "story", model=self.play.model,
                                       settings=self.settings, progress=progress)
        except HoodwinkError as exc:
            self.error = str(exc)
        except Exception as exc:  # the page gets one line, the log the rest
            log.exception("story failed")
            self.error = f"something went wrong: {type(exc).__name__}: {exc}"

    def run(self) -> Iterator[tuple[Any, Any, str]]:
        """Start the story (once) and stream its progress; then the pictures and the page."""
        self.start()
        thread = self._thread
        while thread is not None and thread.is_alive():
            yield gr.skip(), gr.skip(), f"telling the story (once; then it is kept): {self.state}"
            thread.join(timeout=1.0)
        if self.report is None:
            yield None, None, _warn(self.error or "the story could not be told")
            return
        report = self.report
        sections = "\n".join(f"{i}. {title}" for i, title in enumerate(report.sections, 1))
        gallery = [(str(path), path.stem.replace("-", " ")) for path in report.figures]
        yield gallery, str(report.page), (f"Computed in {report.seconds:.0f} s on {report.model} "
                                           f"(the numbers of `hoodwink demo`):\n\n{sections}")


class DigitsTab:
    """The Digits tab: draw a digit, see the three nets' probabilities live, the linear net's
    templates, and trick the drawing into another digit."""

    def __init__(self, lab: DigitsLab) -> None:
        self.lab = lab

    @staticmethod
    def drawing(value: Any) -> torch.Tensor:
        """The canvas's picture as a (1, 28, 28) MNIST-like digit."""
        if isinstance(value, dict):
            value = value.get("composite")
        if value is None:
            raise ImageError("draw a digit first")
        return canvas_to_digit(np.asarray(value))

    def _status(self, arch: str) -> str:
        net = self.lab.trained(arch)
        return (f"the **{arch}** net: {net.accuracy:.1%} right on its test images ({net.note}; "
                f"ready in {net.seconds:.0f} s)")

    def live(self, value: Any, arch: str) -> tuple[Any, str]:
        try:
            digit = self.drawing(value)
            return self.lab.predict(arch, digit), self._status(arch)
        except HoodwinkError as exc:
            return None, _warn(str(exc)) if "draw a digit" not in str(exc) else str(exc)

    def templates(self) -> tuple[Any, str]:
        try:
            return _image(self.lab.templates_png()), self._status("linear")
        except HoodwinkError as exc:
            return None, _warn(str(exc))

    def trick(self, value: Any, arch: str, into: str, eps: float, steps: float) -> tuple[Any, Any, str]:
        try:
            digit = self.drawing(value)
            result = self.lab.trick(arch, digit, str(into), float(eps), int(steps))
        except HoodwinkError as exc:
            return None, None, _warn(str(exc))
        after = result.adversarial_predictions[0]
        picture = to_picture(result.adversarial[0]).repeat(8, axis=0).repeat(8, axis=1)
        verdict = "tricked" if bool(result.success[0]) else "not tricked"
        return picture, bars(after), (f"**{verdict}**: the {arch} net now sees **{after[0].name}** "
                                      f"({percent(after[0].probability)}) after {int(result.steps[0])} "
                                      f"step{'s' if int(result.steps[0]) != 1 else ''} "
                                      f"of at most {float(eps):g} per pixel")


def colour_legend(signed: bool) -> str:
    """The map's colours in words (the colour maps of :mod:`hoodwink.viz.explain`)."""
    if signed:
        return "Colours: red is evidence for the class, blue evidence against, white none."
    return ("Colours (map and overlay): black, purple, orange, yellow: from no evidence for the "
            "class to the most.")


def faithfulness_frame(result: Any, baseline: Any) -> pd.DataFrame:
    """Deletion and insertion curves of a map and of the random baseline (long format)."""
    rows = []
    for label, explanation in (("map", result), ("random", baseline)):
        f = explanation.faithfulness[0]
        for kind, curve in (("deletion", f.deletion_curve), ("insertion", f.insertion_curve)):
            last = max(len(curve) - 1, 1)
            rows += [(k / last, float(p), f"{kind}, {label}") for k, p in enumerate(curve)]
    return pd.DataFrame(rows, columns=["fraction of pixels", "probability", "curve"])


def _image(png: bytes) -> Any:
    import io

    from PIL import Image

    with Image.open(io.BytesIO(png)) as im:
        return np.asarray(im.convert("RGB"))


def _session(request: gr.Request | None) -> str:
    return str(getattr(request, "session_hash", None) or "anonymous")


def build_app(model: Classifier, limits: Limits | None = None, *, photos: Path | None = SHARED_PHOTOS,
              workdir: Path | None = None, story: Any = None, lab: DigitsLab | None = None) -> gr.Blocks:
    """The playground's Blocks for ``model`` (call ``.launch()`` on it; see :func:`launch`).

    ``photos``: a folder of photos to offer as samples besides the bundled ones (by default
    the project's shared ImageNet photos, when that folder exists). ``story``: the
    :class:`~hoodwink.demo.DemoSettings` of the Story tab (default: the demo's own). ``lab``:
    the Digits tab's nets (default: trained on ``../shared/data/mnist`` or a drawn set).
    """
    limits = limits or Limits()
    play = Playground(model, limits, workdir)
    samples = Samples(play.workdir / "samples", photos)
    tab = TrickTab(play, samples)
    default_steps = min(30, limits.max_steps)
    default_eps = min(8, limits.max_eps_255)
    labels = model.labels
    target_default = "vulture" if "vulture" in {n.lower() for n in labels.names} else labels.name(0)

    app: gr.Blocks
    with gr.Blocks(title="hoodwink", analytics_enabled=False, delete_cache=(300, 900)) as app:
        gr.Markdown(INTRO)
        with gr.Tab("Trick", id="trick"):
            with gr.Row():
                with gr.Column(scale=1):
                    image = upload_image(label="Your image", sources=["upload", "webcam", "clipboard"],
                                         height=300, elem_id="image")
                    sample = gr.Dropdown(choices=samples.names(), value=None, label="...or a sample",
                                         filterable=True, elem_id="sample")
                    top5 = gr.Label(label="What the network sees", num_top_classes=5, elem_id="top5")
                with gr.Column(scale=1):
                    goal = gr.Radio(list(GOALS), value="into", label="Goal", elem_id="goal")
                    target = gr.Dropdown(choices=class_choices(labels), value=target_default,
                                         label="Class (type to search: every name and synonym)",
                                         filterable=True, allow_custom_value=True, elem_id="target")
                    attack = gr.Dropdown(choices=attack_choices(), value="bim", label="Attack",
                                         elem_id="attack")
                    eps = gr.Slider(1, limits.max_eps_255, value=default_eps, step=1,
                                    label="eps: largest change per pixel, in levels of 255", elem_id="eps")
                    steps = gr.Slider(1, limits.max_steps, value=default_steps, step=1, label="Steps",
                                      elem_id="steps")
                    with gr.Row():
                        start = gr.Button("Trick it", variant="primary", elem_id="start")
                        stop = gr.Button("Stop", variant="stop", elem_id="stop")
                    status = gr.Markdown(elem_id="status")
            with gr.Row():
                shown = gr.Image(label="What the network is shown (8-bit)", format="png",
                                 interactive=False, height=260, elem_id="adversarial")
                change = gr.Image(label="The change, x50", format="png", interactive=False,
                                  height=260, elem_id="perturbation")
                plot = gr.LinePlot(x="step", y="probability", color="class", y_lim=[0, 1],
                                   label="Probabilities at every step", height=330, elem_id="trajectory")
            with gr.Row():
                now = gr.Label(label="What it sees now", num_top_classes=5, elem_id="now")
                with gr.Column():
                    png = gr.File(label="The 8-bit PNG", interactive=False, elem_id="png")
                    seen = gr.Markdown(elem_id="read-back")

            last_trick = gr.State(None)
            sample.change(tab.pick_sample, sample, image, api_name=API_SAMPLE.strip("/"), queue=False)
            image.change(tab.show_top5, image, [top5, status], api_name=API_PREDICT.strip("/"),
                         concurrency_id="model", concurrency_limit=limits.concurrency)
            start.click(tab.run, [image, goal, target, attack, eps, steps],
                        [shown, change, plot, now, png, seen, status, last_trick], api_name=API_TRICK.strip("/"),
                        concurrency_id="model", concurrency_limit=limits.concurrency)
            stop.click(tab.stop, None, status, api_name=API_STOP.strip("/"), queue=False)
        with gr.Tab("Explain", id="explain"):
            explainer = ExplainTab(play, tab.decode)
            gr.Markdown("Where did the network look? The map of the image from the Trick tab, and "
                        "whether to believe it: deleting the pixels it ranks first should make the "
                        "class vanish sooner than deleting random ones.")
            with gr.Row():
                method = gr.Dropdown(choices=explain_methods(), value="gradcam", label="Method",
                                     elem_id="method")
                explain_target = gr.Dropdown(choices=class_choices(labels), value=None,
                                             label="Class to explain (empty: the predicted one)",
                                             filterable=True, allow_custom_value=True,
                                             elem_id="explain-target")
                explain_button = gr.Button("Explain", variant="primary", elem_id="explain")
            explain_text = gr.Markdown(elem_id="explain-status")
            with gr.Row():
                explain_picture = gr.Image(label="The map", format="png", interactive=False,
                                           elem_id="explain-map")
                curves = gr.LinePlot(x="fraction of pixels", y="probability", color="curve",
                                     y_lim=[0, 1], label="Deletion and insertion, beside random",
                                     color_map=CURVES, height=330, elem_id="explain-curves",
                                     caption="deletion: red (the map's order), pink (random); "
                                             "insertion: blue (the map's order), light blue (random)")
            pair_button = gr.Button("Clean vs adversarial: the image just tricked", elem_id="pair")
            pair_text = gr.Markdown(elem_id="pair-status")
            pair_picture = gr.Image(label="Clean vs adversarial", format="png", interactive=False,
                                    elem_id="pair-map")
            explain_button.click(explainer.run, [image, method, explain_target],
                                 [explain_picture, curves, explain_text], api_name="explain",
                                 concurrency_id="model", concurrency_limit=limits.concurrency)
            pair_button.click(explainer.pair, [last_trick, method], [pair_picture, pair_text],
                              api_name="explain_pair", concurrency_id="model",
                              concurrency_limit=limits.concurrency)
        with gr.Tab("Digits", id="digits"):
            digits = DigitsTab(lab if lab is not None else DigitsLab(SHARED_MNIST))
            gr.Markdown("The lecture's small networks on handwritten digits: a linear classifier, a "
                        "2-layer dense net and a small CNN, trained here the first time you use them. "
                        "Pick the brush (left of the canvas), draw a digit and watch their probabilities "
                        "as you draw.")
            with gr.Row():
                with gr.Column():
                    arch = gr.Radio(list(ARCHS), value="linear", label="Network", elem_id="arch")
                    pad = gr.Sketchpad(label="Draw a digit", type="numpy", canvas_size=(280, 280),
                                       elem_id="pad")
                with gr.Column():
                    digit_status = gr.Markdown(elem_id="digits-status")
                    digit_probs = gr.Label(label="What it sees", num_top_classes=10, elem_id="digit-probs")
            with gr.Row():
                into_digit = gr.Dropdown([str(d) for d in range(10)], value="3", label="Trick it into",
                                         elem_id="into-digit")
                digit_eps = gr.Slider(0.05, 0.5, value=0.2, step=0.05, label="eps (pixel units)",
                                      elem_id="digit-eps")
                digit_steps = gr.Slider(1, min(50, limits.max_steps), value=min(20, limits.max_steps),
                                        step=1, label="Steps", elem_id="digit-steps")
                digit_trick = gr.Button("Trick it", variant="primary", elem_id="digit-trick")
            with gr.Row():
                tricked = gr.Image(label="The tricked drawing", format="png", interactive=False,
                                   elem_id="digit-tricked")
                tricked_probs = gr.Label(label="What it sees now", num_top_classes=5, elem_id="digit-now")
            trick_text = gr.Markdown(elem_id="digit-trick-status")
            show_templates = gr.Button("The linear net's 10 templates", elem_id="templates")
            templates = gr.Image(label="Templates (red raises the class, blue lowers it)", format="png",
                                 interactive=False, elem_id="templates-image")
            digit_events = {"concurrency_id": "digits", "concurrency_limit": 1}
            pad.change(digits.live, [pad, arch], [digit_probs, digit_status], trigger_mode="always_last",
                       show_progress="hidden", api_name="digits_live", **digit_events)  # type: ignore[arg-type]
            arch.change(digits.live, [pad, arch], [digit_probs, digit_status], api_visibility="private",
                        **digit_events)  # type: ignore[arg-type]
            digit_trick.click(digits.trick, [pad, arch, into_digit, digit_eps, digit_steps],
                              [tricked, tricked_probs, trick_text], api_name="digits_trick",
                              **digit_events)  # type: ignore[arg-type]
            show_templates.click(digits.templates, None, [templates, digit_status], api_name="templates",
                                 **digit_events)  # type: ignore[arg-type]
        with gr.Tab("Story", id="story"):
            teller = StoryTab(play, story)
            gr.Markdown("The talk, retold on this network: the sections of `hoodwink demo`, with its "
                        "numbers. They are computed once (a few minutes on a CPU), then kept.")
            story_button = gr.Button("Tell the story", variant="primary", elem_id="story")
            story_text = gr.Markdown(elem_id="story-status")
            story_gallery = gr.Gallery(label="The pictures", columns=2, height="auto", object_fit="contain",
                                       elem_id="story-gallery")
            story_page = gr.File(label="The whole page (HTML)", interactive=False, elem_id="story-page")
            story_button.click(teller.run, None, [story_gallery, story_page, story_text], api_name="story",
                               concurrency_id="story", concurrency_limit=1)
    app.queue(max_size=limits.queue_size, default_concurrency_limit=limits.concurrency)
    _PLAYGROUNDS[id(app)] = play
    return app


#: The playground of each app built here, by ``id(app)`` (see :func:`close`).
_PLAYGROUNDS: dict[int, Playground] = {}


def playground(app: gr.Blocks) -> Playground:
    """The :class:`Playground` behind an app made by :func:`build_app`."""
    return _PLAYGROUNDS[id(app)]


def close(app: gr.Blocks) -> None:
    """Stop the server of an app made by :func:`build_app` and delete its written files."""
    try:
        app.close()
    finally:
        play = _PLAYGROUNDS.pop(id(app), None)
        if play is not None:
            play.close()


def launch(app: gr.Blocks, *, host: str = "127.0.0.1", port: int | None = 7860, share: bool = False,
           open_browser: bool = False, limits: Limits | None = None, quiet: bool = True,
           block: bool = True) -> str:
    """Start the server and return its local URL; ``block=False`` returns at once (tests),
    ``app.close()`` stops it. A port in use raises :class:`~hoodwink.errors.HoodwinkError`."""
    limits = limits or Limits()
    try:
        app.launch(server_name=host, server_port=port, share=share, inbrowser=open_browser,
                   max_file_size=limits.max_upload_bytes, show_error=False, quiet=quiet,
                   prevent_thread_lock=True, enable_monitoring=False, ssr_mode=False)
    except OSError as exc:
        raise HoodwinkError(f"cannot serve on {host}:{port}: {_first_line(exc)}") from None
    url = str(app.local_url)
    if block:
        app.block_thread()
    return url


def serve(model: Classifier, *, host: str = "127.0.0.1", port: int = 7860, share: bool = False,
          open_browser: bool = False, limits: Limits | None = None, photos: Path | None = SHARED_PHOTOS,
          lab: DigitsLab | None = None, on_ready: Callable[[str], None] | None = None) -> None:
    """Build the playground for ``model``, start it, tell ``on_ready`` its URL, serve until
    interrupted (what ``hoodwink serve`` runs)."""
    limits = limits or Limits()
    app = build_app(model, limits, photos=photos, lab=lab)
    try:
        url = launch(app, host=host, port=port, share=share, open_browser=open_browser, limits=limits,
                     block=False)
        if on_ready is not None:
            on_ready(url)
        app.block_thread()
    finally:
        close(app)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
