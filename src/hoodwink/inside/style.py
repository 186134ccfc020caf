"""Style transfer: the content of one picture painted in the style of another.

Gatys, Ecker and Bethge (2016), "Image style transfer using convolutional neural
networks" (first as "A neural algorithm of artistic style", 2015). A network's
feature maps hold *what* is where (content); the correlations between its
channels, the Gram matrix ``G = F F^T / (C H W)``, hold textures and colours
wherever they are (style). Optimise the pixels of an image so that its features
at one layer match the content photo and its Gram matrices at several layers
match the style picture.

Gatys used VGG-19, whose weights are not bundled here; hoodwink uses the layers
of the bundled EfficientNet-Lite0 by default (and any model with feature maps,
e.g. ``timm:vgg19`` when timm is installed). Its strided, batch-normalised layers
give a flatter, more patchy style than VGG's (Wang et al. 2021, "Rethinking and
improving the robustness of image style transfer", explain why); a small total
variation term keeps the result smooth.

Example:
    >>> import torch
    >>> from hoodwink.models import Classifier, Labels
    >>> net = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3), torch.nn.ReLU(), torch.nn.Conv2d(8, 8, 3),
    ...                           torch.nn.ReLU(), torch.nn.Flatten())
    >>> model = Classifier(net, Labels.from_names(["a"]), input_size=(24, 24), resize=None)
    >>> s = stylize(model, torch.rand(3, 24, 24), torch.rand(3, 24, 24), style_layers=["1", "3"],
    ...             content_layer="3", steps=5, size=24, init="noise")
    >>> s.style_loss[-1] < s.style_loss[0] and s.content_loss[-1] < s.content_loss[0]
    True
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F

from hoodwink.errors import ParameterError
from hoodwink.inside.layers import default_layers, find_layer, forward_to
from hoodwink.models.classifier import Classifier

#: (style layers, content layer) per network family: early to middle layers, as Gatys' conv1_1 to conv5_1.
STYLE_LAYERS: dict[str, tuple[tuple[str, ...], str]] = {
    "efficientnet-lite": (("_bn0", "_blocks.1", "_blocks.3", "_blocks.5", "_blocks.8"), "_blocks.5"),
    "timm:vgg": (("features.1", "features.6", "features.11", "features.20", "features.29"), "features.22"),
}
OPTIMIZERS = ("lbfgs", "adam")
INITS = ("content", "noise")

#: Called after each step with (step, steps, style loss, content loss).
Progress = Callable[[int, int, float, float], None]


@dataclass(frozen=True)
class Stylized:
    """A styled image and the losses along the way (one value per step, the first before any step).

    Attributes:
        image: (3, H, W) in [0, 1].
        content, style: the two inputs as used (resized).
        style_loss, content_loss: weighted losses, per step (relative squared errors).
        style_layers, content_layer: where they were measured.
    """

    image: torch.Tensor = field(repr=False)
    content: torch.Tensor = field(repr=False)
    style: torch.Tensor = field(repr=False)
    style_loss: tuple[float, ...] = field(repr=False)
    content_loss: tuple[float, ...] = field(repr=False)
    style_layers: tuple[str, ...]
    content_layer: str
    model: str
    optimizer: str
    steps: int
    style_weight: float
    seed: int

    def to_dict(self) -> dict[str, Any]:
        return {"model": self.model, "style_layers": list(self.style_layers),
                "content_layer": self.content_layer, "optimizer": self.optimizer, "steps": self.steps,
                "style_weight": self.style_weight, "seed": self.seed, "size": list(self.image.shape[-2:]),
                "style_loss": {"start": self.style_loss[0], "end": self.style_loss[-1]},
                "content_loss": {"start": self.content_loss[0], "end": self.content_loss[-1]}}


def gram(features: torch.Tensor) -> torch.Tensor:
    """(N, C, C) channel correlations of (N, C, H, W) features, divided by C * H * W."""
    n, c, h, w = features.shape
    flat = features.reshape(n, c, h * w)
    return flat @ flat.transpose(1, 2) / (c * h * w)


def style_layers_for(model: Classifier) -> tuple[tuple[str, ...], str]:
    """Default (style layers, content layer) for ``model``."""
    name = model.name
    for prefix, layers in STYLE_LAYERS.items():
        if name.startswith(prefix):
            return layers
    maps = default_layers(model)
    if not maps:
        raise ParameterError(f"{model.name} has no layers with feature maps for style transfer")
    return tuple(maps), maps[len(maps) // 2]


def resize_shorter(image: torch.Tensor, size: int) -> torch.Tensor:
    """(C, H, W) resized so that its shorter side is ``size`` (antialiased)."""
    h, w = image.shape[-2:]
    scale = size / min(h, w)
    new = (max(1, round(h * scale)), max(1, round(w * scale)))
    if new == (h, w):
        return image
    return F.interpolate(image[None], size=new, mode="bilinear", align_corners=False,
                         antialias=True)[0].clamp(0, 1)


def _tv(x: torch.Tensor) -> torch.Tensor:
    return (x[..., 1:, :] - x[..., :-1, :]).abs().mean() + (x[..., :, 1:] - x[..., :, :-1]).abs().mean()


def stylize(
    model: Classifier,
    content: torch.Tensor,
    style: torch.Tensor,
    *,
    style_layers: Sequence[str] | None = None,
    content_layer: str | None = None,
    steps: int = 150,
    size: int = 256,
    style_weight: float = 30.0,
    tv_weight: float = 0.5,
    optimizer: str = "lbfgs",
    step_size: float | None = None,
    init: str = "content",
    seed: int = 0,
    progress: Progress | None = None,
) -> Stylized:
    """Paint ``content`` (C, H, W) in the style of ``style`` (C, H, W), both in [0, 1].

    Args:
        style_layers, content_layer: names in ``model.net`` (default :func:`style_layers_for`).
        steps: optimiser steps (L-BFGS iterations, or Adam steps).
        size: shorter side of the result (and of the style picture).
        style_weight: weight of the style loss against the content loss (each is a relative squared
            error, so 1 means "equally important").
        tv_weight: weight of the total variation (smoothness) term.
        optimizer: ``"lbfgs"`` (Gatys; fewer steps) or ``"adam"``.
        step_size: learning rate (default 1 for L-BFGS, 0.02 for Adam).
        init: start from the ``"content"`` photo or from ``"noise"`` (Gatys' white noise).
        seed: the noise.
    """
    if steps < 1 or size < 16:
        raise ParameterError("steps must be at least 1 and size at least 16 pixels")
    if optimizer not in OPTIMIZERS:
        raise ParameterError(f"unknown optimizer {optimizer!r}; choose {' or '.join(OPTIMIZERS)}")
    if init not in INITS:
        raise ParameterError(f"unknown init {init!r}; choose {' or '.join(INITS)}")
    defaults = style_layers_for(model) if style_layers is None or content_layer is None else ((), "")
    s_layers = tuple(style_layers) if style_layers is not None else defaults[0]
    c_layer = content_layer or defaults[1]
    for name in (*s_layers, c_layer):
        find_layer(model, name)
    device = model.device
    content = resize_shorter(content.to(device).float(), size)
    style = resize_shorter(style.to(device).float(), size)
    wanted = list(dict.fromkeys((*s_layers, c_layer)))
    with torch.no_grad():
        style_grams = {n: gram(f) for n, f in forward_to(model, style[None], s_layers).items()}
        content_features = forward_to(model, content[None], [c_layer])[c_layer]
    generator = torch.Generator().manual_seed(seed)
    if init == "content":
        start = content[None].clone()
    else:
        start = torch.rand(content[None].shape, generator=generator).to(device)
    x = start.requires_grad_(True)

    def losses(image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        features = forward_to(model, image, wanted)
        s = sum(((gram(features[n]) - style_grams[n]).pow(2).sum() / style_grams[n].pow(2).sum()
                 for n in s_layers), torch.zeros((), device=device)) / len(s_layers)
        c = (features[c_layer] - content_features).pow(2).sum() / content_features.pow(2).sum()
        return style_weight * s, c

    history: list[tuple[float, float]] = []
    with torch.no_grad():
        s0, c0 = losses(x)
    history.append((float(s0), float(c0)))
    if optimizer == "lbfgs":
        opt: torch.optim.Optimizer = torch.optim.LBFGS([x], lr=step_size or 1.0, max_iter=1,
                                                       history_size=20)
    else:
        opt = torch.optim.Adam([x], lr=step_size or 0.02)
    for k in range(steps):
        def closure() -> torch.Tensor:
            opt.zero_grad(set_to_none=True)
            s, c = losses(x)
            total = s + c + tv_weight * _tv(x)
            total.backward()  # type: ignore[no-untyped-call]
            return total

        opt.step(closure)  # type: ignore[arg-type]
        with torch.no_grad():
            x.clamp_(0, 1)
            s, c = losses(x)
        history.append((float(s), float(c)))
        if progress is not None:
            progress(k + 1, steps, float(s), float(c))
    return Stylized(
        image=x[0].detach().cpu(), content=content.cpu(), style=style.cpu(),
        style_loss=tuple(h[0] for h in history), content_loss=tuple(h[1] for h in history),
        style_layers=s_layers, content_layer=c_layer, model=model.name, optimizer=optimizer,
        steps=steps, style_weight=style_weight, seed=seed)
