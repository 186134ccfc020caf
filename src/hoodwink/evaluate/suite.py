"""The worst-case ensemble: each attack runs only on the images still robust.

A :class:`Suite` is an ordered tuple of registered attacks with their
hyperparameters (AutoAttack's "standard" version: APGD-CE, targeted APGD-DLR
over the next most likely classes, and the score-based Square attack). On one
batch, :func:`attack_batch`

1. asks the model about the clean images (on the 8-bit grid, at its input size);
   an image it misclassifies is *not robust* ("clean") and is never attacked;
2. runs each attack, in order, only on the images still robust, with the goal
   ``Goal.untargeted(true labels)``: success means misclassified with respect to
   the **true label**, judged on the 8-bit image the attack returned;
3. checks every claimed success itself (one more forward pass, and the image
   inside the threat), because an attack's own claim is never trusted.

Per image it records which attack broke it, the norms of the perturbation and
the forward/backward passes and queries spent by every attack.

Example:
    >>> suite = get_suite("quick")
    >>> [a.attack for a in suite.attacks][:2]
    ['apgd-ce', 'apgd-t']
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch

from hoodwink.attacks.engine import Attack
from hoodwink.attacks.goals import Goal
from hoodwink.attacks.oracle import Oracle
from hoodwink.attacks.registry import attack_info, get_attack
from hoodwink.attacks.threat import ThreatModel
from hoodwink.errors import HoodwinkError, ParameterError


@dataclass(frozen=True)
class SuiteAttack:
    """One attack of a suite: its registered name and hyperparameters.

    ``queries`` is a per-image query budget (score-based attacks), or None.
    """

    attack: str
    params: tuple[tuple[str, Any], ...] = ()
    queries: int | None = None

    @property
    def label(self) -> str:
        """The name reports use (the registered name)."""
        return self.attack

    @property
    def kind(self) -> str:
        """``gradient``, ``scores`` or ``labels`` (what it needs of the model)."""
        return attack_info(self.attack).kind

    def build(self, batch_size: int) -> Attack:
        params = dict(self.params)
        known = attack_info(self.attack).params
        if "batch_size" in known:
            params["batch_size"] = batch_size
        if "record" in known:
            params["record"] = False
        return get_attack(self.attack, **params)

    def to_dict(self) -> dict[str, Any]:
        return {"attack": self.attack, "params": {k: v for k, v in self.params},
                "queries": self.queries}


@dataclass(frozen=True)
class Suite:
    """An ordered worst-case ensemble; ``notes`` say what was left out and why."""

    name: str
    attacks: tuple[SuiteAttack, ...]
    notes: tuple[str, ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "attacks": [a.to_dict() for a in self.attacks]}

    @property
    def labels(self) -> list[str]:
        return [a.label for a in self.attacks]


#: The score-based attack of the standard suite (built by the black-box work).
SCORE_ATTACK = "square"


def _square(steps: int) -> tuple[SuiteAttack | None, str | None]:
    """Square with ``steps`` queries per image when it is registered, else a note."""
    if not _registered():
        return None, f"{SCORE_ATTACK} is not registered yet: the suite runs without a score-based attack"
    known = attack_info(SCORE_ATTACK).params
    params: tuple[tuple[str, Any], ...] = (("steps", steps),) if "steps" in known else ()
    if "seed" in known:
        params += (("seed", 0),)
    return SuiteAttack(SCORE_ATTACK, params, None if params else steps), None


def _registered() -> bool:
    try:
        attack_info(SCORE_ATTACK)
    except HoodwinkError:
        return False
    return True


def get_suite(name: str = "standard") -> Suite:
    """A suite by name.

    * ``standard``: AutoAttack's standard version: APGD-CE (100 steps), targeted
      APGD-DLR over the 9 next most likely classes (100 steps each), Square
      (5,000 queries);
    * ``quick``: for CI: APGD-CE (20 steps), targeted APGD-DLR over 3 classes
      (20 steps), Square (300 queries).
    """
    key = name.lower()
    if key == "standard":
        attacks = [SuiteAttack("apgd-ce", (("steps", 100),)),
                   SuiteAttack("apgd-t", (("steps", 100), ("restarts", 8)))]
        square, note = _square(5000)
    elif key == "quick":
        attacks = [SuiteAttack("apgd-ce", (("steps", 20),)),
                   SuiteAttack("apgd-t", (("steps", 20), ("restarts", 2)))]
        square, note = _square(300)
    else:
        raise ParameterError(f"unknown suite {name!r}; choose standard or quick")
    if square is not None:
        attacks.append(square)
    return Suite(key, tuple(attacks), () if note is None else (note,))


@dataclass(frozen=True)
class SampleRecord:
    """The outcome for one image of the dataset.

    Attributes:
        index: the image's dataset index; label: its true class.
        clean_pred: the model's class for the clean image.
        broken_by: None (robust), ``"clean"`` (misclassified without attack),
            or the attack that broke it.
        adv_pred: the class of the returned image (the clean one when not broken).
        linf, l2: the perturbation's norms (0 when not broken by an attack).
        forward, backward, queries: passes and queries spent on it, all attacks.
        costs: (attack, forward, backward, queries) for each attack that ran on it.
        png: where the adversarial image was saved, or None.
    """

    index: int
    label: int
    clean_pred: int
    broken_by: str | None
    adv_pred: int
    linf: float
    l2: float
    forward: int
    backward: int
    queries: int
    costs: tuple[tuple[str, int, int, int], ...] = ()
    png: str | None = None

    @property
    def robust(self) -> bool:
        return self.broken_by is None

    @property
    def correct(self) -> bool:
        """Classified correctly before any attack."""
        return self.broken_by != "clean"

    def to_dict(self) -> dict[str, Any]:
        return {"index": self.index, "label": self.label, "clean_pred": self.clean_pred,
                "correct": self.correct, "robust": self.robust, "broken_by": self.broken_by,
                "adv_pred": self.adv_pred, "linf": self.linf, "linf_255": round(self.linf * 255, 4),
                "l2": self.l2, "forward": self.forward, "backward": self.backward,
                "queries": self.queries,
                "costs": {a: {"forward": f, "backward": b, "queries": q} for a, f, b, q in self.costs},
                "png": self.png}


@dataclass(frozen=True)
class BatchOutcome:
    """:func:`attack_batch`'s answer: one record per image, and the adversarial images."""

    records: tuple[SampleRecord, ...]
    adversarial: torch.Tensor


