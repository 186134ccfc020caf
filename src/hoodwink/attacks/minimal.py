"""What the minimal-norm attacks (``cw-l2``, ``deepfool``, and the decision-based ones) share.

Minimal-norm attacks look for the *smallest* perturbation that reaches the
goal instead of the strongest one inside a fixed ball. Here is how they meet
the threat model:

* ``ThreatModel.eps`` is an upper bound. Every image they evaluate is
  :meth:`ThreatModel.project`-ed (ball ∩ bounds ∩ 8-bit grid) first, so a
  perturbation longer than eps is judged, and returned, at its projection: a
  sample that needs more than eps counts as not fooled.
* With ``threat=None`` the bound is the whole pixel box (eps = the box's
  diameter: L2 ``sqrt(C*H*W) * (high - low)``, Linf ``high - low``), i.e. no
  bound, and 8-bit quantisation stays on.
* Success is judged on the 8-bit image with a logit margin of at least
  :data:`TIE_MARGIN`: a flip by less than that is float noise (the same image
  in a batch of another size can be summed in another order and flip back),
  and would not survive being saved and predicted alone.

Example:
    >>> import torch
    >>> unbounded_threat("l2", torch.zeros(1, 3, 4, 4)).eps                # sqrt(48)
    6.928203230275509
"""

from __future__ import annotations

import math

import torch

from hoodwink.attacks.engine import AttackBase
from hoodwink.attacks.goals import Goal
from hoodwink.attacks.threat import ThreatModel
from hoodwink.validate import check_bool, check_float, check_int

#: Logits must clear the runner-up by this much for a flip to count.
TIE_MARGIN = 1e-3


def unbounded_threat(norm: str, images: torch.Tensor,
                     bounds: tuple[float, float] = (0.0, 1.0)) -> ThreatModel:
    """A threat whose ball holds the whole pixel box: only bounds and the grid apply."""
    width = bounds[1] - bounds[0]
    eps = width if norm == "linf" else math.sqrt(images[0].numel()) * width
    if norm == "l1":
        eps = images[0].numel() * width
    return ThreatModel(norm, eps, bounds)


def goal_margin(logits: torch.Tensor, labels: torch.Tensor, toward: bool) -> torch.Tensor:
    """Per-sample margin (N,): positive once the goal is reached.

    Toward a class: its logit minus the best other logit. Away from a class: the
    best other logit minus its logit.
    """
    own = logits.gather(1, labels[:, None]).squeeze(1)
    other = logits.scatter(1, labels[:, None], -math.inf).amax(dim=1)
    return own - other if toward else other - own


def judge(logits: torch.Tensor, labels: torch.Tensor, goal: Goal,
          confidence: float) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(success, margin, probabilities) of a batch of logits, as the minimal attacks count it."""
    logits = logits.detach().float()
    probs = logits.softmax(dim=1)
    margin = goal_margin(logits, labels, goal.toward)
    success = (margin >= TIE_MARGIN) & goal.reached_probs(probs, labels, confidence)
    return success, margin, probs


class MinimalNormAttack(AttackBase):
    """What every minimal-norm attack shares: no eps bound unless a threat is given
    (only the pixel box and the 8-bit grid), and the checks of the common fields."""

    batch_size: int
    confidence: float
    record: bool

    def default_threat(self, images: torch.Tensor) -> ThreatModel:
        """No eps bound: the whole pixel box (L2), on the 8-bit grid."""
        return unbounded_threat("l2", images)

    def check_common(self) -> None:
        """Validate ``batch_size``, ``confidence`` and ``record``."""
        check_int("batch_size", self.batch_size)
        check_float("confidence", self.confidence, low=0.0, high=1.0, high_open=True)
        check_bool("record", self.record)
