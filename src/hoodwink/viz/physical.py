"""The picture of a verification: transformed copies of each image, with what the model saw.

One row per image (at most :data:`~hoodwink.viz.common.GRID_ROWS`): the first copies
as the model saw them (after the real rotation, zoom, blur, noise and JPEG), each
titled with its top-1 class, green where it still reaches the goal and red where
not; the row's label says the fraction of all the fresh transformations that still do.

Example:
    >>> fig = verification_figure(check)                                  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import torch
from matplotlib.figure import Figure

from hoodwink.viz.common import GRID_ROWS, as_hwc, new_figure

if TYPE_CHECKING:
    from hoodwink.models.labels import Labels
    from hoodwink.physical.verify import Verification

GOOD, BAD = "#2ca02c", "#d62728"


def verification_figure(check: Verification, *, names: Sequence[str] | None = None,
                        columns: int = 8, title: str | None = None) -> Figure:
    """A grid of transformed copies (rows: images, columns: copies) with their classes."""
    rows = min(len(check), GRID_ROWS)
    cols = max(1, min(columns, int(check.examples.shape[1])))
    fig = new_figure(1.6 * cols + 0.4, 1.9 * rows + (0.4 if title else 0.0))
    if title:
        fig.suptitle(title, fontsize=10)
    axes = fig.subplots(rows, cols, squeeze=False)
    for i in range(rows):
        fraction = float(check.fraction[i])
        goal = check.names.name(int(check.goal_classes[i]))
        label = names[i] if names is not None and i < len(names) else f"image {i}"
        for j in range(cols):
            ax = axes[i][j]
            ax.imshow(as_hwc(check.examples[i, j]), interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            seen = check.names.name(int(check.top1[i, j]))
            ok = bool(check.fooled[i, j])
            ax.set_title(seen[:18], fontsize=7, color=GOOD if ok else BAD)
            for spine in ax.spines.values():
                spine.set_edgecolor(GOOD if ok else BAD)
                spine.set_linewidth(2)
        axes[i][0].set_ylabel(f"{label}\n{goal}: {fraction:.0%} of {check.fooled.shape[1]}",
                              fontsize=8)
    return fig


def world_figure(rows: Sequence[torch.Tensor], probabilities: Sequence[torch.Tensor], goal: int,
                 names: Labels, *, row_labels: Sequence[str], column_labels: Sequence[str]) -> Figure:
    """Rows of transformed copies (each (k, C, H, W)) with the class the model saw in each
    (``probabilities`` (k, classes)); green where it is ``goal``, red where not."""
    n_rows, n_cols = len(rows), int(rows[0].shape[0])
    fig = new_figure(2.0 * n_cols + 0.6, 2.2 * n_rows)
    axes = fig.subplots(n_rows, n_cols, squeeze=False)
    for i, (images, probs) in enumerate(zip(rows, probabilities)):
        for j in range(n_cols):
            ax = axes[i][j]
            ax.imshow(as_hwc(images[j]), interpolation="bilinear")
            ax.set_xticks([])
            ax.set_yticks([])
            top = int(probs[j].argmax())
            ok = top == goal
            ax.set_title(f"{names.name(top)[:16]} {float(probs[j, top]):.0%}", fontsize=8,
                         color=GOOD if ok else BAD)
            if i == 0:
                ax.set_xlabel(column_labels[j], fontsize=8)
                ax.xaxis.set_label_position("top")
            for spine in ax.spines.values():
                spine.set_edgecolor(GOOD if ok else BAD)
                spine.set_linewidth(2)
        axes[i][0].set_ylabel(row_labels[i], fontsize=8)
    return fig
