"""A linear classifier's weight templates, and tricking it by adding one.

A linear softmax classifier scores class ``k`` as ``w_k . x + b_k``: each row of
its weight matrix is a picture, a *template* the class is looking for
(Karpathy, "Breaking linear classifiers on ImageNet", 2015). Adding a little of
the target's template (and taking away a little of the current class's) raises
the target's score fastest per unit of L2 change: the linear case of the
adversarial trick, and the reason Goodfellow et al. (2015) blame linearity.

Example:
    >>> model = load_model("linear.safetensors")                          # doctest: +SKIP
    >>> templates_figure(model, path="templates.png")                      # doctest: +SKIP
    >>> trick = template_trick(model, "digit.png", into="3", eps=0.3)      # doctest: +SKIP
    >>> trick.adversarial_prediction.name                                  # doctest: +SKIP
    '3'
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from hoodwink.errors import ParameterError
from hoodwink.models.classifier import Classifier
from hoodwink.predict import Prediction

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from hoodwink.images import ImageSource


def linear_templates(model: Classifier) -> tuple[torch.Tensor, torch.Tensor]:
    """The pixel-space weights (K, C, H, W) and biases (K,) of a linear classifier.

    The wrapper normalises ``(x - mean) / std`` before the linear layer, so in pixel
    space the logits are ``(W / std) . x + (b - W . mean / std)``; these are what
    this returns, so that ``logits == templates.flatten(1) @ x.flatten() + bias``.
    """
    layers = [m for m in model.net.modules() if isinstance(m, nn.Linear)]
    others = [m for m in model.net.modules()
              if not isinstance(m, (nn.Linear, nn.Flatten, nn.Sequential, nn.Identity))]
    c, (h, w) = model.channels, model.input_size
    if len(layers) != 1 or others or layers[0].in_features != c * h * w:
        raise ParameterError(
            f"model {model.name!r} is not a linear classifier (one Linear layer on the pixels); "
            "weight templates exist only for the 'linear' architecture"
        )
    layer = layers[0]
    mean = model.mean.view(c, 1, 1).expand(c, h, w).reshape(-1)
    std = model.std.view(c, 1, 1).expand(c, h, w).reshape(-1)
    weight = layer.weight.detach() / std
    bias = layer.bias.detach() - weight @ mean if layer.bias is not None else -(weight @ mean)
    return weight.reshape(-1, c, h, w), bias


def templates_figure(model: Classifier, *, path: str | os.PathLike[str] | None = None) -> Figure:
    """The K weight templates as pictures (red: pixels that raise the class's score, blue: lower it).

    Saves a PNG when ``path`` is given (atomically) and returns the matplotlib figure.
    """
    import matplotlib

    if path is None and not matplotlib.get_backend():  # pragma: no cover
        matplotlib.use("Agg")
    from matplotlib.figure import Figure

    weights, _ = linear_templates(model)
    k = weights.shape[0]
    cols = min(k, 5)
    rows = -(-k // cols)
    fig = Figure(figsize=(2.0 * cols, 2.2 * rows + 0.4), layout="constrained")
    fig.suptitle(f"Weight templates of {model.name}: what each class looks for")
    for i in range(k):
        ax = fig.add_subplot(rows, cols, i + 1)
        template = weights[i].mean(0).cpu().numpy()
        limit = float(abs(template).max()) or 1.0
        ax.imshow(template, cmap="RdBu_r", vmin=-limit, vmax=limit)
        ax.set_title(model.labels.name(i))
        ax.set_axis_off()
    if path is not None:
        _save_figure(fig, Path(path))
    return fig


def _save_figure(fig: Any, path: Path) -> None:
    from hoodwink.io import check_output, write_atomic

    check_output(path, suffixes=(".png",), noun="figures")
    write_atomic(path, lambda handle: fig.savefig(handle, format="png", dpi=100))


@dataclass(frozen=True)
class TemplateTrick:
    """The result of :func:`template_trick`.

    Attributes:
        original: (1, C, H, W) the image at the model's input size, on the 8-bit grid.
        adversarial: (1, C, H, W) the tricked image, on the 8-bit grid, within ``eps`` (Linf).
        source, target: the class the model saw first, and the class asked for.
        eps: the Linf size of the added template.
        original_prediction, adversarial_prediction: top-1 before and after (judged on the 8-bit image).
    """

    original: torch.Tensor
    adversarial: torch.Tensor
    source: int
    target: int
    eps: float
    original_prediction: Prediction
    adversarial_prediction: Prediction

    @property
    def success(self) -> bool:
        return self.adversarial_prediction.index == self.target

    def to_dict(self) -> dict[str, Any]:
        return {
            "success": self.success, "source": self.source, "target": self.target, "eps": self.eps,
            "original": self.original_prediction.to_dict(),
            "adversarial": self.adversarial_prediction.to_dict(),
            "linf": float((self.adversarial - self.original).abs().max()),
        }


@torch.no_grad()
def template_trick(
    model: Classifier, image: ImageSource | torch.Tensor, *, into: str | int, eps: float = 0.3
) -> TemplateTrick:
    """Trick a linear classifier by adding the target's template minus the current class's.

    The perturbation is ``eps * d / max|d|`` with ``d = w_target - w_source`` (pixel-space
    templates), so its Linf size is ``eps``; the result is clipped to [0, 1] and rounded
    to the 8-bit grid (rounding toward the original where it would leave the ball).

    Args:
        model: a linear classifier (``load_model("linear.safetensors")``).
        image: anything :func:`hoodwink.load_image` reads, or a (C, H, W) tensor in [0, 1].
        into: the target class (name or index).
        eps: Linf size in [0, 1] pixel units.
    """
    from hoodwink.images import load_image, quantize
    from hoodwink.predict import top_predictions

    if not 0 <= eps <= 1:
        raise ParameterError(f"eps must be in [0, 1] (pixel units), not {eps}")
    weights, _ = linear_templates(model)
    target = model.labels.find(into) if isinstance(into, str) else int(into)
    if not 0 <= target < model.num_classes:
        raise ParameterError(f"class index {target} out of range (0-{model.num_classes - 1})")
    pixels = image if isinstance(image, torch.Tensor) else load_image(image)
    original = quantize(model.prepare(pixels.to(model.device)))
    source = int(model(original).argmax(1))
    direction = weights[target] - weights[source]
    if target == source:
        direction = weights[target]
    scale = direction.abs().max()
    delta = eps * direction / scale if scale > 0 else torch.zeros_like(direction)
    # Round the step to whole 8-bit levels inside the ball, so the sum stays on the grid.
    levels = torch.floor(torch.tensor(eps * 255 + 1e-6))
    step = torch.round(delta * 255).clamp(-levels, levels) / 255
    adversarial = quantize(original + step)
    before = top_predictions(model, model(original).softmax(-1), 1)[0][0]
    after = top_predictions(model, model(adversarial).softmax(-1), 1)[0][0]
    return TemplateTrick(original, adversarial, source, target, eps, before, after)
