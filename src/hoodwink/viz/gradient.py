"""The gradient as an image: which way each pixel must move to look more like a class.

The talk shows ``compute_gradient(black, paper_towel)`` (:func:`hoodwink.gradient.class_gradient`)
"scaled to be visible":
here the gradient is divided by its 98th percentile of absolute values, clipped
to [-1, 1] and drawn around mid-gray (brighter = push the pixel up).

Example:
    >>> import torch
    >>> g = torch.randn(3, 8, 8)
    >>> picture = gradient_picture(g)
    >>> picture.shape, float(picture.min()) >= 0.0, float(picture.max()) <= 1.0
    ((8, 8, 3), True, True)
"""

from __future__ import annotations

import numpy as np
import torch
from matplotlib.figure import Figure

from hoodwink.errors import ParameterError
from hoodwink.gradient import ClassGradient
from hoodwink.viz.common import as_hwc, new_figure, show_image


def gradient_picture(gradient: torch.Tensor | np.ndarray, percentile: float = 98.0) -> np.ndarray:
    """(H, W, C) array in [0, 1]: ``0.5 + 0.5 * clip(gradient / p, -1, 1)``, ``p`` the
    ``percentile`` of ``|gradient|`` (the talk's "gradient / its 98th percentile")."""
    if not 0.0 < percentile <= 100.0:
        raise ParameterError(f"percentile must be in (0, 100], not {percentile}")
    g = gradient.detach().float().cpu().numpy() if isinstance(gradient, torch.Tensor) else np.asarray(gradient, float)
    if g.ndim == 4 and g.shape[0] == 1:
        g = g[0]
    if g.ndim != 3:
        raise ParameterError(f"expected a (C, H, W) gradient, got shape {g.shape}")
    scale = float(np.percentile(np.abs(g), percentile))
    if scale <= 0.0:
        scale = float(np.abs(g).max()) or 1.0
    return as_hwc(0.5 + 0.5 * np.clip(g / scale, -1.0, 1.0))


def gradient_figure(
    gradient: torch.Tensor | np.ndarray,
    image: torch.Tensor | np.ndarray | None = None,
    *,
    name: str = "",
    percentile: float = 98.0,
) -> Figure:
    """The image (if given), the gradient / its ``percentile``, and its sign, side by side.

    Axes, in order: [image,] gradient, sign(gradient). The gradient panel is
    titled "gradient / 98th percentile"; ``name`` is the class it points toward.
    """
    g = gradient.detach().float().cpu() if isinstance(gradient, torch.Tensor) else torch.as_tensor(gradient)
    if g.dim() == 4 and g.shape[0] == 1:
        g = g[0]
    panels = 3 if image is not None else 2
    fig = new_figure(3.0 * panels, 3.5)
    axes = fig.subplots(1, panels)
    toward = f" toward {name}" if name else ""
    if image is not None:
        show_image(axes[0], image, "image")
    show_image(axes[-2], gradient_picture(g, percentile),
               f"gradient{toward}\n/ its {percentile:g}th percentile")
    show_image(axes[-1], 0.5 + 0.5 * torch.sign(g), f"sign(gradient){toward}\n(the step the trick takes)")
    return fig


def class_gradient_figure(result: ClassGradient, percentile: float = 98.0) -> Figure:
    """:func:`gradient_figure` for a :class:`ClassGradient`."""
    return gradient_figure(result.gradient, result.image, name=result.name, percentile=percentile)
