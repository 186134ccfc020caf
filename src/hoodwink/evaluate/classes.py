"""Robustness per class and per group of classes: "you can't fool a dog"?

For each class (and each ImageNet group: dogs 151-268, domestic cats
281-285, birds, ...) :func:`per_class` counts the images, the clean accuracy,
the robust accuracy, how often a correctly classified image was *fooled*,
and the median size of the perturbation that fooled it (the smallest Linf of
a successful adversarial image found at any eps, an upper bound of the
minimal one). :func:`dog_claim` answers the talk's claim plainly.

Example:
    >>> group_of(200), group_of(283), group_of(3)
    ('dogs', 'cats', 'fish')
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from hoodwink.evaluate.suite import Evaluation, SampleRecord, _median

#: ImageNet-1k groups of classes (inclusive index ranges), from the WordNet hierarchy.
IMAGENET_GROUPS: dict[str, tuple[tuple[int, int], ...]] = {
    "fish": ((0, 6), (389, 397)),
    "birds": ((7, 24), (80, 100), (127, 146)),
    "reptiles and amphibians": ((25, 68),),
    "invertebrates": ((69, 79), (107, 126), (300, 329)),
    "dogs": ((151, 268),),
    "wolves and foxes": ((269, 280),),
    "cats": ((281, 285),),
    "big cats": ((286, 293),),
    "bears": ((294, 297),),
    "primates": ((365, 384),),
    "other mammals": ((101, 106), (147, 150), (298, 299), (330, 364), (385, 388)),
    "objects and scenes": ((398, 999),),
}


def group_of(cls: int, num_classes: int = 1000) -> str | None:
    """The ImageNet group of class ``cls`` (None for models with other classes)."""
    if num_classes != 1000:
        return None
    for name, spans in IMAGENET_GROUPS.items():
        if any(lo <= cls <= hi for lo, hi in spans):
            return name
    return None


@dataclass(frozen=True)
class ClassRow:
    """Robustness of one class or group at one eps."""

    name: str
    images: int
    correct: int
    robust: int
    median_linf_255: float | None

    @property
    def clean_accuracy(self) -> float:
        return self.correct / self.images if self.images else 0.0

    @property
    def robust_accuracy(self) -> float:
        return self.robust / self.images if self.images else 0.0

    @property
    def fooled(self) -> int:
        """Correctly classified images that an attack fooled."""
        return self.correct - self.robust

    @property
    def fooled_rate(self) -> float | None:
        return self.fooled / self.correct if self.correct else None

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "images": self.images, "correct": self.correct,
                "robust": self.robust, "fooled": self.fooled, "clean_accuracy": self.clean_accuracy,
                "robust_accuracy": self.robust_accuracy, "fooled_rate": self.fooled_rate,
                "median_linf_255": self.median_linf_255}


def minimal_linf(evaluations: Sequence[Evaluation]) -> dict[int, float]:
    """Per image: the smallest Linf of a successful adversarial image over all eps."""
    out: dict[int, float] = {}
    for e in evaluations:
        for s in e.samples:
            if s.correct and not s.robust:
                out[s.index] = min(out.get(s.index, s.linf), s.linf)
    return out


def _row(name: str, samples: Sequence[SampleRecord], smallest: dict[int, float]) -> ClassRow:
    sizes = [smallest[s.index] * 255 for s in samples if s.index in smallest]
    return ClassRow(name, len(samples), sum(s.correct for s in samples),
                    sum(s.robust for s in samples), _median(sizes))


def per_class(evaluation: Evaluation, names: Sequence[str],
              evaluations: Sequence[Evaluation] = ()) -> list[ClassRow]:
    """One row per class present in the data, in class order."""
    smallest = minimal_linf(evaluations or [evaluation])
    by: dict[int, list[SampleRecord]] = {}
    for s in evaluation.samples:
        by.setdefault(s.label, []).append(s)
    return [_row(names[c] if c < len(names) else str(c), by[c], smallest) for c in sorted(by)]


def per_group(evaluation: Evaluation, num_classes: int,
              evaluations: Sequence[Evaluation] = ()) -> list[ClassRow]:
    """One row per ImageNet group present in the data (none for other models)."""
    smallest = minimal_linf(evaluations or [evaluation])
    by: dict[str, list[SampleRecord]] = {}
    for s in evaluation.samples:
        group = group_of(s.label, num_classes)
        if group is not None:
            by.setdefault(group, []).append(s)
    order = list(IMAGENET_GROUPS)
    return [_row(g, by[g], smallest) for g in sorted(by, key=order.index)]


def ranked(rows: Sequence[ClassRow], n: int = 5) -> tuple[list[ClassRow], list[ClassRow]]:
    """The ``n`` most and least robust classes: by robust accuracy, then by the median Linf
    that fooled them (a class with no fooled image ranks by its accuracy alone: above the
    fooled ones when it kept robust images, below them when it had none correct)."""
    def key(r: ClassRow) -> tuple[float, float]:
        if r.median_linf_255 is not None:
            return (r.robust_accuracy, r.median_linf_255)
        return (r.robust_accuracy, 1e9 if r.robust else -1.0)

    ordered = sorted(rows, key=key, reverse=True)
    return ordered[:n], ordered[::-1][:n]


@dataclass(frozen=True)
class Claim:
    """The answer to "you can't fool a dog" at one eps."""

    holds: bool | None
    dogs_fooled: int
    dogs_correct: int
    rest_fooled: int
    rest_correct: int
    eps_255: float
    text: str

    def to_dict(self) -> dict[str, Any]:
        return {"holds": self.holds, "dogs_fooled": self.dogs_fooled,
                "dogs_correct": self.dogs_correct, "rest_fooled": self.rest_fooled,
                "rest_correct": self.rest_correct, "eps_255": self.eps_255, "text": self.text}


def dog_claim(evaluation: Evaluation, num_classes: int, *, margin: float = 0.1) -> Claim | None:
    """Do dogs resist being fooled more than the rest? (None unless ImageNet classes.)

    The claim holds when correctly classified dogs are fooled at a rate at least
    ``margin`` below the other classes'; it needs 3 correctly classified dogs.
    """
    if num_classes != 1000:
        return None
    dogs = [s for s in evaluation.samples if s.correct and group_of(s.label) == "dogs"]
    rest = [s for s in evaluation.samples if s.correct and group_of(s.label) != "dogs"]
    d_f, r_f = sum(not s.robust for s in dogs), sum(not s.robust for s in rest)
    eps = round(evaluation.threat.eps * 255, 4)
    if len(dogs) < 3 or not rest:
        return Claim(None, d_f, len(dogs), r_f, len(rest), eps,
                     f"at {eps:g}/255: too few correctly classified dogs ({len(dogs)}) to tell")
    d_rate, r_rate = d_f / len(dogs), r_f / len(rest)
    holds = d_rate + margin <= r_rate
    verdict = "holds" if holds else "does not hold"
    text = (f"at {eps:g}/255 dogs were fooled {d_f}/{len(dogs)} ({d_rate:.0%}) and the rest "
            f"{r_f}/{len(rest)} ({r_rate:.0%}): \"you can't fool a dog\" {verdict} for this model")
    return Claim(holds, d_f, len(dogs), r_f, len(rest), eps, text)


__all__ = ["IMAGENET_GROUPS", "Claim", "ClassRow", "dog_claim", "group_of", "minimal_linf",
           "per_class", "per_group", "ranked"]
