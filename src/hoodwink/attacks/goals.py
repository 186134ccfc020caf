"""What the attacker wants: away from a class, or into one.

Four goals, two directions. *Away* goals (``untargeted``, ``less_like``)
succeed when the top-1 class is no longer the goal's class; *toward* goals
(``targeted``, ``more_like``) succeed when it is. ``untargeted`` moves away
from the true labels, or from the clean prediction when none are given;
``less_like`` and ``more_like`` are the talk's single-class moves ("one step
less like panda makes a weasel", "more like paper towel").

The loss to maximise is the cross-entropy of the goal's class (away) or its
negative (toward). ``confidence`` (a probability in [0, 1)) asks for more than
a flip: the winning class, the target or the new top-1, must reach it
("go on until 90% paper towel").

Example:
    >>> import torch
    >>> goal = Goal.targeted(2)
    >>> logits = torch.tensor([[0.0, 1.0, 3.0], [3.0, 1.0, 0.0]])
    >>> goal.reached(logits).tolist()
    [True, False]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

from hoodwink.errors import ParameterError

Classes = int | Sequence[int] | torch.Tensor


def _as_tuple(classes: Classes) -> tuple[int, ...]:
    if isinstance(classes, torch.Tensor):
        values = classes.detach().flatten().tolist()
    elif isinstance(classes, int):
        values = [classes]
    else:
        values = [*classes]
    out = []
    for v in values:
        if isinstance(v, bool) or int(v) != v or int(v) < 0:
            raise ParameterError(f"classes must be non-negative integers, not {v!r}")
        out.append(int(v))
    if not out:
        raise ParameterError("a goal needs at least one class")
    return tuple(out)


@dataclass(frozen=True)
class Goal:
    """A goal for every sample of a batch.

    ``classes`` holds one class for all samples, or one per sample, or nothing
    (untargeted from the clean prediction). Build goals with the class methods.
    """

    kind: str
    toward: bool
    classes: tuple[int, ...] | None = None

    @classmethod
    def untargeted(cls, labels: Classes | None = None) -> Goal:
        """Away from the true ``labels``, or from the clean prediction when None."""
        return cls("untargeted", False, None if labels is None else _as_tuple(labels))

    @classmethod
    def targeted(cls, target: Classes) -> Goal:
        """Into class ``target`` (one for all samples, or one per sample)."""
        return cls("targeted", True, _as_tuple(target))

    @classmethod
    def less_like(cls, class_: Classes) -> Goal:
        """The talk's single-class move away from a class ("less like panda")."""
        return cls("less_like", False, _as_tuple(class_))

    @classmethod
    def more_like(cls, class_: Classes) -> Goal:
        """The talk's single-class move toward a class ("more like paper towel")."""
        return cls("more_like", True, _as_tuple(class_))

    def part(self, start: int, stop: int, n: int) -> Goal:
        """The goal of samples ``start:stop`` of a batch of ``n`` (per-sample classes are cut)."""
        if self.classes is None or len(self.classes) != n or n == 1:
            return self
        return Goal(self.kind, self.toward, self.classes[start:stop])

    def select(self, index: torch.Tensor | slice | int, n: int) -> Goal:
        """The goal of the samples ``index`` (a mask, indices, a slice or one index) of ``n``.

        Example:
            >>> Goal.targeted([3, 4, 5]).select(torch.tensor([True, False, True]), 3).classes
            (3, 5)
        """
        if self.classes is None or len(self.classes) != n or n == 1:
            return self
        picked = torch.arange(n)[index].reshape(-1).tolist()
        return Goal(self.kind, self.toward, tuple(self.classes[i] for i in picked))

    def labels(self, clean_logits: torch.Tensor) -> torch.Tensor:
        """The goal's class for every sample (N,) long; predictions fill a missing one."""
        n, num_classes = clean_logits.shape
        if self.classes is None:
            return clean_logits.detach().argmax(dim=1)
        if len(self.classes) not in (1, n):
            raise ParameterError(f"the goal has {len(self.classes)} classes for {n} images")
        if max(self.classes) >= num_classes:
            raise ParameterError(
                f"class {max(self.classes)} is out of range: the model has {num_classes} classes")
        out = torch.tensor(self.classes, dtype=torch.long, device=clean_logits.device)
        return out.expand(n) if len(self.classes) == 1 else out

    def loss(self, logits: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """Per-sample loss (N,) to maximise: CE away from, or minus CE toward, the class."""
        labels = self.labels(logits) if labels is None else labels
        ce = F.cross_entropy(logits, labels, reduction="none")
        return -ce if self.toward else ce

    def reached_probs(self, probs: torch.Tensor, labels: torch.Tensor,
                      confidence: float = 0.0) -> torch.Tensor:
        """Success (N,) bool from probabilities: top-1 is (toward) or is not (away) the class,
        and the winning class has probability at least ``confidence``."""
        top_p, top = probs.max(dim=1)
        hit = top == labels
        ok = hit if self.toward else ~hit
        if confidence > 0:
            ok = ok & (top_p >= confidence)
        return ok

    def reached(self, logits: torch.Tensor, confidence: float = 0.0,
                labels: torch.Tensor | None = None) -> torch.Tensor:
        """Success (N,) bool for a batch of logits (see :meth:`reached_probs`)."""
        labels = self.labels(logits) if labels is None else labels
        return self.reached_probs(logits.detach().float().softmax(dim=1), labels, confidence)

    def describe(self, names: Any = None) -> str:
        """``"targeted: vulture"``-style text; ``names`` is a Labels to name classes."""
        if self.classes is None:
            return f"{self.kind}: away from the clean prediction"
        shown = [names.name(c) if names is not None else str(c) for c in self.classes[:3]]
        more = ", ..." if len(self.classes) > 3 else ""
        return f"{self.kind}: {', '.join(shown)}{more}"

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "toward": self.toward,
                "classes": None if self.classes is None else list(self.classes)}
