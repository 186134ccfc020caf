"""The Digits tab's nets: the lecture's linear, 2-layer and convolutional digit classifiers,
trained on first use and kept (no Gradio here).

Training data: MNIST from ``../shared/data/mnist`` when that folder exists (its first 8,000
test images train, the last 2,000 test: :func:`hoodwink.train.load_dataset`), else a small
set drawn here: every digit in Pillow's own font at random sizes, positions and
thicknesses (:func:`drawn_digits`). Training is :func:`hoodwink.train.train`; a file from
``hoodwink train`` can be given instead. A drawing from the canvas is cropped to its ink and
centred in a 28x28 square as MNIST digits are (:func:`canvas_to_digit`).

Example:
    >>> lab = DigitsLab(Path("/tmp/digits"))                         # doctest: +SKIP
    >>> lab.model("linear").labels.names[:3]                         # doctest: +SKIP
    ['0', '1', '2']
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from hoodwink.errors import ImageError, ParameterError
from hoodwink.models.classifier import Classifier

#: The lecture's nets, in the order the page lists them.
ARCHS = ("linear", "mlp", "cnn")
#: Where MNIST is looked for (the project's shared data).
SHARED_MNIST = Path("../shared/data/mnist")
#: Epochs of first-use training, per net (a few seconds to a minute on a CPU).
EPOCHS = {"linear": 3, "mlp": 3, "cnn": 2}


def drawn_digits(per_class: int = 150, seed: int = 0) -> Any:
    """A small digits set drawn with Pillow's font (when no MNIST is at hand): (N, 1, 28, 28)."""
    from PIL import Image, ImageDraw, ImageFont

    from hoodwink.train import DataSplit, ImageSet

    rng = np.random.default_rng(seed)
    images, labels = [], []
    for digit in range(10):
        for _ in range(per_class):
            font = ImageFont.load_default(size=int(rng.integers(60, 96)))
            canvas = Image.new("L", (140, 140), 0)
            draw = ImageDraw.Draw(canvas)
            draw.text((int(rng.integers(20, 50)), int(rng.integers(0, 20))), str(digit), fill=255, font=font,
                      stroke_width=int(rng.integers(0, 6)), stroke_fill=255)
            canvas = canvas.rotate(float(rng.uniform(-15, 15)), resample=Image.Resampling.BILINEAR)
            # the canvas's own preparation, so that drawn training digits look like drawings
            images.append(canvas_to_digit(np.asarray(canvas))[0].numpy())
            labels.append(digit)
    order = rng.permutation(len(labels))
    x = torch.from_numpy(np.stack(images)[order]).unsqueeze(1)
    y = torch.tensor(labels)[order]
    n_test = len(y) // 5
    source = "digits drawn with Pillow's font"
    return DataSplit(ImageSet(x[n_test:], y[n_test:], source=source),
                     ImageSet(x[:n_test], y[:n_test], source=source),
                     f"no MNIST found: {len(y) - n_test} {source} train, {n_test} test")


def canvas_to_digit(pixels: np.ndarray) -> torch.Tensor:
    """A drawing (H, W) or (H, W, C), dark ink on light or light on dark, as MNIST does it:
    (1, 28, 28) in [0, 1], white ink on black, the ink's box scaled to 20 pixels and centred."""
    from PIL import Image

    array = np.asarray(pixels, dtype=np.float32)
    if array.ndim == 3:
        if array.shape[2] == 4:  # ink drawn on a transparent layer: its alpha is the ink
            alpha = array[..., 3]
            array = alpha if alpha.max() > 0 and alpha.min() < alpha.max() else array[..., :3].mean(2)
        else:
            array = array[..., :3].mean(2)
    if array.ndim != 2 or array.size == 0:
        raise ImageError("the drawing is not an image")
    if array.max() > 1.0:
        array = array / 255.0
    if np.median(array) > 0.5:  # dark ink on white paper
        array = 1.0 - array
    ink = np.argwhere(array > 0.2)
    if len(ink) == 0:
        raise ImageError("draw a digit first")
    (top, left), (bottom, right) = ink.min(0), ink.max(0) + 1
    crop = array[top:bottom, left:right]
    scale = 20.0 / max(crop.shape)
    h, w = max(1, round(crop.shape[0] * scale)), max(1, round(crop.shape[1] * scale))
    small = np.asarray(Image.fromarray((crop * 255).astype(np.uint8)).resize((w, h), Image.Resampling.LANCZOS))
    out = np.zeros((28, 28), dtype=np.float32)
    y, x = (28 - h) // 2, (28 - w) // 2
    out[y:y + h, x:x + w] = small / 255.0
    return torch.from_numpy(out).unsqueeze(0)