def attack_batch(model: Any, images: torch.Tensor, labels: torch.Tensor, index: torch.Tensor,
                 suite: Suite, threat: ThreatModel, *, batch_size: int = 32) -> BatchOutcome:
    """Run the ensemble on one batch (images (n, C, H, W) at the model's input size, on
    the 8-bit grid; labels and dataset indices (n,))."""
    n = int(images.shape[0])
    oracle = Oracle(model, n)
    device = oracle.device
    images = images.to(device)
    labels = labels.to(device).long()
    index = index.long()
    rows = torch.arange(n, device=device)
    clean_pred = oracle.logits(images, rows).argmax(dim=1)
    forward = oracle.forward.clone().cpu()
    backward = torch.zeros(n, dtype=torch.long)
    queries = oracle.queries.clone().cpu()
    robust = (clean_pred == labels).cpu()
    broken: list[str | None] = [None if bool(r) else "clean" for r in robust]
    adversarial = images.clone()
    adv_pred = clean_pred.clone().cpu()
    linf = torch.zeros(n, dtype=torch.float64)
    l2 = torch.zeros(n, dtype=torch.float64)
    costs: list[list[tuple[str, int, int, int]]] = [[] for _ in range(n)]
    for entry in suite.attacks:
        todo = robust.nonzero().flatten()
        if todo.numel() == 0:
            break
        attack = entry.build(batch_size)
        result = attack(model, images[todo.to(device)], Goal.untargeted(labels[todo.to(device)]),
                        threat, index=index[todo], queries=entry.queries)
        for j, i in enumerate(todo.tolist()):
            f, b, q = int(result.forward[j]), int(result.backward[j]), int(result.queries[j])
            costs[i].append((entry.label, f, b, q))
            forward[i] += f
            backward[i] += b
            queries[i] += q
        claimed = result.success.cpu().nonzero().flatten()
        if claimed.numel() == 0:
            continue
        adv = result.adversarial[claimed.to(result.adversarial.device)].to(device)
        clean = images[todo[claimed].to(device)]
        with torch.no_grad():
            check = Oracle(model, len(claimed)).logits(adv, torch.arange(len(claimed), device=device))
        pred = check.argmax(dim=1).cpu()
        ok = (pred != labels[todo[claimed].to(device)].cpu()) & threat.contains(adv, clean).cpu()
        for k in ok.nonzero().flatten().tolist():
            i = int(todo[claimed[k]])
            robust[i] = False
            broken[i] = entry.label
            adversarial[i] = adv[k]
            adv_pred[i] = pred[k]
            delta = (adv[k] - clean[k]).double().flatten()
            linf[i] = float(delta.abs().max())
            l2[i] = float(delta.norm())
    records = tuple(
        SampleRecord(int(index[i]), int(labels[i]), int(clean_pred[i]), broken[i],
                     int(adv_pred[i]), float(linf[i]), float(l2[i]), int(forward[i]),
                     int(backward[i]), int(queries[i]), tuple(costs[i]))
        for i in range(n))
    return BatchOutcome(records, adversarial)


