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

import dataclasses
import json
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from hoodwink.attacks.goals import Goal
from hoodwink.attacks.threat import ThreatModel
from hoodwink.errors import HoodwinkError
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
        queries: (N,) long, images judged by the model for each sample (what a
            query budget counts; equal to ``forward`` unless EOT samples more).
        steps: (N,) long, update steps taken before success (or all of them).
        index: (N,) long, each image's global dataset index (seeds follow it).
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
    queries: torch.Tensor
    steps: torch.Tensor
    index: torch.Tensor
    trajectory: Trajectory | None = field(default=None, repr=False)

    @classmethod
    def build(cls, *, attack: str, params: dict[str, Any], threat: ThreatModel, goal: Goal,
              names: Labels, original: torch.Tensor, adversarial: torch.Tensor,
              goal_classes: torch.Tensor, success: torch.Tensor,
              clean_probabilities: torch.Tensor, adversarial_probabilities: torch.Tensor,
              forward: torch.Tensor, backward: torch.Tensor, steps: torch.Tensor,
              queries: torch.Tensor | None = None, index: torch.Tensor | None = None,
              trajectory: Trajectory | None = None) -> AttackResult:
        """A result with its norms computed from the images."""
        delta = (adversarial - original).reshape(original.shape[0], -1)
        return cls(
            attack=attack, params=dict(params), threat=threat, goal=goal, names=names,
            original=original, adversarial=adversarial, goal_classes=goal_classes,
            success=success, linf=delta.abs().amax(1) if delta.shape[1] else delta.sum(1),
            l2=delta.norm(dim=1), l0=(delta.abs() > 1e-6).sum(1),
            clean_probabilities=clean_probabilities,
            adversarial_probabilities=adversarial_probabilities,
            forward=forward, backward=backward,
            queries=forward.clone() if queries is None else queries, steps=steps,
            index=torch.arange(len(original), device=original.device) if index is None else index,
            trajectory=trajectory,
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

    def __getitem__(self, index: int | slice | torch.Tensor) -> AttackResult:
        """The result for some samples: one index (a batch of one), a slice, a
        boolean mask (N,) or a tensor of indices. The goal follows the selection."""
        n = len(self)
        if isinstance(index, int):
            if not -n <= index < n:
                raise IndexError(f"sample {index} out of range for {n} samples")
            i = index % n
            index = slice(i, i + 1)
        elif isinstance(index, torch.Tensor):
            if index.dtype == torch.bool:
                if index.shape != (n,):
                    raise IndexError(f"a mask must have shape ({n},), not {tuple(index.shape)}")
                index = index.nonzero().flatten()
            index = index.long().flatten().cpu()
            if index.numel() and not (-n <= int(index.min()) and int(index.max()) < n):
                raise IndexError(f"an index is out of range for {n} samples")
        elif not isinstance(index, slice):
            raise TypeError(f"select samples with an int, a slice or a tensor, not {type(index).__name__}")
        rows = torch.arange(n)[index]
        tensors: dict[str, Any] = {name: getattr(self, name)[rows.to(getattr(self, name).device)]
                                   for name in _PER_SAMPLE}
        return dataclasses.replace(
            self, goal=self.goal.select(rows, n), **tensors,
            trajectory=None if self.trajectory is None else self.trajectory.select(rows),
        )

    @staticmethod
    def concat(parts: Sequence[AttackResult]) -> AttackResult:
        """Join results of one attack, threat and kind of goal along the sample axis
        (the batches or shards of one dataset)."""
        if not parts:
            raise ValueError("nothing to concatenate")
        first = parts[0]
        for p in parts[1:]:
            if (p.attack, p.threat, p.goal.kind) != (first.attack, first.threat, first.goal.kind):
                raise ValueError("only results of one attack, threat and kind of goal can be joined")
        if len(parts) == 1:
            return first
        goal = first.goal
        if goal.classes is not None:
            goal = Goal(goal.kind, goal.toward, tuple(int(c) for p in parts for c in p.goal_classes))
        trajectories = [p.trajectory for p in parts]
        trajectory = None
        if all(t is not None for t in trajectories):
            trajectory = Trajectory.concat([t for t in trajectories if t is not None])
        tensors: dict[str, Any] = {name: torch.cat([getattr(p, name) for p in parts])
                                   for name in _PER_SAMPLE}
        return dataclasses.replace(first, goal=goal, trajectory=trajectory, **tensors)

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Save as safetensors: the tensors, and everything else as JSON in its header.

        Example:
            >>> result.save("run.safetensors")                     # doctest: +SKIP
            >>> AttackResult.load("run.safetensors")               # doctest: +SKIP
        """
        from safetensors.torch import save

        from hoodwink.io import write_atomic

        tensors = {name: getattr(self, name).detach().cpu().contiguous() for name in _PER_SAMPLE}
        if self.trajectory is not None:
            for name in _TRAJECTORY:
                tensors[f"trajectory.{name}"] = getattr(self.trajectory, name).detach().cpu().contiguous()
        meta = {**self.header_dict(), "params": self.params_json(),
                "names": [list(s) for s in self.names.synonyms], "ids": list(self.names.ids),
                "trajectory_classes": None if self.trajectory is None else list(self.trajectory.classes)}
        return write_atomic(path, save(tensors, metadata={"hoodwink.attack": json.dumps(meta)}))

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> AttackResult:
        """Read a result written by :meth:`save` (safetensors and JSON: nothing is unpickled)."""
        from safetensors import SafetensorError, safe_open

        try:
            with safe_open(str(path), framework="pt") as f:
                meta = json.loads((f.metadata() or {})["hoodwink.attack"])
                tensors = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118
            goal, threat = meta["goal"], meta["threat"]
            trajectory = None
            if meta.get("trajectory_classes") is not None:
                trajectory = Trajectory(tuple(meta["trajectory_classes"]),
                                        *(tensors[f"trajectory.{k}"] for k in _TRAJECTORY))
            return cls(
                attack=meta["attack"], params=dict(meta["params"]),
                threat=ThreatModel(threat["norm"], threat["eps"], tuple(threat["bounds"]),
                                   threat["quantize"]),
                goal=Goal(goal["kind"], goal["toward"],
                          None if goal["classes"] is None else tuple(goal["classes"])),
                names=Labels(tuple(tuple(s) for s in meta["names"]), tuple(meta["ids"])),
                trajectory=trajectory, **{k: tensors[k] for k in _PER_SAMPLE},
            )
        except (SafetensorError, OSError, KeyError, TypeError, ValueError) as exc:
            raise HoodwinkError(f"{path}: not an attack result saved by hoodwink ({exc})") from exc

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
            "queries": int(self.queries[i]),
            "index": int(self.index[i]),
        }

    def params_json(self) -> dict[str, Any]:
        """The hyperparameters as JSON-ready values."""
        return _jsonable(self.params)

    def header_dict(self) -> dict[str, Any]:
        """The attack, its parameters, the threat and the goal, as JSON-ready values."""
        return {"attack": self.attack, "params": self.params_json(),
                "threat": self.threat.to_dict(), "goal": self.goal.to_dict()}

    def to_dict(self, top: int = 5, trajectory: bool = False) -> dict[str, Any]:
        """Everything as JSON-ready values: header, summary and one entry per sample."""
        doc = self.header_dict()
        doc["success_rate"] = self.success_rate
        doc["samples"] = [self.sample_dict(i, top) for i in range(len(self))]
        if trajectory and self.trajectory is not None:
            doc["trajectory"] = self.trajectory.to_dict(self.names)
        return doc


#: The fields with a leading sample axis (what selection and concatenation cut and join).
_PER_SAMPLE = ("original", "adversarial", "goal_classes", "success", "linf", "l2", "l0",
               "clean_probabilities", "adversarial_probabilities", "forward", "backward",
               "queries", "steps", "index")
_TRAJECTORY = ("probabilities", "loss", "norm", "top1")


def _jsonable(params: dict[str, Any]) -> dict[str, Any]:
    return {k: (v if isinstance(v, (int, float, str, bool, type(None))) else str(v))
            for k, v in params.items()}
