"""Figures for explanations: image | heat map | overlay, and the clean/adversarial pair.

Example:
    >>> import torch
    >>> from hoodwink.explain.result import Explanation
    >>> e = Explanation(method="saliency", images=torch.rand(1, 3, 8, 8),
    ...                 attributions=torch.rand(1, 3, 8, 8), maps=torch.rand(1, 8, 8),
    ...                 targets=(0,), target_names=("cat",), probabilities=(0.9,))
    >>> len(explanation_figure(e).axes)
    3
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import torch
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from hoodwink.errors import ParameterError
from hoodwink.viz.common import GRID_ROWS, as_hwc, new_figure, percent, show_image

if TYPE_CHECKING:
    from hoodwink.explain.result import AttackExplanation, Explanation

#: Colour maps: relevance (unsigned) and evidence for/against (signed, centred on 0).
UNSIGNED_CMAP = "inferno"
SIGNED_CMAP = "RdBu_r"


def _scaled(saliency: torch.Tensor, signed: bool, scale: float | None = None) -> np.ndarray:
    """The map scaled to [0, 1] (unsigned) or [-1, 1] (signed) by ``scale`` (default its largest |value|)."""
    array = saliency.detach().float().cpu().numpy()
    if not signed:
        array = array - min(0.0, float(array.min()))
    scale = float(np.abs(array).max()) if scale is None else scale
    return array / scale if scale > 0 else array


def show_map(ax: Axes, saliency: torch.Tensor, signed: bool, title: str = "",
             scale: float | None = None) -> None:
    """Draw a heat map on ``ax``: inferno for relevance, red/blue for signed evidence."""
    array = np.clip(_scaled(saliency, signed, scale), -1, 1)
    ax.imshow(array, cmap=SIGNED_CMAP if signed else UNSIGNED_CMAP,
              vmin=-1.0 if signed else 0.0, vmax=1.0, interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(title, fontsize=9)


def show_overlay(ax: Axes, image: torch.Tensor, saliency: torch.Tensor, title: str = "") -> None:
    """The image, dimmed, with the positive part of the map on top (more opaque = more relevant)."""
    base = as_hwc(image)
    if base.ndim == 2:
        base = np.stack([base] * 3, -1)
    heat = np.clip(_scaled(saliency, signed=True), 0, 1)
    import matplotlib

    colours = matplotlib.colormaps[UNSIGNED_CMAP](heat)[..., :3]
    alpha = heat[..., None] * 0.75
    ax.imshow(np.clip(base * 0.6 * (1 - alpha) + colours * alpha, 0, 1), interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(title, fontsize=9)


def _scores(explanation: Explanation, index: int) -> str:
    if explanation.faithfulness is None:
        return ""
    f = explanation.faithfulness[index]
    text = f"deletion AUC {f.deletion_auc:.3f} (low good), insertion AUC {f.insertion_auc:.3f} (high good)"
    if explanation.sanity is not None:
        s = explanation.sanity[index]
        text += f"\nrandomised-weights similarity {s.similarity:.2f}: " + ("ok" if s.passed else "FLAGGED")
    return text


def explanation_figure(explanation: Explanation, indices: list[int] | None = None) -> Figure:
    """One row per image: the image, the heat map, the overlay; titled with method, class and AUCs.

    ``indices`` picks the images; by default the first :data:`~hoodwink.viz.common.GRID_ROWS`.
    """
    indices = list(range(min(len(explanation), GRID_ROWS))) if indices is None else indices
    if not indices or any(not 0 <= i < len(explanation) for i in indices):
        raise ParameterError(f"indices {indices} out of range for {len(explanation)} images")
    fig = new_figure(9.0, 3.4 * len(indices))
    axes = fig.subplots(len(indices), 3, squeeze=False)
    for row, i in zip(axes, indices):
        klass = f"{explanation.target_names[i]} ({percent(explanation.probabilities[i])})"
        show_image(row[0], explanation.images[i], explanation.name(i))
        show_map(row[1], explanation.maps[i], explanation.signed, f"{explanation.method}: {klass}")
        show_overlay(row[2], explanation.images[i], explanation.maps[i], "overlay")
        scores = _scores(explanation, i)
        if scores:
            row[1].set_xlabel(scores, fontsize=8)
    return fig


def attack_figure(pair: AttackExplanation, index: int = 0) -> Figure:
    """Top: clean, adversarial, perturbation x 50. Bottom: clean map, adversarial map, difference."""
    clean, adv = pair.clean, pair.adversarial
    if not 0 <= index < len(clean):
        raise ParameterError(f"index {index} out of range for {len(clean)} images")
    fig = new_figure(9.0, 6.6)
    axes = fig.subplots(2, 3)
    show_image(axes[0, 0], clean.images[index], f"clean: {pair.clean_prediction}")
    show_image(axes[0, 1], adv.images[index], f"adversarial: {pair.adversarial_prediction}")
    delta = (adv.images[index] - clean.images[index]) * 50 + 0.5
    show_image(axes[0, 2], delta.clamp(0, 1), "perturbation x 50")
    klass = clean.target_names[index]
    scale = max(float(clean.maps[index].abs().max()), float(adv.maps[index].abs().max())) or 1.0
    signed = clean.signed or bool((clean.maps[index] < 0).any() or (adv.maps[index] < 0).any())
    show_map(axes[1, 0], clean.maps[index], signed,
             f"{clean.method} for {klass}\n({percent(clean.probabilities[index])} on clean)", scale)
    show_map(axes[1, 1], adv.maps[index], signed,
             f"{adv.method} for {klass}\n({percent(adv.probabilities[index])} on adversarial)", scale)
    show_map(axes[1, 2], pair.difference[index], True,
             "difference (adversarial - clean), same scale\nred gained, blue lost")
    return fig