def digits_files(paths: list[Path]) -> dict[str, Path]:
    """Saved digits nets (``hoodwink train`` output) by architecture, from their metadata."""
    from hoodwink.models.registry import read_metadata

    files: dict[str, Path] = {}
    for path in paths:
        arch = str(read_metadata(path).get("arch", ""))
        if arch not in ARCHS:
            raise ParameterError(f"{path}: a {arch or 'non-digits'} net; the Digits tab takes "
                                 f"{', '.join(ARCHS)} (from hoodwink train)")
        files[arch] = path
    return files


@dataclass(frozen=True)
class Trained:
    """A digits net and how it was trained."""

    model: Classifier
    accuracy: float
    note: str
    seconds: float


class DigitsLab:
    """The digits nets, each trained on first use (one at a time) and kept.

    Args:
        workdir: where nothing big is written (kept for symmetry with the playground).
        mnist: a folder of MNIST IDX files (None or missing: the drawn set).
        files: a saved net per architecture (``hoodwink train`` output) to use instead.
    """

    def __init__(self, mnist: Path | None = SHARED_MNIST, files: dict[str, Path] | None = None) -> None:
        self.mnist = mnist
        self.files = dict(files or {})
        self.lock = threading.Lock()
        self._trained: dict[str, Trained] = {}
        self._data: Any = None

    def data(self) -> Any:
        if self._data is None:
            from hoodwink.train import load_dataset

            if self.mnist is not None and self.mnist.is_dir():
                self._data = load_dataset(self.mnist)
            else:
                self._data = drawn_digits()
        return self._data

    def trained(self, arch: str, progress: Callable[[str], None] | None = None) -> Trained:
        """The net ``arch`` (trained now if it is the first time), under the lab's lock."""
        if arch not in ARCHS:
            raise ParameterError(f"unknown digits net {arch!r}; choose one of {', '.join(ARCHS)}")
        with self.lock:
            if arch not in self._trained:
                self._trained[arch] = self._train(arch, progress)
            return self._trained[arch]

    def _train(self, arch: str, progress: Callable[[str], None] | None) -> Trained:
        import time

        from hoodwink.train import TrainConfig, accuracy, train

        start = time.perf_counter()
        data = self.data()
        if arch in self.files:
            from hoodwink.models import load_model

            model = load_model(self.files[arch], device="cpu")
            return Trained(model, accuracy(model, data.test), f"loaded from {self.files[arch].name}",
                           time.perf_counter() - start)
        if progress is not None:
            progress(f"training the {arch} net on {len(data.train):,} images (once)...")
        small = len(data.train) < 5000  # the drawn set: more passes over fewer images
        epochs = EPOCHS[arch] * (4 if small else 1)
        result = train(arch, data, TrainConfig(epochs=epochs), device="cpu")
        note = data.note or f"MNIST, {len(data.train):,} training images"
        return Trained(result.model, result.test_accuracy, note, time.perf_counter() - start)

    def predict(self, arch: str, digit: torch.Tensor) -> dict[str, float]:
        """{digit: probability} for a (1, 28, 28) drawing."""
        net = self.trained(arch).model
        with self.lock, torch.no_grad():
            probs = net(digit.unsqueeze(0)).softmax(-1)[0]
        return {net.labels.name(i): float(p) for i, p in enumerate(probs)}

    def trick(self, arch: str, digit: torch.Tensor, into: str, eps: float, steps: int) -> Any:
        """The drawing tricked into ``into`` by BIM (:func:`hoodwink.trick`)."""
        from hoodwink.attacks.trick import trick

        net = self.trained(arch).model
        with self.lock:
            return trick(net, digit, into=into, attack="bim", eps=eps, steps=steps)

    def templates_png(self) -> bytes:
        """The linear net's 10 templates (:func:`hoodwink.viz.templates.templates_figure`)."""
        from hoodwink.viz.common import figure_png
        from hoodwink.viz.templates import templates_figure

        return figure_png(templates_figure(self.trained("linear").model))
