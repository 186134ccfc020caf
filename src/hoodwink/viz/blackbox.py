"""Pictures of black-box tricks: what was sent to an API and what it answered.

Example:
    >>> import torch
    >>> from hoodwink.predict import Prediction
    >>> fig = ask_figure(torch.zeros(3, 8, 8), torch.ones(3, 8, 8), [Prediction(0, "a", 0.6)],
    ...                  [Prediction(1, "b", 0.7)])
    >>> len(fig.axes)
    3
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import torch
from matplotlib.figure import Figure

from hoodwink.predict import Prediction
from hoodwink.viz.common import new_figure, show_image

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from hoodwink.models.labels import Labels

#: The colours of "before" and "after" bars.
BEFORE, AFTER = "#1f77b4", "#d62728"


def ask_figure(original: torch.Tensor, adversarial: torch.Tensor, before: Sequence[Prediction],
               after: Sequence[Prediction], *, title: str = "") -> Figure:
    """Original | adversarial | the API's answers (its top classes before and after).

    Images are (C, H, W) in [0, 1]; ``before`` and ``after`` the classes the API named.
    """
    fig = new_figure(10.5, 3.4)
    axes = fig.subplots(1, 3, gridspec_kw={"width_ratios": (1, 1, 1.5)})
    top_before = before[0] if before else None
    top_after = after[0] if after else None
    show_image(axes[0], original, _said("the photo", top_before))
    show_image(axes[1], adversarial, _said("the adversarial PNG", top_after))
    _answers(axes[2], before, after)
    if title:
        fig.suptitle(title, fontsize=10)
    return fig


def transfer_figure(original: torch.Tensor, adversarial: torch.Tensor,
                    surrogate_before: torch.Tensor, surrogate_after: torch.Tensor,
                    target_probs: torch.Tensor, names: Labels, *, surrogate: str,
                    target: str) -> Figure:
    """The photo and the image crafted on ``surrogate``, each with what the surrogate and
    the ``target`` said (``target_probs`` (2, classes): photo, crafted)."""
    fig = new_figure(7.0, 3.6)
    axes = fig.subplots(1, 2)
    for ax, image, own, theirs, what in ((axes[0], original, surrogate_before, target_probs[0],
                                          "the photo"),
                                         (axes[1], adversarial, surrogate_after, target_probs[1],
                                          f"crafted on {surrogate}")):
        show_image(ax, image, what)
        a, b = int(own.argmax()), int(theirs.argmax())
        ax.set_xlabel(f"{surrogate}: {names.name(a)[:18]} {float(own[a]):.0%}\n"
                      f"{target}: {names.name(b)[:18]} {float(theirs[b]):.0%}", fontsize=8)
    return fig


def _said(what: str, top: Prediction | None) -> str:
    return what if top is None else f"{what}\nAPI: {top.name[:20]} {top.probability:.0%}"


def _answers(ax: Axes, before: Sequence[Prediction], after: Sequence[Prediction]) -> None:
    """Horizontal bars: the API's classes before (blue) and after (red), best at the top."""
    rows = [(p, "before", BEFORE) for p in before] + [(p, "after", AFTER) for p in after]
    labels = [f"{when}: {p.name[:22]}" for p, when, _ in rows]
    y = list(range(len(rows)))[::-1]
    ax.barh(y, [p.probability for p, _, _ in rows], color=[c for _, _, c in rows])
    ax.set_yticks(y, labels, fontsize=8)
    ax.set_xlim(0, 1)
    ax.set_xlabel("probability the API answered", fontsize=8)
    ax.set_title("the API's top 5, before and after", fontsize=9)
    for yy, (p, _, _) in zip(y, rows):
        ax.text(min(p.probability + 0.02, 0.85), yy, f"{p.probability:.0%}", va="center",
                fontsize=7)
