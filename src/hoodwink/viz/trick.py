"""The trick panel: original | perturbation x50 | perturbation stretched | adversarial.

As in the talk, the perturbation is invisible at its true size, so it is shown
magnified 50 times (``offset + 50 * delta``; the offset is black when every
pixel only went up, as for the black image, otherwise mid-gray) and also
contrast-stretched so that its largest change fills the range. The original
and the adversarial image are titled with their top classes and probabilities.

Example:
    >>> import torch
    >>> from hoodwink.predict import Prediction
    >>> black = torch.zeros(3, 8, 8)
    >>> fig = trick_panel(black, black + 2 / 255, [Prediction(0, "velvet", 0.27)],
    ...                   [Prediction(700, "paper towel", 0.9)])
    >>> [ax.get_title().splitlines()[0] for ax in fig.axes]
    ['original', 'perturbation x50', 'perturbation, stretched', 'adversarial']
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import torch
from matplotlib.figure import Figure

from hoodwink.errors import ParameterError
from hoodwink.predict import Prediction
from hoodwink.viz.common import GRID_ROWS, as_hwc, describe_top, new_figure, pixels, show_image

if TYPE_CHECKING:
    from hoodwink.attacks.result import AttackResult

__all__ = ["GRID_ROWS", "attack_title", "perturbation_pictures", "result_figure", "trick_figure", "trick_grid",
           "trick_panel"]


def perturbation_pictures(original: torch.Tensor | np.ndarray, adversarial: torch.Tensor | np.ndarray,
                          magnify: float = 50.0) -> tuple[np.ndarray, np.ndarray]:
    """(magnified, stretched) pictures of ``adversarial - original``, each (H, W, C) in [0, 1].

    ``magnified = offset + magnify * delta`` (offset 0 when ``delta >= 0`` everywhere,
    else 0.5), clipped; ``stretched`` maps the largest ``|delta|`` to the edge of the range.
    """
    a, b = _array(original), _array(adversarial)
    if a.shape != b.shape:
        raise ParameterError(f"original {a.shape} and adversarial {b.shape} differ in shape")
    delta = b - a
    offset = 0.0 if delta.min(initial=0.0) >= 0.0 else 0.5
    peak = float(np.abs(delta).max(initial=0.0)) or 1.0
    magnified = np.clip(offset + magnify * delta, 0.0, 1.0)
    stretched = np.clip(offset + (1.0 - offset) * delta / peak, 0.0, 1.0)
    return as_hwc(magnified), as_hwc(stretched)


def trick_panel(
    original: torch.Tensor | np.ndarray,
    adversarial: torch.Tensor | np.ndarray,
    original_predictions: Sequence[Prediction],
    adversarial_predictions: Sequence[Prediction],
    *,
    magnify: float = 50.0,
    top: int = 2,
    title: str | None = None,
) -> Figure:
    """Four panels: original | perturbation x``magnify`` | stretched | adversarial.

    Args:
        original, adversarial: (C, H, W) images in [0, 1] of the same shape.
        original_predictions, adversarial_predictions: top classes, best first;
            the first ``top`` are written under each image.
        magnify: how much the perturbation is multiplied (the talk: 50).
        title: optional figure title.
    """
    if magnify <= 0:
        raise ParameterError(f"magnify must be positive, not {magnify}")
    magnified, stretched = perturbation_pictures(original, adversarial, magnify)
    delta = _array(adversarial) - _array(original)
    linf = float(np.abs(delta).max(initial=0.0))
    l2 = float(np.sqrt((delta**2).sum()))
    fig = new_figure(12.0, 4.0 if title else 3.7)
    axes = fig.subplots(1, 4)
    show_image(axes[0], original, "original\n" + describe_top(original_predictions, top))
    show_image(axes[1], magnified, f"perturbation x{magnify:g}\nmax change {pixels(linf)}, L2 {l2:.2f}")
    show_image(axes[2], stretched, "perturbation, stretched\n(largest change = full range)")
    show_image(axes[3], adversarial, "adversarial\n" + describe_top(adversarial_predictions, top))
    if title:
        fig.suptitle(title)
    return fig


def trick_figure(result: AttackResult, index: int = 0, *, magnify: float = 50.0, top: int = 2) -> Figure:
    """:func:`trick_panel` for sample ``index`` of an :class:`~hoodwink.attacks.AttackResult`.

    Example:
        >>> result = trick(model, "black", into="paper towel", steps=10)   # doctest: +SKIP
        >>> save_figure(trick_figure(result), "trick.png")                  # doctest: +SKIP
    """
    sample = _sample(result, index)
    return trick_panel(
        sample.original[0], sample.adversarial[0],
        sample.predictions(adversarial=False, top=top)[0], sample.predictions(adversarial=True, top=top)[0],
        magnify=magnify, top=top, title=attack_title(sample),
    )


def result_figure(result: AttackResult, *, names: Sequence[str] | None = None, magnify: float = 50.0) -> Figure:
    """The picture of an attack result (``hoodwink.viz.figure(result)``, Jupyter, ``attack --plot``).

    One image: the four-panel :func:`trick_figure`. A batch: :func:`trick_grid`,
    one row for each of the first :data:`GRID_ROWS` images (``names`` name them).
    """
    if len(result) == 1 and names is None:
        return trick_figure(result, magnify=magnify)
    rows = min(len(result), GRID_ROWS)
    return trick_grid([result[i] for i in range(rows)], names=None if names is None else list(names)[:rows],
                      magnify=magnify)


def trick_grid(samples: Sequence[AttackResult], *, names: Sequence[str] | None = None,
               magnify: float = 50.0, top: int = 1) -> Figure:
    """One row per image: original | perturbation x``magnify`` | adversarial.

    The many-image view of :func:`trick_panel` (``hoodwink attack --plot`` and a
    batch result in Jupyter). The adversarial image is titled with its top class
    and whether it fooled the network.

    Args:
        samples: one-sample results (``result[i]``), one row each.
        names: optional row names (file names), written above the original.

    Example:
        >>> result = get_attack("pgd")(model, images)                    # doctest: +SKIP
        >>> save_figure(trick_grid([result[i] for i in range(4)]), "grid.png")  # doctest: +SKIP
    """
    if not samples:
        raise ParameterError("no images to draw")
    if names is not None and len(names) != len(samples):
        raise ParameterError(f"{len(names)} names for {len(samples)} images")
    if magnify <= 0:
        raise ParameterError(f"magnify must be positive, not {magnify}")
    fig = new_figure(7.5, 2.7 * len(samples))
    axes = fig.subplots(len(samples), 3, squeeze=False)
    for row, (ax, sample) in enumerate(zip(axes, samples)):
        if len(sample) != 1:
            raise ParameterError(f"row {row}: one sample per row (result[i]), not {len(sample)}")
        original, adversarial = sample.original[0], sample.adversarial[0]
        magnified, _ = perturbation_pictures(original, adversarial, magnify)
        name = f"{names[row]}\n" if names is not None else ""
        verdict = "fooled" if bool(sample.success[0]) else "not fooled"
        show_image(ax[0], original, name + describe_top(sample.predictions(adversarial=False, top=top)[0], top))
        show_image(ax[1], magnified, f"perturbation x{magnify:g}\nmax change {pixels(float(sample.linf[0]))}")
        show_image(ax[2], adversarial,
                   f"{verdict}\n" + describe_top(sample.predictions(adversarial=True, top=top)[0], top))
    return fig


def attack_title(sample: AttackResult) -> str:
    """``"bim, targeted: vulture, eps 8/255, 6 steps: success"`` for a one-sample result."""
    steps = int(sample.steps[0])
    outcome = "success" if bool(sample.success[0]) else "not fooled"
    return (f"{sample.attack}, {sample.goal.describe(sample.names)}, eps {pixels(sample.threat.eps)}, "
            f"{steps} step{'s' if steps != 1 else ''}: {outcome}")


def _sample(result: AttackResult, index: int) -> AttackResult:
    if not -len(result) <= index < len(result):
        raise ParameterError(f"sample {index} out of range: the result has {len(result)} samples")
    return result[index]


def _array(image: torch.Tensor | np.ndarray) -> np.ndarray:
    array = image.detach().float().cpu().numpy() if isinstance(image, torch.Tensor) else np.asarray(image, float)
    return array[0] if array.ndim == 4 and array.shape[0] == 1 else array
