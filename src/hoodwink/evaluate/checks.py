"""Checks against false robustness: each a :class:`Flag` with its evidence.

A high robust accuracy is only believable when the attacks had a fair chance.
These checks come from AutoAttack's ``checks.py`` and from Carlini et al.
2019, "On evaluating adversarial robustness" (arXiv:1902.06705):

* ``softmax-output``: the model returns probabilities, not logits; a
  saturated softmax hides the gradient (AutoAttack ``check_range_output``).
* ``randomness``: two identical calls give different outputs; gradients of a
  random model mislead (use EOT), and the numbers do not repeat.
* ``zero-gradient``: the gradient of the logit margin is zero or vanishing
  for some images (AutoAttack ``check_zero_gradients``).
* ``black-box-beats-white-box``: the score-based attack broke images that
  the gradient attacks could not: their gradients mislead (``check_square_sr``).
* ``not-converged``: a longer attack with restarts still lowers the accuracy.
* ``large-eps-not-zero``: accuracy does not fall to 0 at a huge eps, where any
  working attack must win (Carlini et al. 2019, section 5.2).
* ``single-step-gap``: one FGSM step leaves far more accuracy than the
  ensemble: the loss is not linear around the data, so a single-step
  evaluation (or training) shows robustness that is not there (Tramer et al.
  2018, "Ensemble adversarial training"; the FGSM-trained MLP of the issue).
* ``not-monotone``: accuracy rises with eps; a stronger threat can only lower
  the true robust accuracy, so the attack is failing.

Example:
    >>> Flag("randomness", False, "outputs repeat", {}).to_dict()["raised"]
    False
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from hoodwink.attacks.goals import Goal
from hoodwink.attacks.registry import get_attack
from hoodwink.attacks.threat import ThreatModel
from hoodwink.evaluate.suite import Evaluation, Suite

#: A logit-margin gradient whose largest pixel is below this is "vanishing".
VANISHING = 1e-8
#: FGSM leaving this much more accuracy than the ensemble raises ``single-step-gap``.
SINGLE_STEP_GAP = 0.5
#: The Linf radius at which every working attack must break every image.
LARGE_EPS = 0.5

REFERENCES = {
    "softmax-output": "AutoAttack checks.py (check_range_output)",
    "randomness": "AutoAttack checks.py (check_randomized); Athalye et al. 2018 (EOT)",
    "zero-gradient": "AutoAttack checks.py (check_zero_gradients)",
    "black-box-beats-white-box": "AutoAttack checks.py (check_square_sr); Carlini et al. 2019",
    "not-converged": "Carlini et al. 2019, arXiv:1902.06705, section 5",
    "large-eps-not-zero": "Carlini et al. 2019, arXiv:1902.06705, section 5.2",
    "single-step-gap": "Tramer et al. 2018, arXiv:1705.07204; Carlini et al. 2019",
    "not-monotone": "Carlini et al. 2019, arXiv:1902.06705",
}


@dataclass(frozen=True)
class Flag:
    """One check: whether it is raised, what it says, and the evidence."""

    name: str
    raised: bool
    message: str
    evidence: dict[str, Any] = field(default_factory=dict)
    applicable: bool = True

    @property
    def reference(self) -> str:
        return REFERENCES.get(self.name, "")

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "raised": self.raised, "applicable": self.applicable,
                "message": self.message, "evidence": self.evidence, "reference": self.reference}

    @classmethod
    def from_dict(cls, doc: dict[str, Any]) -> Flag:
        return cls(doc["name"], bool(doc["raised"]), doc["message"], dict(doc["evidence"]),
                   bool(doc.get("applicable", True)))


def _white_box(model: Any) -> bool:
    return isinstance(model, nn.Module)


def _logits(model: Any, images: torch.Tensor) -> torch.Tensor:
    from hoodwink.attacks.oracle import Oracle

    oracle = Oracle(model, len(images))
    return oracle.logits(images.to(oracle.device), torch.arange(len(images), device=oracle.device))


def check_softmax(model: Any, images: torch.Tensor) -> Flag:
    """Raised when the outputs are probabilities (non-negative, rows summing to 1)."""
    if not _white_box(model):
        return Flag("softmax-output", False, "query-only model: it answers with probabilities "
                    "by design; gradient attacks do not apply", applicable=False)
    out = _logits(model, images)
    sums = out.sum(dim=1)
    probabilities = bool((out >= 0).all()) and bool(((sums - 1).abs() < 1e-4).all())
    last = [m for m in model.modules() if not list(m.children())]
    ends = bool(last) and isinstance(last[-1], nn.Softmax)
    raised = probabilities or ends
    message = ("the model outputs probabilities (a softmax at the end): gradients through a "
               "saturated softmax vanish; attack the logits" if raised else
               "the model outputs logits")
    return Flag("softmax-output", raised, message,
                {"min_output": float(out.min()), "row_sums": [round(float(s), 6) for s in sums[:8]],
                 "last_registered_module": type(last[-1]).__name__ if last else None})


def check_randomness(model: Any, images: torch.Tensor) -> Flag:
    """Raised when two identical calls give different outputs."""
    a, b = _logits(model, images), _logits(model, images)
    diff = float((a - b).abs().max()) if a.numel() else 0.0
    raised = diff > 0
    message = (f"two identical calls differ by up to {diff:.3g}: the model is random; attack "
               "the expectation (EOT) and report it" if raised else "identical calls agree")
    return Flag("randomness", raised, message, {"max_difference": diff})


def check_zero_gradient(model: Any, images: torch.Tensor, labels: torch.Tensor) -> Flag:
    """Raised when the gradient of the logit margin is zero or vanishing for some image."""
    if not _white_box(model):
        return Flag("zero-gradient", False, "query-only model: no gradients", applicable=False)
    device = next((p.device for p in model.parameters()), torch.device("cpu"))
    x = images.to(device).detach().requires_grad_(True)
    labels = labels.to(device)
    with torch.enable_grad():
        z = model(x).float()
        z_y = z.gather(1, labels[:, None])[:, 0]
        other = z.scatter(1, labels[:, None], -math.inf).amax(dim=1)
        (grad,) = torch.autograd.grad((z_y - other).sum(), x)
    largest = grad.detach().abs().reshape(len(x), -1).amax(dim=1)
    zero = int((largest == 0).sum())
    vanishing = int((largest < VANISHING).sum())
    raised = vanishing > 0
    message = (f"the gradient is zero for {zero} and vanishing (< {VANISHING:g}) for {vanishing} "
               f"of {len(x)} images: gradient attacks cannot move them (gradient masking)"
               if raised else f"the gradient is alive for all {len(x)} images")
    return Flag("zero-gradient", raised, message,
                {"images": len(x), "zero": zero, "vanishing": vanishing,
                 "median_largest": float(largest.median()) if len(x) else None})


def check_black_box(evaluations: Sequence[Evaluation], suite: Suite) -> Flag:
    """Raised when a score- or label-based attack broke images the gradient attacks could not."""
    others = [a.label for a in suite.attacks if a.kind != "gradient"]
    if not others:
        return Flag("black-box-beats-white-box", False,
                    "no black-box attack in the suite: not checked", applicable=False)
    counts = {f"{e.threat.eps * 255:g}/255": sum(len(e.broken_by(a)) for a in others)
              for e in evaluations}
    total = sum(counts.values())
    raised = total > 0
    message = (f"{', '.join(others)} broke {total} images that the gradient attacks could not: "
               "the gradients mislead (masking); trust the black-box number and look closer"
               if raised else f"{', '.join(others)} found nothing the gradient attacks missed")
    return Flag("black-box-beats-white-box", raised, message, {"broken_by_black_box": counts})


def check_monotone(evaluations: Sequence[Evaluation]) -> Flag:
    """Raised when robust accuracy rises with eps (by more than one image)."""
    ordered = sorted(evaluations, key=lambda e: e.threat.eps)
    bad = []
    for small, large in itertools.pairwise(ordered):
        n = max(len(large), 1)
        if large.robust_accuracy > small.robust_accuracy + 1.5 / n:
            bad.append({"eps_255": [small.threat.eps * 255, large.threat.eps * 255],
                        "accuracy": [small.robust_accuracy, large.robust_accuracy]})
    if len(ordered) < 2:
        return Flag("not-monotone", False, "one eps: not checked", applicable=False)
    return Flag("not-monotone", bool(bad),
                "robust accuracy rises with eps: the attack fails at the larger eps" if bad
                else "robust accuracy falls (or stays) as eps grows", {"rises": bad})


def check_more_steps(model: Any, images: torch.Tensor, labels: torch.Tensor, index: torch.Tensor,
                     evaluation: Evaluation, suite: Suite, *, limit: int = 16,
                     batch_size: int = 32) -> Flag:
    """Raised when APGD-CE with twice the steps, a restart and another seed still breaks
    images the suite left robust (the attack has not converged)."""
    robust = {s.index for s in evaluation.samples if s.robust}
    pick = [j for j, i in enumerate(index.tolist()) if i in robust][:limit]
    eps = f"{evaluation.threat.eps * 255:g}/255"
    if not _white_box(model) or not pick:
        return Flag("not-converged", False, f"no robust images to retry at {eps}" if _white_box(model)
                    else "query-only model: not checked", {"eps": eps, "tried": 0},
                    applicable=_white_box(model) and bool(pick))
    steps = 2 * max((dict(a.params).get("steps", 100) for a in suite.attacks
                     if a.attack.startswith("apgd")), default=100)
    attack = get_attack("apgd-ce", steps=steps, restarts=1, seed=1, batch_size=batch_size,
                        record=False)
    rows = torch.tensor(pick)
    result = attack(model, images[rows], Goal.untargeted(labels[rows]), evaluation.threat,
                    index=index[rows])
    newly = int(result.success.sum())
    raised = newly > 0
    message = (f"at {eps}, APGD-CE with {steps} steps and a restart broke {newly} of {len(pick)} "
               "images the suite left robust: the attacks have not converged; the robust "
               "accuracy is too high" if raised else
               f"at {eps}, a longer APGD-CE broke none of {len(pick)} robust images")
    return Flag("not-converged", raised, message,
                {"eps": eps, "tried": len(pick), "newly_broken": newly, "steps": steps})


def check_large_eps(model: Any, images: torch.Tensor, labels: torch.Tensor, index: torch.Tensor,
                    norm: str, *, batch_size: int = 32) -> Flag:
    """Raised when APGD-CE at a huge eps (0.5 in Linf) leaves some image correctly classified."""
    if not _white_box(model):
        return Flag("large-eps-not-zero", False, "query-only model: not checked", applicable=False)
    eps = LARGE_EPS if norm == "linf" else LARGE_EPS * math.sqrt(images[0].numel())
    threat = ThreatModel(norm, eps)
    attack = get_attack("apgd-ce", steps=20, batch_size=batch_size, record=False)
    result = attack(model, images, Goal.untargeted(labels), threat, index=index)
    correct = result.clean_probabilities.argmax(dim=1).cpu() == labels.cpu()
    survived = int((correct & ~result.success.cpu()).sum())
    raised = survived > 0
    message = (f"at eps {eps:g} ({norm}) {survived} of {int(correct.sum())} images still resist "
               "APGD-CE: any working attack must win there, so the gradients are not usable"
               if raised else f"at eps {eps:g} ({norm}) every image falls, as it must")
    return Flag("large-eps-not-zero", raised, message,
                {"eps": eps, "norm": norm, "correct": int(correct.sum()), "survived": survived})


def check_single_step(model: Any, images: torch.Tensor, labels: torch.Tensor, index: torch.Tensor,
                      evaluations: Sequence[Evaluation], *, batch_size: int = 32) -> Flag:
    """Raised when FGSM leaves at least :data:`SINGLE_STEP_GAP` more accuracy than the
    ensemble on the same images (at some eps)."""
    if not _white_box(model):
        return Flag("single-step-gap", False, "query-only model: not checked", applicable=False)
    rows: list[dict[str, Any]] = []
    for evaluation in evaluations:
        if evaluation.threat.norm != "linf" or evaluation.threat.eps == 0:
            continue
        by_index = {s.index: s for s in evaluation.samples}
        keep = [j for j, i in enumerate(index.tolist()) if i in by_index]
        if not keep:
            continue
        sel = torch.tensor(keep)
        fgsm = get_attack("fgsm", batch_size=batch_size, record=False)
        result = fgsm(model, images[sel], Goal.untargeted(labels[sel]), evaluation.threat,
                      index=index[sel])
        correct = result.clean_probabilities.argmax(dim=1).cpu() == labels[sel].cpu()
        fgsm_acc = float((correct & ~result.success.cpu()).float().mean())
        suite_acc = sum(by_index[int(i)].robust for i in index[sel]) / len(keep)
        rows.append({"eps_255": round(evaluation.threat.eps * 255, 4), "images": len(keep),
                     "fgsm_accuracy": fgsm_acc, "suite_accuracy": suite_acc})
    if not rows:
        return Flag("single-step-gap", False, "no Linf evaluation: not checked", applicable=False)
    worst = max(rows, key=lambda r: r["fgsm_accuracy"] - r["suite_accuracy"])
    gap = worst["fgsm_accuracy"] - worst["suite_accuracy"]
    raised = gap >= SINGLE_STEP_GAP
    message = (f"at {worst['eps_255']:g}/255 one FGSM step leaves {worst['fgsm_accuracy']:.0%} "
               f"accuracy but the ensemble {worst['suite_accuracy']:.0%}: the loss is far from "
               "linear around the data (gradient masking, as after FGSM training); a single-step "
               "evaluation would show robustness that is not there" if raised else
               f"FGSM and the ensemble agree within {SINGLE_STEP_GAP:.0%} (largest gap {gap:.0%})")
    return Flag("single-step-gap", raised, message, {"per_eps": rows})


__all__ = ["Flag", "check_black_box", "check_large_eps", "check_monotone", "check_more_steps",
           "check_randomness", "check_single_step", "check_softmax", "check_zero_gradient"]
