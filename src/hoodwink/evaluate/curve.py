"""Robust accuracy against eps.

Two curves from one run:

* fixed budgets (``--eps 1/255,2/255,4/255``): the ensemble's robust accuracy
  at each eps (:func:`budget_curve`);
* per image, the smallest perturbation that fooled it (:func:`minimal_curve`):
  the smallest Linf of a successful adversarial image found at any eps (an
  upper bound of the minimal one), so the accuracy at any eps ``e`` is the
  share of images with no adversarial image smaller than ``e``. Between the
  budgets it is an upper bound of the robust accuracy; at the budgets it
  agrees with the fixed-budget curve when accuracy falls with eps.

Example:
    >>> parse_eps_list("1/255, 2/255")
    (0.00392156862745098, 0.00784313725490196)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from hoodwink.attacks.threat import parse_eps
from hoodwink.errors import ParameterError
from hoodwink.evaluate.classes import minimal_linf
from hoodwink.evaluate.suite import Evaluation


def parse_eps_list(text: str | Sequence[str | float]) -> tuple[float, ...]:
    """Sorted distinct eps values from ``"1/255,2/255"`` or a list."""
    parts = [p for p in (text.split(",") if isinstance(text, str) else text) if str(p).strip()]
    if not parts:
        raise ParameterError("give at least one eps, like 1/255,2/255")
    return tuple(sorted({parse_eps(p) for p in parts}))


@dataclass(frozen=True)
class CurvePoint:
    eps: float
    robust_accuracy: float

    def to_dict(self) -> dict[str, Any]:
        return {"eps": self.eps, "eps_255": round(self.eps * 255, 4),
                "robust_accuracy": self.robust_accuracy}


def budget_curve(evaluations: Sequence[Evaluation]) -> list[CurvePoint]:
    """Robust accuracy at each evaluated eps (ascending), starting from clean accuracy at 0."""
    ordered = sorted(evaluations, key=lambda e: e.threat.eps)
    if not ordered:
        return []
    points = [CurvePoint(0.0, ordered[0].clean_accuracy)]
    points += [CurvePoint(e.threat.eps, e.robust_accuracy) for e in ordered if e.threat.eps > 0]
    return points


def minimal_curve(evaluations: Sequence[Evaluation], *, points: int = 64,
                  top: float | None = None) -> list[CurvePoint]:
    """Accuracy at eps in [0, ``top``] from each image's smallest successful perturbation
    (Linf) in any of ``evaluations`` (default ``top``: their largest eps)."""
    if not evaluations:
        return []
    smallest = minimal_linf(evaluations)
    samples = evaluations[0].samples
    n = max(len(samples), 1)
    correct = [s.index for s in samples if s.correct]
    top = max(e.threat.eps for e in evaluations) if top is None else top
    grid = sorted({top * k / (points - 1) for k in range(points)}
                  | {v for v in smallest.values() if v <= top})
    return [CurvePoint(e, sum(1 for i in correct if smallest.get(i, float("inf")) > e) / n)
            for e in grid]


__all__ = ["CurvePoint", "budget_curve", "minimal_curve", "parse_eps_list"]
