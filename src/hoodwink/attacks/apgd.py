"""APGD: step-size-free PGD with momentum and checkpoints (Croce and Hein 2020).

The step size starts at ``2 * eps`` and halves at checkpoints where the loss
stopped rising often enough, restarting from the best point so far; a
momentum of 0.25 mixes in the previous step. Three registered variants:

* ``apgd-ce``: cross-entropy loss;
* ``apgd-dlr``: the Difference of Logits Ratio loss (scale-invariant);
* ``apgd-t``: targeted DLR. With a targeted goal it aims at the goal's class;
  with an untargeted goal each run aims at the next most likely class (run
  ``r`` at the ``r + 2``-th), on the samples not yet fooled, as in AutoAttack.

Example:
    >>> result = APGDDLR(steps=100)(model, images, Goal.untargeted(labels))   # doctest: +SKIP
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property
from typing import ClassVar

import torch

from hoodwink.attacks.goals import Goal
from hoodwink.attacks.gradient import GradientAttack, State
from hoodwink.attacks.registry import register_attack
from hoodwink.attacks.threat import ThreatModel
from hoodwink.errors import ParameterError

#: Momentum weight: x <- x + alpha * (z - x) + (1 - alpha) * (x - x_prev).
ALPHA = 0.75
#: A window in which the loss rose in at most this fraction of steps halves the step size.
RHO = 0.75


def dlr_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Untargeted DLR (N,), to maximise: ``-(z_y - max_{i != y} z_i) / (z_pi1 - z_pi3)``."""
    if logits.shape[1] < 3:
        raise ParameterError("the DLR loss needs at least 3 classes")
    top = logits.topk(3, dim=1).values
    z_y = logits.gather(1, labels[:, None])[:, 0]
    other = logits.scatter(1, labels[:, None], -math.inf).amax(dim=1)
    return -(z_y - other) / (top[:, 0] - top[:, 2] + 1e-12)


