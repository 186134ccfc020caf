"""What the minimal-norm attacks (``cw-l2``, ``deepfool``) share.

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
from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar, Protocol

import torch
from torch import nn

from hoodwink.attacks.base import MAX_RECORD, model_labels, prepare_images
from hoodwink.attacks.goals import Goal
from hoodwink.attacks.result import AttackResult, Trajectory
from hoodwink.attacks.threat import ThreatModel
from hoodwink.errors import ParameterError

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


class Recorder:
    """Per-step trajectory of a minimal-norm attack on n samples (NaN where a sample did not run)."""

    def __init__(self, rows: int, n: int, num_classes: int, device: torch.device,
                 enabled: bool = True) -> None:
        self.enabled = enabled
        self.loss = torch.full((rows, n), math.nan, device=device)
        self.norm = torch.full((rows, n), math.nan, device=device)
        self.top1 = torch.full((rows, n), -1, dtype=torch.long, device=device)
        self.probs: torch.Tensor | None = None
        if enabled and rows * n * num_classes <= MAX_RECORD:
            self.probs = torch.full((rows, n, num_classes), math.nan, device=device)
        self.last = 0

    def __call__(self, row: int, idx: torch.Tensor, probs: torch.Tensor, loss: torch.Tensor,
                 norm: torch.Tensor) -> None:
        if not self.enabled:
            return
        self.loss[row, idx] = loss.detach().float()
        self.norm[row, idx] = norm.detach().float()
        self.top1[row, idx] = probs.argmax(dim=1)
        if self.probs is not None:
            self.probs[row, idx] = probs
        self.last = max(self.last, row)

    def trajectory(self, labels: torch.Tensor) -> Trajectory | None:
        if not self.enabled:
            return None
        rows = self.last + 1
        top1 = self.top1[:rows]
        ordered = tuple(sorted(set(labels.tolist()) | set(top1[top1 >= 0].tolist())))
        if self.probs is not None:
            index = torch.tensor(ordered, dtype=torch.long, device=self.probs.device)
            probs = self.probs[:rows].index_select(2, index)
        else:
            probs = self.loss.new_full((rows, top1.shape[1], len(ordered)), math.nan)
        return Trajectory(ordered, probs, self.loss[:rows], self.norm[:rows], top1)


@dataclass(frozen=True)
class Batch:
    """What one batch of a minimal-norm attack gives back (internal; tensors (n, ...))."""

    adversarial: torch.Tensor
    success: torch.Tensor
    probabilities: torch.Tensor
    clean_probabilities: torch.Tensor
    labels: torch.Tensor
    forward: torch.Tensor
    backward: torch.Tensor
    steps: torch.Tensor
    trajectory: Trajectory | None


class MinimalAttack(Protocol):
    """What :func:`run_batches` reads from a minimal-norm attack."""

    name: ClassVar[str]
    norms: ClassVar[tuple[str, ...]]

    @property
    def batch_size(self) -> int: ...


def run_batches(attack: MinimalAttack, model: nn.Module, images: torch.Tensor, goal: Goal | None,
                threat: ThreatModel | None, norm: str,
                batch_fn: Callable[[torch.Tensor, Goal, ThreatModel], Batch],
                params: dict[str, object]) -> AttackResult:
    """Validate, quantise, split into ``batch_size`` batches, run ``batch_fn`` and assemble."""
    goal = Goal.untargeted() if goal is None else goal
    images = prepare_images(model, images)
    threat = unbounded_threat(norm, images) if threat is None else threat
    if threat.norm not in attack.norms:
        raise ParameterError(f"attack {attack.name!r} supports the norms "
                             f"{', '.join(attack.norms)}, not {threat.norm!r}")
    lo, hi = threat.bounds
    if images.numel() and (float(images.min()) < lo - 1e-6 or float(images.max()) > hi + 1e-6):
        raise ParameterError(f"images must lie inside the bounds {threat.bounds}")
    clean = threat.project(images, images) if threat.quantize else images
    n = clean.shape[0]
    if goal.classes is not None and len(goal.classes) not in (1, n):
        raise ParameterError(f"the goal has {len(goal.classes)} classes for {n} images")
    batch_size = attack.batch_size
    parts: list[Batch] = []
    for start in range(0, n, batch_size):
        stop = min(n, start + batch_size)
        sub_goal = goal
        if goal.classes is not None and len(goal.classes) == n and n > 1:
            sub_goal = Goal(goal.kind, goal.toward, goal.classes[start:stop])
        parts.append(batch_fn(clean[start:stop], sub_goal, threat))

    def cat(key: str) -> torch.Tensor:
        return torch.cat([getattr(p, key) for p in parts])

    trajectories = [p.trajectory for p in parts if p.trajectory is not None]
    trajectory = Trajectory.concat(trajectories) if len(trajectories) == len(parts) else None
    clean_probs = cat("clean_probabilities")
    return AttackResult.build(
        attack=attack.name, params=params, threat=threat, goal=goal,
        names=model_labels(model, clean_probs.shape[1]), original=clean,
        adversarial=cat("adversarial"), goal_classes=cat("labels"), success=cat("success"),
        clean_probabilities=clean_probs, adversarial_probabilities=cat("probabilities"),
        forward=cat("forward"), backward=cat("backward"), steps=cat("steps"),
        trajectory=trajectory,
    )
