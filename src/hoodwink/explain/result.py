"""What an explanation returns: the maps, the class they explain, and how far to trust them.

Example:
    >>> import torch
    >>> e = Explanation(method="saliency", images=torch.zeros(1, 3, 4, 4),
    ...                 attributions=torch.ones(1, 3, 4, 4), maps=torch.ones(1, 4, 4),
    ...                 targets=(0,), target_names=("cat",), probabilities=(0.9,))
    >>> e.to_dict()[0]["target"]
    'cat'
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

from hoodwink.errors import ParameterError


@dataclass(frozen=True)
class Faithfulness:
    """Deletion and insertion scores of one map (Petsiuk et al. 2018, "RISE").

    ``deletion_curve[k]`` is the target class's probability after the top
    ``k / steps`` of the pixels (in the map's order) are replaced by a blurred
    copy of the image; ``insertion_curve[k]`` after they are copied onto that
    blurred copy. The areas under the curves (x from 0 to 1): a faithful map has a low
    ``deletion_auc`` (the class vanishes quickly) and a high ``insertion_auc``.
    """

    deletion_auc: float
    insertion_auc: float
    deletion_curve: tuple[float, ...] = field(repr=False)
    insertion_curve: tuple[float, ...] = field(repr=False)

    def to_dict(self) -> dict[str, Any]:
        return {"deletion_auc": self.deletion_auc, "insertion_auc": self.insertion_auc,
                "deletion_curve": list(self.deletion_curve),
                "insertion_curve": list(self.insertion_curve)}


@dataclass(frozen=True)
class SanityCheck:
    """Model-randomisation check of one map (Adebayo et al. 2018, "Sanity checks for saliency maps").

    ``similarity`` is the Spearman rank correlation between the absolute map of
    the trained model and that of the same network with its weights scrambled.
    A map that explains the model must change: ``passed`` is False (the method is
    flagged) when the similarity reaches ``threshold``.
    """

    similarity: float
    threshold: float

    @property
    def passed(self) -> bool:
        return self.similarity < self.threshold

    def to_dict(self) -> dict[str, Any]:
        return {"similarity": self.similarity, "threshold": self.threshold, "passed": self.passed}


@dataclass(frozen=True)
class Explanation:
    """Attribution maps for a batch of images, one target class each.

    Attributes:
        method: registry name of the method (``"gradcam"``, ...).
        images: (N, C, H, W) in [0, 1], the pixels the model saw (after ``prepare``).
        attributions: (N, C', H, W) the method's raw output at input resolution
            (C' = C for pixel methods, 1 for Grad-CAM).
        maps: (N, H, W) one relevance value per pixel; larger = more evidence for
            the target class. ``signed`` maps may be negative (evidence against).
        targets, target_names: the explained class of each image.
        probabilities: the model's probability of that class on each image.
        seconds: wall time of the attribution (without faithfulness).
        faithfulness, sanity: one entry per image when computed, else None.
    """

    method: str
    images: torch.Tensor = field(repr=False)
    attributions: torch.Tensor = field(repr=False)
    maps: torch.Tensor = field(repr=False)
    targets: tuple[int, ...]
    target_names: tuple[str, ...]
    probabilities: tuple[float, ...]
    signed: bool = False
    seconds: float = 0.0
    names: tuple[str, ...] = ()
    parameters: dict[str, Any] = field(default_factory=dict)
    faithfulness: tuple[Faithfulness, ...] | None = None
    sanity: tuple[SanityCheck, ...] | None = None

    def __len__(self) -> int:
        return len(self.targets)

    def name(self, index: int) -> str:
        """The image's name, or ``image i`` when it has none."""
        return self.names[index] if index < len(self.names) else f"image {index}"

    def to_dict(self) -> list[dict[str, Any]]:
        """One JSON-ready entry per image (no pixel data)."""
        out = []
        for i in range(len(self)):
            entry: dict[str, Any] = {
                "image": self.name(i), "method": self.method, "target": self.target_names[i],
                "target_index": self.targets[i], "probability": self.probabilities[i],
                "deletion_auc": None, "insertion_auc": None,
                "seconds": self.seconds / max(1, len(self)), "parameters": dict(self.parameters),
            }
            if self.faithfulness is not None:
                entry["deletion_auc"] = self.faithfulness[i].deletion_auc
                entry["insertion_auc"] = self.faithfulness[i].insertion_auc
            if self.sanity is not None:
                entry["sanity"] = self.sanity[i].to_dict()
            out.append(entry)
        return out

    @classmethod
    def concat(cls, explanations: Sequence[Explanation]) -> Explanation:
        """One explanation of every image of ``explanations``, in order.

        They must share the method, whether the maps are signed and the
        parameters; ``seconds`` add up; faithfulness and sanity are kept when
        every part has them.

        Raises:
            ParameterError: for no explanations, or parts that do not match.
        """
        parts = list(explanations)
        if not parts:
            raise ParameterError("nothing to concatenate: no explanations")
        first = parts[0]
        for other in parts[1:]:
            for what in ("method", "signed", "parameters"):
                if getattr(other, what) != getattr(first, what):
                    raise ParameterError(f"cannot concatenate explanations with different {what}: "
                                         f"{getattr(first, what)!r} and {getattr(other, what)!r}")
        faithfulness = [p.faithfulness for p in parts]
        sanity = [p.sanity for p in parts]
        return cls(
            method=first.method,
            images=torch.cat([p.images for p in parts]),
            attributions=torch.cat([p.attributions for p in parts]),
            maps=torch.cat([p.maps for p in parts]),
            targets=sum((p.targets for p in parts), ()),
            target_names=sum((p.target_names for p in parts), ()),
            probabilities=sum((p.probabilities for p in parts), ()),
            signed=first.signed,
            seconds=sum(p.seconds for p in parts),
            names=sum((p.names for p in parts), ()) if all(len(p.names) == len(p) for p in parts) else (),
            parameters=dict(first.parameters),
            faithfulness=None if any(f is None for f in faithfulness) else sum((f or () for f in faithfulness), ()),
            sanity=None if any(c is None for c in sanity) else sum((c or () for c in sanity), ()),
        )


@dataclass(frozen=True)
class AttackExplanation:
    """Maps of a clean image and its adversarial twin for the same class, and their difference.

    ``difference`` is (adversarial map - clean map) divided by the largest
    absolute value in either map, so it lies in [-2, 2] and shows where the
    evidence for the class was gained or lost; the figure draws both maps on
    that common scale too.
    """

    clean: Explanation
    adversarial: Explanation
    difference: torch.Tensor = field(repr=False)
    clean_prediction: str = ""
    adversarial_prediction: str = ""

    def __post_init__(self) -> None:
        if len(self.clean) != len(self.adversarial):
            raise ParameterError("clean and adversarial explanations differ in length")

    def to_dict(self) -> list[dict[str, Any]]:
        return [{"clean": c, "adversarial": a, "clean_prediction": self.clean_prediction,
                 "adversarial_prediction": self.adversarial_prediction,
                 "difference_l1": float(self.difference[i].abs().mean())}
                for i, (c, a) in enumerate(zip(self.clean.to_dict(), self.adversarial.to_dict()))]
