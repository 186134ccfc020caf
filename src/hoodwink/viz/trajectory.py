"""The trajectory: the probability of each class that mattered, step by step.

The talk's picture: a black image becomes a "paper towel"; a panda becomes a
"vulture", passing through "ostrich" on the way. Each class is one line over
the steps (step 0 is the original image), labelled at its peak.

Example:
    >>> import numpy as np
    >>> probs = np.array([[0.9, 0.0, 0.1], [0.3, 0.2, 0.5], [0.0, 0.95, 0.05]])
    >>> fig = trajectory_plot(probs, ["giant panda", "vulture", "ostrich"])
    >>> [line.get_label() for line in fig.axes[0].get_lines()]
    ['giant panda', 'vulture', 'ostrich']
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import torch
from matplotlib.figure import Figure

from hoodwink.errors import ParameterError
from hoodwink.viz.common import PALETTE, new_figure, percent

if TYPE_CHECKING:
    from hoodwink.attacks.result import AttackResult


def trajectory_plot(
    probabilities: torch.Tensor | np.ndarray,
    names: Sequence[str],
    *,
    title: str | None = None,
    target: str | None = None,
    label_above: float = 0.15,
) -> Figure:
    """One line per class: its probability (y, 0 to 1) at each step (x, 0 = the original).

    Args:
        probabilities: (steps + 1, K) probabilities of K classes; NaN rows (a
            sample that stopped early) are dropped from the end.
        names: the K class names, in column order.
        title: optional axes title.
        target: name of the class aimed for; its line is drawn thicker.
        label_above: classes whose peak reaches this probability (and the target)
            are labelled at their peak; all are in the legend.
    """
    probs = _as_array(probabilities)
    if probs.ndim != 2:
        raise ParameterError(f"probabilities must be (steps + 1, classes), got shape {probs.shape}")
    if probs.shape[1] != len(names):
        raise ParameterError(f"{probs.shape[1]} classes of probabilities but {len(names)} names")
    valid = ~np.isnan(probs).all(axis=1)
    if not valid.any():
        raise ParameterError("the trajectory has no recorded step")
    probs = probs[: int(np.nonzero(valid)[0][-1]) + 1]
    steps = np.arange(len(probs))
    fig = new_figure(7.0, 3.8)
    ax = fig.add_subplot()
    placed: list[tuple[int, float]] = []
    for k, name in enumerate(names):
        colour = PALETTE[k % len(PALETTE)]
        width = 2.6 if name == target else 1.6
        ax.plot(steps, probs[:, k], label=name, color=colour, linewidth=width,
                marker="o" if len(steps) <= 30 else None, markersize=3)
        peak = int(np.nanargmax(probs[:, k]))
        if probs[peak, k] < label_above and name != target:
            continue  # the legend names it; a label at a low peak would crowd the bottom
        # labels whose points are close would overlap: move each below the ones already there
        near = sum(1 for x, y in placed
                   if abs(x - peak) <= 0.05 * len(steps) + 0.5 and abs(y - probs[peak, k]) < 0.06)
        placed.append((peak, float(probs[peak, k])))
        ax.annotate(f"{name} {percent(probs[peak, k])}", (steps[peak], probs[peak, k]),
                    textcoords="offset points", xytext=(4, 4 - 11 * near), fontsize=8, color=colour)
    ax.set_xlabel("step")
    ax.set_ylabel("probability")
    ax.set_ylim(-0.02, 1.08)
    ax.set_xlim(0, max(1, len(steps) - 1) * 1.08)
    if len(steps) <= 20:
        ax.set_xticks(steps)
    ax.grid(alpha=0.3)
    ax.legend(loc="center right", fontsize=8, framealpha=0.8)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    if title:
        ax.set_title(title, fontsize=10)
    return fig


def trajectory_figure(result: AttackResult, index: int = 0, *, title: str | None = None,
                      min_probability: float = 0.05) -> Figure:
    """:func:`trajectory_plot` for sample ``index`` of an :class:`~hoodwink.attacks.AttackResult`.

    Shows the classes that mattered to this sample: its goal class, every class
    it passed through as top-1, and any class that reached ``min_probability``.

    Example:
        >>> result = trick(model, "chelsea", into="vulture", eps=8 / 255)   # doctest: +SKIP
        >>> save_figure(trajectory_figure(result), "trajectory.png")         # doctest: +SKIP
    """
    trajectory = result.trajectory
    if trajectory is None:
        raise ParameterError(f"this {result.attack} result recorded no trajectory")
    if not -len(result) <= index < len(result):
        raise ParameterError(f"sample {index} out of range: the result has {len(result)} samples")
    index %= len(result)
    probs = trajectory.probabilities[:, index].detach().float().cpu()
    goal_class = int(result.goal_classes[index])
    visited = set(trajectory.visited(index))
    peaks = torch.nan_to_num(probs, nan=0.0).amax(0)
    keep = [k for k, c in enumerate(trajectory.classes)
            if c == goal_class or c in visited or float(peaks[k]) >= min_probability]
    names = [result.names.name(trajectory.classes[k]) for k in keep]
    target = result.names.name(goal_class) if result.goal.toward else None
    if title is None:
        from hoodwink.viz.trick import attack_title

        title = attack_title(result[index])
    return trajectory_plot(probs[:, keep], names, title=title, target=target)


def _as_array(values: torch.Tensor | np.ndarray) -> np.ndarray:
    if isinstance(values, torch.Tensor):
        return values.detach().float().cpu().numpy()
    return np.asarray(values, dtype=float)
