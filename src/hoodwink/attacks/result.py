"""What an attack returns: the images, whether they fool the model, and at what cost.

:class:`AttackResult` holds, for N images: the clean and adversarial images
(the adversarial ones on the 8-bit grid when the threat quantises), a success
mask judged on exactly those images, per-sample Linf/L2/L0 norms, clean and
adversarial probabilities, honest forward/backward pass counts and the steps
used, and a :class:`Trajectory` of the classes that matter.

Example:
    >>> result = PGD(steps=10)(model, images, Goal.targeted(23))   # doctest: +SKIP
    >>> result.success.float().mean(), result[0].adversarial_predictions[0][0].name  # doctest: +SKIP
    (tensor(1.), 'vulture')
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

from hoodwink.attacks.goals import Goal
from hoodwink.attacks.threat import ThreatModel
from hoodwink.models.labels import Labels
from hoodwink.predict import Prediction


@dataclass(frozen=True)
class Trajectory:
    """Per-step record of an attack, for N samples over ``steps + 1`` rows.

    Row 0 is the start (the clean image, or the random start's first iterate
    for attacks with one), row ``s`` the image evaluated after ``s`` steps. A
    sample that stopped early (it succeeded) has NaN probabilities, loss and
    norm, and top-1 ``-1``, in the rows after its last step.

    Attributes:
        classes: the classes that matter: the goal's class of every sample and
            every class that was top-1 of some sample at some step.
        probabilities: (steps + 1, N, len(classes)) their probabilities.
        loss: (steps + 1, N) the loss the attack maximises.
        norm: (steps + 1, N) the perturbation's size in the threat's norm.
        top1: (steps + 1, N) long, the top-1 class (any class, not only ``classes``).
    """

    classes: tuple[int, ...]
    probabilities: torch.Tensor
    loss: torch.Tensor
    norm: torch.Tensor
    top1: torch.Tensor

    @property
    def steps(self) -> int:
        return int(self.loss.shape[0]) - 1

    def __repr__(self) -> str:
        return f"Trajectory(steps={self.steps}, samples={len(self)}, classes={self.classes})"

    def __len__(self) -> int:
        return int(self.loss.shape[1])

    def probability(self, cls: int) -> torch.Tensor:
        """(steps + 1, N) probabilities of class ``cls`` (one of :attr:`classes`)."""
        return self.probabilities[:, :, self.classes.index(cls)]

    def visited(self, sample: int = 0) -> list[int]:
        """The top-1 classes of one sample in the order it passed through them."""
        out: list[int] = []
        for c in self.top1[:, sample].tolist():
            if c >= 0 and (not out or out[-1] != c):
                out.append(c)
        return out

    def select(self, index: int | slice | torch.Tensor) -> Trajectory:
        """The trajectory of some samples (a sample axis is kept)."""
        if isinstance(index, int):
            index = slice(index, index + 1)
        return Trajectory(self.classes, self.probabilities[:, index], self.loss[:, index],
                          self.norm[:, index], self.top1[:, index])

    def to_dict(self, names: Labels | None = None) -> dict[str, Any]:
        def clean(values: list[Any]) -> list[Any]:
            return [clean(v) if isinstance(v, list) else (None if isinstance(v, float) and math.isnan(v) else v)
                    for v in values]
        return {
            "classes": list(self.classes),
            "names": [names.name(c) for c in self.classes] if names is not None else None,
            "probabilities": clean(self.probabilities.permute(1, 0, 2).tolist()),
            "loss": clean(self.loss.T.tolist()),
            "norm": clean(self.norm.T.tolist()),
            "top1": self.top1.T.tolist(),
        }

    @staticmethod
    def concat(parts: Sequence[Trajectory]) -> Trajectory:
        """Join trajectories of consecutive batches along the sample axis.

        Classes are the union; a class that matters only to another batch is
        NaN in this one (its probabilities were not kept).
        """
        if len(parts) == 1:
            return parts[0]
        classes = tuple(sorted(set().union(*(p.classes for p in parts))))
        rows = max(p.steps for p in parts) + 1
        probs, losses, norms, tops = [], [], [], []
        for p in parts:
            n = len(p)
            pr = p.probabilities.new_full((rows, n, len(classes)), math.nan)
            where = [classes.index(c) for c in p.classes]
            pr[: p.steps + 1, :, where] = p.probabilities
            probs.append(pr)
            losses.append(_pad(p.loss, rows, math.nan))
            norms.append(_pad(p.norm, rows, math.nan))
            tops.append(_pad(p.top1, rows, -1))
        return Trajectory(classes, torch.cat(probs, 1), torch.cat(losses, 1),
                          torch.cat(norms, 1), torch.cat(tops, 1))


def _pad(t: torch.Tensor, rows: int, value: float) -> torch.Tensor:
    if t.shape[0] == rows:
        return t
    out = t.new_full((rows,) + tuple(t.shape[1:]), value)
    out[: t.shape[0]] = t
    return out


@dataclass(frozen=True)
class AttackResult:
    """The outcome of one attack on N images (tensors on the images' device).

    Attributes:
        attack: the attack's registered name; ``params`` its hyperparameters.
        threat, goal: what was allowed and what was wanted.
        names: the model's class labels (to name predictions).
        original: (N, C, H, W) the clean images that were attacked (on the grid
            when the threat quantises).
        adversarial: (N, C, H, W) the returned images: inside the threat, on the
            grid when it quantises. Unsuccessful samples get their best try.
        goal_classes: (N,) long: the class each sample moves away from or into.
        success: (N,) bool, judged on ``adversarial`` itself (8-bit when quantised).
        linf, l2, l0: (N,) norms of ``adversarial - original`` (l0 counts values).
        clean_probabilities, adversarial_probabilities: (N, classes).
        forward, backward: (N,) long, model passes spent on each sample.
        steps: (N,) long, update steps taken before success (or all of them).
        trajectory: per-step record, or None when not recorded.
    """

    attack: str
    params: dict[str, Any]
    threat: ThreatModel
    goal: Goal
    names: Labels
    original: torch.Tensor
    adversarial: torch.Tensor
    goal_classes: torch.Tensor
    success: torch.Tensor
    linf: torch.Tensor
    l2: torch.Tensor
    l0: torch.Tensor
    clean_probabilities: torch.Tensor
    adversarial_probabilities: torch.Tensor
    forward: torch.Tensor
    backward: torch.Tensor
    steps: torch.Tensor
    trajectory: Trajectory | None = field(default=None, repr=False)

    @classmethod
    def build(cls, *, attack: str, params: dict[str, Any], threat: ThreatModel, goal: Goal,
              names: Labels, original: torch.Tensor, adversarial: torch.Tensor,
              goal_classes: torch.Tensor, success: torch.Tensor,
              clean_probabilities: torch.Tensor, adversarial_probabilities: torch.Tensor,
              forward: torch.Tensor, backward: torch.Tensor, steps: torch.Tensor,
              trajectory: Trajectory | None = None) -> AttackResult:
        """A result with its norms computed from the images (for attacks outside the engine)."""
        delta = (adversarial - original).reshape(original.shape[0], -1)
        return cls(
            attack=attack, params=dict(params), threat=threat, goal=goal, names=names,
            original=original, adversarial=adversarial, goal_classes=goal_classes,
            success=success, linf=delta.abs().amax(1) if delta.shape[1] else delta.sum(1),
            l2=delta.norm(dim=1), l0=(delta.abs() > 1e-6).sum(1),
            clean_probabilities=clean_probabilities,
            adversarial_probabilities=adversarial_probabilities,
            forward=forward, backward=backward, steps=steps, trajectory=trajectory,
        )

    def __len__(self) -> int:
        return int(self.original.shape[0])

    def __repr__(self) -> str:
        n = len(self)
        fooled = int(self.success.sum()) if n else 0
        linf = float(self.linf.max()) * 255 if n else 0.0
        return (f"AttackResult(attack={self.attack!r}, images={n}, success={fooled}/{n}, "
                f"threat={self.threat.norm} eps={self.threat.eps:.4g}, goal={self.goal.kind}, "
                f"max_linf={linf:.1f}/255, forward={int(self.forward.sum())}, "
                f"backward={int(self.backward.sum())})")

    def __getitem__(self, index: int) -> AttackResult:
        """The result for one sample (a batch of one)."""
        n = len(self)
        if not -n <= index < n:
            raise IndexError(f"sample {index} out of range for {n} samples")
        i = index % n
        s = slice(i, i + 1)
        goal = self.goal
        if goal.classes is not None and len(goal.classes) == n and n > 1:
            goal = Goal(goal.kind, goal.toward, (goal.classes[i],))
        return AttackResult(
            attack=self.attack, params=self.params, threat=self.threat, goal=goal, names=self.names,
            original=self.original[s], adversarial=self.adversarial[s],
            goal_classes=self.goal_classes[s], success=self.success[s], linf=self.linf[s],
            l2=self.l2[s], l0=self.l0[s], clean_probabilities=self.clean_probabilities[s],
            adversarial_probabilities=self.adversarial_probabilities[s],
            forward=self.forward[s], backward=self.backward[s], steps=self.steps[s],
            trajectory=None if self.trajectory is None else self.trajectory.select(i),
        )

    def _repr_png_(self) -> bytes:
        """The trick in pictures, inline in Jupyter: the four-panel trick for one image,
        a row per image (the first ``GRID_ROWS``) for a batch."""
        from hoodwink.viz.common import figure_png
        from hoodwink.viz.trick import GRID_ROWS, trick_figure, trick_grid

        if len(self) == 1:
            return figure_png(trick_figure(self))
        return figure_png(trick_grid([self[i] for i in range(min(len(self), GRID_ROWS))]))

    @property
    def perturbation(self) -> torch.Tensor:
        """(N, C, H, W) ``adversarial - original``."""
        return self.adversarial - self.original

    @property
    def success_rate(self) -> float:
        return float(self.success.float().mean()) if len(self) else 0.0

    def predictions(self, adversarial: bool = True, top: int = 5) -> list[tuple[Prediction, ...]]:
        """Top-``top`` predictions per sample, of the adversarial (or clean) images."""
        probs = self.adversarial_probabilities if adversarial else self.clean_probabilities
        values, indices = probs.detach().float().cpu().topk(min(top, probs.shape[-1]), dim=-1)
        return [tuple(Prediction(int(i), self.names.name(int(i)), float(v)) for v, i in zip(vs, ids))
                for vs, ids in zip(values, indices)]

    @property
    def clean_predictions(self) -> list[tuple[Prediction, ...]]:
        """Top-5 predictions of every clean image."""
        return self.predictions(adversarial=False)

    @property
    def adversarial_predictions(self) -> list[tuple[Prediction, ...]]:
        """Top-5 predictions of every adversarial image."""
        return self.predictions(adversarial=True)

    def sample_dict(self, index: int = 0, top: int = 5) -> dict[str, Any]:
        """One sample as JSON-ready values (as ``hoodwink trick --json`` prints it)."""
        i = index
        goal_class = int(self.goal_classes[i])
        return {
            "success": bool(self.success[i]),
            "goal_class": {"index": goal_class, "name": self.names.name(goal_class)},
            "original": [p.to_dict() for p in self.predictions(False, top)[i]],
            "adversarial": [p.to_dict() for p in self.predictions(True, top)[i]],
            "linf": float(self.linf[i]),
            "linf_255": round(float(self.linf[i]) * 255, 4),
            "l2": float(self.l2[i]),
            "l0": int(self.l0[i]),
            "steps": int(self.steps[i]),
            "forward": int(self.forward[i]),
            "backward": int(self.backward[i]),
        }

    def header_dict(self) -> dict[str, Any]:
        """The attack, its parameters, the threat and the goal, as JSON-ready values."""
        return {"attack": self.attack, "params": _jsonable(self.params),
                "threat": self.threat.to_dict(), "goal": self.goal.to_dict()}

    def to_dict(self, top: int = 5, trajectory: bool = False) -> dict[str, Any]:
        """Everything as JSON-ready values: header, summary and one entry per sample."""
        doc = self.header_dict()
        doc["success_rate"] = self.success_rate
        doc["samples"] = [self.sample_dict(i, top) for i in range(len(self))]
        if trajectory and self.trajectory is not None:
            doc["trajectory"] = self.trajectory.to_dict(self.names)
        return doc


def _jsonable(params: dict[str, Any]) -> dict[str, Any]:
    return {k: (v if isinstance(v, (int, float, str, bool, type(None))) else str(v))
            for k, v in params.items()}
