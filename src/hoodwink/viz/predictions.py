"""Prediction bars: "is this a cat?" as a picture, one row per image.

Each row shows the image (when given) and horizontal bars of its top-k classes
with their names and probabilities, best on top.

Example:
    >>> from hoodwink.predict import ImagePredictions, Prediction
    >>> cat = ImagePredictions("chelsea", (Prediction(282, "tiger cat", 0.39),
    ...                                    Prediction(285, "Egyptian cat", 0.35)))
    >>> fig = prediction_figure([cat])
    >>> [t.get_text() for t in fig.axes[0].get_yticklabels()]
    ['tiger cat', 'Egyptian cat']
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from hoodwink.errors import ParameterError
from hoodwink.predict import ImagePredictions, Prediction
from hoodwink.viz.common import PALETTE, new_figure, percent, show_image


def prediction_figure(
    predictions: Sequence[ImagePredictions],
    images: Sequence[torch.Tensor | np.ndarray] | None = None,
    *,
    title: str | None = None,
) -> Figure:
    """One row per image: the image (if ``images`` is given) beside its top-k bars.

    Args:
        predictions: one :class:`~hoodwink.ImagePredictions` per image (best first).
        images: optional (C, H, W) images in [0, 1], one per prediction.
        title: optional figure title.

    The bar axes come first in ``fig.axes`` (one per image, in order), then the
    image axes; each bar axis is titled with the image's name and carries the
    class names as y tick labels and the probabilities as bar widths.
    """
    rows = list(predictions)
    if not rows:
        raise ParameterError("nothing to plot: no predictions")
    if images is not None and len(images) != len(rows):
        raise ParameterError(f"{len(images)} images for {len(rows)} predictions")
    top = max(len(r.predictions) for r in rows)
    height = max(1.6, 0.32 * top + 0.8)
    fig = new_figure(8.0 if images is not None else 6.0, height * len(rows) + (0.4 if title else 0))
    if images is not None:
        grid = fig.add_gridspec(len(rows), 2, width_ratios=(1, 2.6))
        bar_axes = [fig.add_subplot(grid[i, 1]) for i in range(len(rows))]
        for i, image in enumerate(images):
            show_image(fig.add_subplot(grid[i, 0]), image)
    else:
        bar_axes = [fig.add_subplot(len(rows), 1, i + 1) for i in range(len(rows))]
    for ax, row in zip(bar_axes, rows):
        draw_bars(ax, row.predictions, title=_short(row.image))
    if title:
        fig.suptitle(title)
    return fig


def image_predictions_figure(predictions: ImagePredictions) -> Figure:
    """The bars of one image's predictions (``hoodwink.viz.figure(result)``, Jupyter)."""
    return prediction_figure([predictions])


def draw_bars(ax: Axes, predictions: Sequence[Prediction], *, title: str = "") -> None:
    """Horizontal bars of ``predictions`` on ``ax``: best on top, probability written at each bar."""
    preds = list(predictions)
    names = [p.name for p in preds]
    values = [p.probability for p in preds]
    positions = np.arange(len(preds))[::-1]
    colours = [PALETTE[0]] + ["#9ecae1"] * (len(preds) - 1)
    ax.barh(positions, values, color=colours, height=0.7)
    ax.set_yticks(positions, names)
    ax.set_xlim(0, 1.18)
    ax.set_xticks([0, 0.25, 0.5, 0.75, 1.0])
    ax.set_xlabel("probability")
    for y, value in zip(positions, values):
        ax.text(value + 0.01, y, percent(value), va="center", fontsize=8)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    if title:
        ax.set_title(title, fontsize=10, loc="left")


def _short(name: str, limit: int = 60) -> str:
    return name if len(name) <= limit else "..." + name[-(limit - 3):]
