"""Feature visualisation: the picture that most excites a class or a channel.

Simonyan, Vedaldi and Zisserman (2014), "Deep inside convolutional networks",
follow the gradient of a class score from a blank image; on its own that makes
high-frequency noise (the same noise that tricks the network). Olah, Mordvintsev
and Schubert (2017), "Feature visualization" (Distill), make it a picture:

* the image is parameterised in frequency space, each frequency scaled by
  ``1 / f`` so that smooth patterns are as easy to reach as fine ones;
* colours are decorrelated (ImageNet's colour covariance, as in Lucid), then
  squashed into [0, 1] by a sigmoid;
* every step sees a randomly padded, jittered, scaled and rotated copy, so
  only patterns that survive small moves are kept ("transformation robustness").

torch-lucent does all this but needs torchvision and an old kornia; this is the
same recipe in a few dozen lines of plain PyTorch.

Example:
    >>> import torch
    >>> from hoodwink.models import Classifier, Labels
    >>> net = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.ReLU(),
    ...                           torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(), torch.nn.Linear(4, 2))
    >>> model = Classifier(net, Labels.from_names(["a", "b"]), input_size=(32, 32), resize=None)
    >>> v = visualize(model, "b", steps=8, size=32)
    >>> v.image.shape, v.final > v.start
    (torch.Size([3, 32, 32]), True)
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F

from hoodwink.errors import ParameterError
from hoodwink.inside.layers import find_layer, forward_to, normalise
from hoodwink.models.classifier import Classifier
from hoodwink.predict import Prediction, predict

#: Square root of ImageNet's colour covariance (Lucid's ``color_correlation_svd_sqrt``).
COLOR_CORRELATION = torch.tensor([[0.26, 0.09, 0.02], [0.27, 0.00, -0.05], [0.27, -0.09, 0.03]])
_COLOR = COLOR_CORRELATION / COLOR_CORRELATION.norm(dim=0).max()

#: Called after each step with (step, steps, objective).
Progress = Callable[[int, int, float], None]


@dataclass(frozen=True)
class Target:
    """What to excite: a class (``layer`` None) or one channel of a layer."""

    label: str
    index: int
    layer: str | None = None

    def describe(self) -> str:
        return f"{self.layer}:{self.index}" if self.layer else self.label


def parse_target(model: Classifier, text: str) -> Target:
    """``"vulture"``, ``"23"`` -> a class; ``"_blocks.10:5"`` -> channel 5 of that layer.

    Raises:
        ClassNotFoundError, LayerNotFoundError: with "did you mean ...".
    """
    name, sep, channel = text.rpartition(":")
    if sep and name and channel.strip().isdigit():
        find_layer(model, name)
        return Target(f"{name} channel {int(channel)}", int(channel), name)
    index = model.labels.find(text)
    return Target(model.labels.name(index), index, None)


@dataclass(frozen=True)
class Visualization:
    """The image that excites ``target`` most, and how the objective rose.

    Attributes:
        target: what was excited.
        image: (3, H, W) in [0, 1].
        objective: the objective after each step (class logit, or mean channel activation),
            on the transformed copies the optimiser saw.
        start, final: the objective on the untransformed image before and after.
        predictions: the network's top classes for the final image.
        steps, step_size, seed: the settings.
    """

    target: Target
    image: torch.Tensor = field(repr=False)
    objective: tuple[float, ...] = field(repr=False)
    start: float
    final: float
    predictions: tuple[Prediction, ...]
    steps: int
    step_size: float
    seed: int

    def to_dict(self) -> dict[str, Any]:
        return {"target": self.target.describe(), "layer": self.target.layer, "index": self.target.index,
                "start": self.start, "final": self.final, "steps": self.steps,
                "step_size": self.step_size, "seed": self.seed,
                "predictions": [p.to_dict() for p in self.predictions]}


class FourierImage(torch.nn.Module):
    """An image parameterised by its spectrum (scaled by 1/f) and decorrelated colours.

    ``forward()`` gives (1, 3, H, W) in [0, 1].
    """

    def __init__(self, size: tuple[int, int], *, generator: torch.Generator, sd: float = 0.01,
                 decay: float = 1.0) -> None:
        super().__init__()
        h, w = size
        fy = torch.fft.fftfreq(h)[:, None]
        fx = torch.fft.rfftfreq(w)[None, :]
        freqs = torch.sqrt(fx * fx + fy * fy)
        scale = 1.0 / torch.clamp(freqs, min=1.0 / max(h, w)) ** decay
        self.register_buffer("scale", scale[None, None])
        self.spectrum = torch.nn.Parameter(sd * torch.randn(1, 3, h, w // 2 + 1, 2, generator=generator))
        self.size = (h, w)

    def forward(self) -> torch.Tensor:
        scale = self.get_buffer("scale")
        spectrum = torch.view_as_complex(self.spectrum) * scale
        image = torch.fft.irfft2(spectrum, s=self.size, norm="ortho") / 4.0
        colours = torch.einsum("nchw,dc->ndhw", image, _COLOR.to(image.device))
        return torch.sigmoid(colours)


def robust(images: torch.Tensor, generator: torch.Generator, *, pad: int = 12, jitter: int = 8) -> torch.Tensor:
    """A random pad, jitter, scale, rotation and second jitter of ``images`` (Lucid's standard set)."""
    x = F.pad(images, (pad, pad, pad, pad), mode="constant", value=0.5)
    x = _jitter(x, jitter, generator)
    scale = 1.0 + (int(torch.randint(11, (1,), generator=generator)) - 5) / 50
    angle = math.radians(int(torch.randint(21, (1,), generator=generator)) - 10)
    cos, sin = math.cos(angle) / scale, math.sin(angle) / scale
    theta = x.new_tensor([[cos, -sin, 0.0], [sin, cos, 0.0]]).expand(x.shape[0], 2, 3)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    x = F.grid_sample(x, grid, mode="bilinear", padding_mode="reflection", align_corners=False)
    return _jitter(x, 4, generator)


def _jitter(x: torch.Tensor, amount: int, generator: torch.Generator) -> torch.Tensor:
    dy, dx = (int(v) for v in torch.randint(amount, (2,), generator=generator))
    return x[..., dy : x.shape[-2] - amount + dy, dx : x.shape[-1] - amount + dx]


def _objective(model: Classifier, target: Target, images: torch.Tensor) -> torch.Tensor:
    if target.layer is None:
        logits: torch.Tensor = model.net(normalise(model, images))
        return logits[:, target.index].mean()
    out = forward_to(model, images, [target.layer])[target.layer]
    if not 0 <= target.index < out.shape[1]:
        raise ParameterError(f"{target.layer} has {out.shape[1]} channels; channel {target.index} does not exist")
    return out[:, target.index].mean()


def visualize(
    model: Classifier,
    target: str | Target,
    *,
    steps: int = 256,
    step_size: float = 0.05,
    size: int | None = None,
    seed: int = 0,
    progress: Progress | None = None,
) -> Visualization:
    """Optimise an image to excite ``target``: a class name/index or ``"LAYER:CHANNEL"``.

    Args:
        steps: Adam steps.
        step_size: Adam's learning rate on the spectrum.
        size: side of the square image; default the model's input size.
        seed: the random spectrum and the random transformations.
        progress: called after each step with (step, steps, objective).
    """
    if steps < 1:
        raise ParameterError(f"steps must be at least 1, not {steps}")
    if not step_size > 0:
        raise ParameterError(f"step_size must be positive, not {step_size}")
    chosen = parse_target(model, target) if isinstance(target, str) else target
    side = int(size or model.input_size[0])
    if side < 16:
        raise ParameterError(f"size must be at least 16 pixels, not {side}")
    generator = torch.Generator().manual_seed(seed)
    param = FourierImage((side, side), generator=generator).to(model.device)
    optimizer = torch.optim.Adam(param.parameters(), lr=step_size)
    with torch.no_grad():
        start = float(_objective(model, chosen, param()))
    history = []
    for k in range(steps):
        optimizer.zero_grad(set_to_none=True)
        value = _objective(model, chosen, robust(param(), generator))
        (-value).backward()  # type: ignore[no-untyped-call]
        optimizer.step()
        history.append(float(value.detach()))
        if progress is not None:
            progress(k + 1, steps, history[-1])
    with torch.no_grad():
        image = param()[0].detach()
        final = float(_objective(model, chosen, image[None]))
    top = predict(model, image, top=3)[0].predictions if model.channels == 3 else ()
    return Visualization(chosen, image.cpu(), tuple(history), start, final, tuple(top), steps,
                         step_size, seed)
