"""DeepDream: make the image more of whatever a layer already sees in it.

Mordvintsev, Olah and Tyka (2015), "Inceptionism: going deeper into neural
networks": gradient ascent on the image to raise the (squared) activation of a
layer, with three tricks that turn noise into patterns:

* **octaves**: dream on a small copy first, then on larger ones (each
  ``octave_scale`` times bigger), carrying the added detail up;
* **jitter**: roll the image by a random shift before each step (and back after),
  so the patterns do not lock onto the pixel grid;
* **normalised gradient ascent**: each step is the gradient divided by its mean
  absolute value, times ``step_size``, so every step changes the image by about
  the same amount whatever the layer's scale.

Example:
    >>> import torch
    >>> from hoodwink.models import Classifier, Labels
    >>> net = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.ReLU(), torch.nn.Flatten())
    >>> model = Classifier(net, Labels.from_names(["a"]), input_size=(32, 32), resize=None)
    >>> d = dream(model, torch.rand(3, 32, 32), layer="1", octaves=2, steps=3)
    >>> all(after > before for before, after in zip(d.before, d.after))
    True
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F

from hoodwink.errors import ParameterError
from hoodwink.inside.layers import find_layer, forward_to
from hoodwink.models.classifier import Classifier

#: Default dream layer per network family (mid-level: eyes, fur, scales).
DREAM_LAYERS = {"efficientnet-lite": "_blocks.8"}

#: Called after each step with (step done, total steps, octave from 0).
Progress = Callable[[int, int, int], None]


@dataclass(frozen=True)
class Dream:
    """A dreamed image and the layer's activation norm at each octave.

    Attributes:
        image: (3, H, W) the dream in [0, 1], the size of the input.
        original: (3, H, W) the input.
        layer: the layer whose activation was raised.
        before, after: the layer's activation norm (root mean square) at each octave's size,
            before and after that octave's steps (smallest octave first).
        sizes: (height, width) of each octave.
    """

    image: torch.Tensor = field(repr=False)
    original: torch.Tensor = field(repr=False)
    layer: str
    before: tuple[float, ...]
    after: tuple[float, ...]
    sizes: tuple[tuple[int, int], ...]
    steps: int
    step_size: float
    seed: int

    def to_dict(self) -> dict[str, Any]:
        return {"layer": self.layer, "octaves": [
            {"size": list(s), "norm_before": b, "norm_after": a}
            for s, b, a in zip(self.sizes, self.before, self.after)],
            "steps": self.steps, "step_size": self.step_size, "seed": self.seed,
            "size": list(self.image.shape[-2:])}


def default_dream_layer(model: Classifier) -> str:
    """The layer :func:`dream` uses by default: a middle layer with feature maps."""
    if model.name.startswith("efficientnet-lite"):
        return DREAM_LAYERS["efficientnet-lite"]
    from hoodwink.inside.layers import default_layers

    layers = default_layers(model)
    if not layers:
        raise ParameterError(f"{model.name} has no layer with feature maps; pass --layer")
    return layers[len(layers) // 2]


def activation_norm(model: Classifier, image: torch.Tensor, layer: str) -> torch.Tensor:
    """Root mean square of ``layer``'s output for (N, C, H, W) ``image`` (differentiable)."""
    out = forward_to(model, image, [layer])[layer]
    return out.pow(2).mean().sqrt()


def dream(
    model: Classifier,
    image: torch.Tensor,
    *,
    layer: str | None = None,
    octaves: int = 3,
    steps: int = 10,
    step_size: float = 0.01,
    octave_scale: float = 1.4,
    jitter: int = 16,
    seed: int = 0,
    progress: Progress | None = None,
) -> Dream:
    """DeepDream ``image`` (C, H, W) in [0, 1] on ``layer`` (default :func:`default_dream_layer`).

    Args:
        octaves: image sizes, each ``octave_scale`` times the last, ending at the input size.
        steps: gradient ascent steps per octave.
        step_size: change per step, in pixel units, of an average pixel.
        jitter: largest random roll in pixels before each step.
        seed: the jitter's random shifts.
    """
    if octaves < 1 or steps < 1:
        raise ParameterError("octaves and steps must be at least 1")
    if not step_size > 0 or not octave_scale > 1:
        raise ParameterError("step_size must be positive and octave_scale above 1")
    name = layer or default_dream_layer(model)
    find_layer(model, name)
    original = image.detach().to(model.device).float()
    if original.dim() != 3:
        raise ParameterError(f"dream takes one image (C, H, W), got shape {tuple(image.shape)}")
    h, w = original.shape[-2:]
    sizes = [(max(8, round(h / octave_scale ** k)), max(8, round(w / octave_scale ** k)))
             for k in reversed(range(octaves))]
    generator = torch.Generator().manual_seed(seed)
    base = original[None]
    detail = torch.zeros_like(base)
    before, after = [], []
    done, total = 0, octaves * steps
    for o, size in enumerate(sizes):
        small = F.interpolate(base, size=size, mode="bilinear", align_corners=False, antialias=True)
        detail = F.interpolate(detail, size=size, mode="bilinear", align_corners=False)
        x = (small + detail).clamp(0, 1)
        with torch.no_grad():
            before.append(float(activation_norm(model, x, name)))
        for _ in range(steps):
            dy, dx = (int(v) for v in torch.randint(-jitter, jitter + 1, (2,), generator=generator))
            rolled = torch.roll(x, (dy, dx), (2, 3)).requires_grad_(True)
            norm = activation_norm(model, rolled, name)
            (grad,) = torch.autograd.grad(norm, rolled)
            grad = torch.roll(grad, (-dy, -dx), (2, 3))
            x = (x + step_size * grad / (grad.abs().mean() + 1e-12)).clamp(0, 1).detach()
            done += 1
            if progress is not None:
                progress(done, total, o)
        with torch.no_grad():
            after.append(float(activation_norm(model, x, name)))
        detail = x - small
    return Dream(image=x[0].cpu(), original=original.cpu(), layer=name, before=tuple(before),
                 after=tuple(after), sizes=tuple(sizes), steps=steps, step_size=step_size, seed=seed)