@dataclass(frozen=True)
class Evaluation:
    """The ensemble's outcome on a whole dataset for one threat (one eps).

    Robust accuracy counts over **all** images, a misclassified clean image
    being not robust (as RobustBench does); ``accuracy_after`` is AutoAttack's
    report: the accuracy after the clean pass and after each attack in turn.
    """

    threat: ThreatModel
    suite: Suite
    samples: tuple[SampleRecord, ...]
    key: str = ""

    def __len__(self) -> int:
        return len(self.samples)

    @property
    def clean_accuracy(self) -> float:
        return sum(s.correct for s in self.samples) / max(len(self.samples), 1)

    @property
    def robust_accuracy(self) -> float:
        return sum(s.robust for s in self.samples) / max(len(self.samples), 1)

    def accuracy_after(self) -> list[tuple[str, float]]:
        """[("clean", accuracy), (attack, accuracy after it), ...] in suite order."""
        n = max(len(self.samples), 1)
        left = sum(s.correct for s in self.samples)
        out = [("clean", left / n)]
        for label in self.suite.labels:
            left -= sum(s.broken_by == label for s in self.samples)
            out.append((label, left / n))
        return out

    def broken_by(self, label: str) -> list[SampleRecord]:
        return [s for s in self.samples if s.broken_by == label]

    def summary(self) -> dict[str, Any]:
        n = len(self.samples)
        broken = [s for s in self.samples if s.correct and not s.robust]
        return {
            "eps": self.threat.eps, "eps_255": round(self.threat.eps * 255, 4),
            "norm": self.threat.norm, "images": n,
            "clean_accuracy": self.clean_accuracy, "robust_accuracy": self.robust_accuracy,
            "accuracy_after": [{"after": a, "accuracy": v} for a, v in self.accuracy_after()],
            "broken": len(broken),
            "median_linf_255": _median([s.linf * 255 for s in broken]),
            "forward": sum(s.forward for s in self.samples),
            "backward": sum(s.backward for s in self.samples),
            "queries": sum(s.queries for s in self.samples),
        }


def _median(values: list[float]) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


__all__ = ["BatchOutcome", "Evaluation", "SampleRecord", "Suite", "SuiteAttack", "attack_batch",
           "get_suite"]
