"""Carlini & Wagner's L2 attack (Carlini and Wagner 2017, "Towards evaluating the robustness").

Minimise ``||x - x0||_2^2 + c * f(x)`` over ``x = (tanh(w) + 1) / 2`` (scaled
to the bounds, so the box constraint is free), with Adam, where ``f`` is the
hinge on the logit margin: ``max(max_{i != t} Z_i - Z_t, -kappa)`` toward a
class ``t``, ``max(Z_y - max_{i != y} Z_i, -kappa)`` away from ``y``. A binary
search per sample finds the smallest ``c`` that still succeeds; every sample
keeps the smallest successful image seen so far.

8-bit honest: the image evaluated at each step is the float iterate projected
onto the threat (8-bit grid, bounds, eps as an upper bound; see
:mod:`hoodwink.attacks.minimal`); its logits both decide success and give the
gradient of ``f`` (straight through the rounding), so success costs no extra
pass and the returned images are exactly the ones that were judged.

Example:
    >>> from hoodwink.attacks import Goal
    >>> result = CarliniWagnerL2(steps=100)(model, images, Goal.targeted(23))   # doctest: +SKIP
    >>> result.success, result.l2                                               # doctest: +SKIP
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import torch

from hoodwink.attacks.engine import Batch, Outcome
from hoodwink.attacks.minimal import TIE_MARGIN, MinimalNormAttack, goal_margin, judge
from hoodwink.attacks.registry import register_attack
from hoodwink.validate import check_bool, check_float, check_int

_BETAS = (0.9, 0.999)
_ADAM_EPS = 1e-8
_NO_UPPER = 1e10


@register_attack("cw-l2", description="Carlini & Wagner L2: Adam in tanh space with a binary search "
                 "over the constant; a minimal-norm attack (Carlini and Wagner 2017)",
                 norms=("l2",), paper="Carlini and Wagner 2017, arXiv:1608.04644")
@dataclass(frozen=True)
class CarliniWagnerL2(MinimalNormAttack):
    """C&W L2 with a per-sample binary search over ``c`` and per-sample early abort.

    Args:
        steps: Adam steps per binary-search round.
        step_size: Adam's learning rate (in tanh space).
        search_steps: binary-search rounds over the constant ``c``.
        initial_const: ``c`` in the first round (x10 while no success, then bisection).
        kappa: the hinge's logit margin (the paper's "confidence").
        abort_early: a sample leaves a round when its loss has not fallen by 0.01%
            over a tenth of the steps.
        batch_size: images per batch.
        confidence: success also needs the winning class at this probability
            (the hinge keeps pushing until it does).
        record: keep a trajectory (one row per Adam step over all rounds; the
            loss is the C&W objective, NaN where a sample did not run).

    Passes: one forward and one backward per sample and step, plus one forward
    on the clean images.
    """

    name: ClassVar[str] = "cw-l2"
    norms: ClassVar[tuple[str, ...]] = ("l2",)

    steps: int = 100
    step_size: float = 0.01
    search_steps: int = 5
    initial_const: float = 1.0
    kappa: float = 0.0
    abort_early: bool = True
    batch_size: int = 32
    confidence: float = 0.0
    record: bool = True

    def __post_init__(self) -> None:
        for key in ("steps", "search_steps"):
            check_int(key, getattr(self, key))
        for key in ("step_size", "initial_const"):
            check_float(key, getattr(self, key), low=0.0, low_open=True)
        check_float("kappa", self.kappa, low=0.0)
        check_bool("abort_early", self.abort_early)
        self.check_common()

    def run(self, batch: Batch) -> Outcome:
        """C&W on one batch: binary search over ``c``, Adam steps in tanh space."""
        clean, goal, threat, oracle = batch.clean, batch.goal, batch.threat, batch.oracle
        n, device = clean.shape[0], clean.device
        lo, hi = threat.bounds
        clean_logits = oracle.evaluate(clean, batch.rows).logits
        labels = goal.labels(clean_logits)
        clean_probs = clean_logits.softmax(dim=1)
        used = torch.zeros(n, dtype=torch.long, device=device)
        # the best image so far: successful with the smallest L2, else the most adversarial
        success, _, out_probs = judge(clean_logits, labels, goal, self.confidence)
        out = clean.clone()
        best_l2 = torch.where(success, 0.0, math.inf).to(device)
        best_margin = goal_margin(clean_logits, labels, goal.toward)
        const = torch.full((n,), float(self.initial_const), device=device)
        lower = torch.zeros(n, device=device)
        upper = torch.full((n,), _NO_UPPER, device=device)
        w0 = torch.atanh(((clean - lo) / (hi - lo) * 2 - 1).clamp(-1 + 1e-6, 1 - 1e-6))
        recorder = batch.recorder(self.search_steps * self.steps + 1, clean_logits.shape[1],
                                  self.record)
        recorder(0, torch.arange(n, device=device), clean_probs, torch.zeros(n, device=device),
                 torch.zeros(n, device=device))
        patience = max(self.steps // 10, 1)
        hinge = self.kappa + TIE_MARGIN

        for round_ in range(self.search_steps):
            todo = (~success | (best_l2 > 0)).nonzero().flatten()   # a clean success is optimal
            if todo.numel() == 0:
                break
            idx = todo
            w = w0[idx].clone()
            m, v = torch.zeros_like(w), torch.zeros_like(w)
            prev = torch.full((idx.numel(),), math.inf, device=device)
            hit = torch.zeros(n, dtype=torch.bool, device=device)
            for step in range(self.steps):
                c0 = clean[idx]
                x = (torch.tanh(w) + 1) / 2 * (hi - lo) + lo
                q = threat.project(x, c0)
                evaluation = oracle.evaluate(q, idx, grad=True)
                lab = labels[idx]
                ok, margin, probs = judge(evaluation.logits, lab, goal, self.confidence)
                confident = goal.reached_probs(probs, lab, self.confidence)

                def hinge_loss(z: torch.Tensor, lab: torch.Tensor = lab,
                               confident: torch.Tensor = confident) -> torch.Tensor:
                    # the hinge; below the wanted confidence it keeps pushing past kappa
                    m = goal_margin(z, lab, goal.toward)
                    f = (hinge - m).clamp_min(0)
                    return torch.where(confident, f, hinge - m) if self.confidence > 0 else f

                f = hinge_loss(evaluation.logits)
                grad_f = evaluation.gradient(hinge_loss)
                with torch.no_grad():
                    delta = x - c0
                    dist2 = delta.flatten(1).pow(2).sum(1)
                    loss = dist2 + const[idx] * f
                    l2 = (q - c0).flatten(1).norm(dim=1)
                    recorder(round_ * self.steps + step + 1, idx, probs, loss, l2, images=q)
                    used[idx] += 1
                    # keep the smallest successful 8-bit image, else the most adversarial one
                    md = margin.detach()
                    better = ok & (l2 < best_l2[idx])
                    closer = ~success[idx] & ~ok & (md > best_margin[idx])
                    take = better | closer
                    out[idx] = torch.where(take[:, None, None, None], q, out[idx])
                    out_probs[idx] = torch.where(take[:, None], probs, out_probs[idx])
                    best_l2[idx] = torch.where(better, l2, best_l2[idx])
                    best_margin[idx] = torch.where(closer, md, best_margin[idx])
                    success[idx] |= ok
                    hit[idx] |= ok
                    # Adam on w: d loss / d x = 2 delta + c grad_f, times dx/dw
                    scale = const[idx].view(-1, 1, 1, 1)
                    g = (2 * delta + scale * grad_f) * (1 - torch.tanh(w) ** 2) * ((hi - lo) / 2)
                    t = step + 1
                    m = _BETAS[0] * m + (1 - _BETAS[0]) * g
                    v = _BETAS[1] * v + (1 - _BETAS[1]) * g * g
                    m_hat = m / (1 - _BETAS[0] ** t)
                    v_hat = v / (1 - _BETAS[1] ** t)
                    w = w - self.step_size * m_hat / (v_hat.sqrt() + _ADAM_EPS)
                    if self.abort_early and t % patience == 0:
                        stuck = loss > prev * 0.9999
                        prev = loss
                        if bool(stuck.any()):
                            keep = (~stuck).nonzero().flatten()
                            if keep.numel() == 0:
                                break
                            idx, w, m, v, prev = idx[keep], w[keep], m[keep], v[keep], prev[keep]
            # binary search on c, per sample: smaller after a success, larger after none
            r = todo
            won = hit[r]
            upper[r] = torch.where(won, torch.minimum(upper[r], const[r]), upper[r])
            lower[r] = torch.where(won, lower[r], torch.maximum(lower[r], const[r]))
            bisect = (lower[r] + upper[r]) / 2
            grow = torch.where(upper[r] < _NO_UPPER, bisect, const[r] * 10)
            const[r] = torch.where(won, bisect, grow)
        return Outcome(out, success, out_probs, clean_probs, labels, used,
                       recorder.trajectory(labels))