def dlr_targeted_loss(logits: torch.Tensor, source: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Targeted DLR (N,), to maximise: ``-(z_y - z_t) / (z_pi1 - (z_pi3 + z_pi4) / 2)``."""
    if logits.shape[1] < 4:
        raise ParameterError("the targeted DLR loss needs at least 4 classes")
    top = logits.topk(4, dim=1).values
    z_y = logits.gather(1, source[:, None])[:, 0]
    z_t = logits.gather(1, target[:, None])[:, 0]
    return -(z_y - z_t) / (top[:, 0] - 0.5 * (top[:, 2] + top[:, 3]) + 1e-12)


@dataclass(frozen=True)
class APGD(GradientAttack):
    """Auto-PGD (Croce and Hein 2020, arXiv:2003.01690); ``loss`` is ``"ce"`` or ``"dlr"``.

    ``step_size`` is the initial step (default ``2 * eps``); ``steps`` the
    iterations per run (checkpoints at 22%, then windows shrinking by 3% to 6%).
    """

    name: ClassVar[str] = "apgd"

    steps: int = 100
    random_start: bool = True
    loss: str = "ce"

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.loss not in _LOSSES:
            raise ParameterError(f"loss must be one of {', '.join(_LOSSES)}, not {self.loss!r}")

    def default_step_size(self, threat: ThreatModel) -> float:
        return 2.0 * threat.eps

    @cached_property
    def checkpoints(self) -> dict[int, int]:
        """Step -> the length of the window that ends there."""
        n = self.steps
        window, decrease, smallest = max(int(0.22 * n), 1), max(int(0.03 * n), 1), max(int(0.06 * n), 1)
        out, at = {}, 0
        while at + window <= n:
            at += window
            out[at] = window
            window = max(window - decrease, smallest)
        return out

    def init_state(self, x: torch.Tensor, clean: torch.Tensor, labels: torch.Tensor,
                   clean_logits: torch.Tensor, threat: ThreatModel, run: int) -> State:
        n = x.shape[0]
        step_size = self.step_size if self.step_size is not None else self.default_step_size(threat)
        state = {
            "eta": x.new_full((n,), step_size),
            "x_prev": x.clone(),
            "x_best": x.clone(),
            "grad_best": torch.zeros_like(x),
            "loss_best": x.new_full((n,), -math.inf),
            "loss_last": x.new_full((n,), -math.inf),
            "increases": x.new_zeros((n,)),
            "best_at_check": x.new_full((n,), -math.inf),
            "reduced": torch.ones(n, dtype=torch.bool, device=x.device),
            "source": clean_logits.argmax(dim=1),
        }
        state["target"] = self._target(labels, clean_logits, run)
        return state

    def _target(self, labels: torch.Tensor, clean_logits: torch.Tensor, run: int) -> torch.Tensor:
        return labels

    def attack_loss(self, logits: torch.Tensor, labels: torch.Tensor, goal: Goal,
                    state: State) -> torch.Tensor:
        return _LOSSES[self.loss](logits, labels, goal, state)

    def update(self, x: torch.Tensor, grad: torch.Tensor, *, loss: torch.Tensor, state: State,
               step: int, clean: torch.Tensor, threat: ThreatModel, step_size: float) -> torch.Tensor:
        s = state
        if step > 0:
            s["increases"] += (loss > s["loss_last"]).to(x.dtype)
        s["loss_last"] = loss
        better = loss > s["loss_best"]
        b = better.view(-1, *([1] * (x.dim() - 1)))
        s["x_best"] = torch.where(b, x, s["x_best"])
        s["grad_best"] = torch.where(b, grad, s["grad_best"])
        s["loss_best"] = torch.where(better, loss, s["loss_best"])
        window = self.checkpoints.get(step)
        if window is not None:
            oscillating = s["increases"] <= window * RHO
            stalled = ~s["reduced"] & (s["best_at_check"] >= s["loss_best"])
            halve = oscillating | stalled
            s["reduced"] = halve
            s["best_at_check"] = s["loss_best"].clone()
            s["eta"] = torch.where(halve, s["eta"] / 2, s["eta"])
            h = halve.view_as(b)
            x = torch.where(h, s["x_best"], x)
            grad = torch.where(h, s["grad_best"], grad)
            s["increases"] = torch.zeros_like(s["increases"])
        momentum = x - s["x_prev"]
        s["x_prev"] = x
        eta = s["eta"].view_as(b)
        z = threat.clip(x + eta * threat.norm_ops.direction(grad), clean)
        alpha = ALPHA if step > 0 else 1.0
        return x + alpha * (z - x) + (1 - alpha) * momentum


def _ce(logits: torch.Tensor, labels: torch.Tensor, goal: Goal, state: State) -> torch.Tensor:
    return goal.loss(logits, labels)


def _dlr(logits: torch.Tensor, labels: torch.Tensor, goal: Goal, state: State) -> torch.Tensor:
    if goal.toward:
        return dlr_targeted_loss(logits, state["source"], labels)
    return dlr_loss(logits, labels)


def _dlr_targeted(logits: torch.Tensor, labels: torch.Tensor, goal: Goal, state: State) -> torch.Tensor:
    if goal.toward:
        return dlr_targeted_loss(logits, state["source"], labels)
    return dlr_targeted_loss(logits, labels, state["target"])


_LOSSES = {"ce": _ce, "dlr": _dlr, "dlr-targeted": _dlr_targeted}


@register_attack("apgd-ce", description="step-size-free PGD with momentum, cross-entropy loss "
                 "(Croce and Hein 2020)", norms=("linf", "l2"), paper="Croce and Hein 2020, arXiv:2003.01690")
@dataclass(frozen=True)
class APGDCE(APGD):
    """APGD with the cross-entropy loss."""

    loss: str = "ce"


@register_attack("apgd-dlr", description="step-size-free PGD with momentum, DLR loss "
                 "(Croce and Hein 2020)", norms=("linf", "l2"), paper="Croce and Hein 2020, arXiv:2003.01690")
@dataclass(frozen=True)
class APGDDLR(APGD):
    """APGD with the Difference of Logits Ratio loss (targeted DLR for a targeted goal)."""

    loss: str = "dlr"


@register_attack("apgd-t", description="targeted APGD-DLR; untargeted goals try the next likeliest "
                 "classes in turn (Croce and Hein 2020)", norms=("linf", "l2"),
                 paper="Croce and Hein 2020, arXiv:2003.01690")
@dataclass(frozen=True)
class APGDT(APGD):
    """Targeted APGD with the targeted DLR loss.

    A targeted goal aims at its class. An untargeted goal aims run ``r`` at the
    ``r + 2``-th most likely clean class, so ``restarts=8`` tries 9 targets
    (AutoAttack's default) on the samples still unbroken.
    """

    loss: str = "dlr-targeted"
    restarts: int = 8

    def _target(self, labels: torch.Tensor, clean_logits: torch.Tensor, run: int) -> torch.Tensor:
        ranked = clean_logits.scatter(1, labels[:, None], -math.inf).argsort(dim=1, descending=True)
        return ranked[:, min(run, ranked.shape[1] - 2)]


__all__ = ["APGD", "APGDCE", "APGDDLR", "APGDT", "dlr_loss", "dlr_targeted_loss"]
