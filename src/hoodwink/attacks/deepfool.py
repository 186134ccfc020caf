"""DeepFool: walk to the nearest linearised decision boundary (Moosavi-Dezfooli et al. 2016).

At each step the classifier is linearised at the current image: for every
candidate class k, the boundary between the current class o and k is the
hyperplane ``f_k - f_o = 0`` with normal ``w_k = grad(f_k - f_o)``; the step
goes to the nearest one, ``r = (|f_k - f_o| / ||w_k||_*) * u_k`` where ``||.||_*`` is the
dual norm (L2 for l2, L1 for linf) and ``u_k`` the matching unit direction.
The image is ``clean + (1 + overshoot) * (sum of steps)``, kept inside the
ball and the bounds, and each sample stops once it has crossed.

8-bit honest: the crossing found on the float image usually lies a few
thousandths of a pixel past the boundary, which rounding to the 1/255 grid
erases. So the accumulated step is then scaled by the smallest factor
``s >= 1`` (doubling, then bisection; forward passes only) whose projection
onto the threat (8-bit grid, bounds, eps as an upper bound, see
:mod:`hoodwink.attacks.minimal`) reaches the goal: that 8-bit image is what is
returned and judged.

For a 1000-class model only the ``candidates`` most likely classes of the
clean image are considered (the original class plus ``candidates - 1``
others): one forward and ``candidates - 1`` backward passes per step. With a
*toward* goal (targeted, more-like) the only candidate is the target, and the
step goes from the current top-1 class toward it.

Example:
    >>> from hoodwink.attacks import Goal
    >>> result = DeepFool()(model, images, Goal.untargeted(labels))          # doctest: +SKIP
    >>> result.l2.median()                                                    # doctest: +SKIP
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import torch

from hoodwink.attacks.engine import Batch, Outcome, Recorder
from hoodwink.attacks.goals import Goal
from hoodwink.attacks.minimal import MinimalNormAttack, goal_margin, judge
from hoodwink.attacks.oracle import Evaluation, Oracle
from hoodwink.attacks.registry import register_attack
from hoodwink.attacks.threat import ThreatModel
from hoodwink.validate import check_float, check_int

#: Added to every boundary distance, as in the paper's reference code (numerical stability).
_EPS_DISTANCE = 1e-4
#: Scale doublings (up to 2**8) and bisections when fitting the step to the 8-bit grid.
_GROW_TRIES = 8
_BISECT_TRIES = 4


@register_attack("deepfool", description="steps to the nearest linearised decision boundary "
                 "among the top classes; a minimal-norm attack (Moosavi-Dezfooli et al. 2016)",
                 norms=("l2", "linf"), paper="Moosavi-Dezfooli et al. 2016, arXiv:1511.04599")
@dataclass(frozen=True)
class DeepFool(MinimalNormAttack):
    """DeepFool, L2 or Linf (from the threat's norm; L2 when ``threat`` is None).

    Args:
        steps: most linearisation steps per sample (most images need 2 to 4).
        overshoot: go ``1 + overshoot`` times the accumulated step past the boundary.
        candidates: classes considered: the goal's class and the clean image's
            ``candidates - 1`` most likely others (all classes when larger than the model has).
        batch_size: images per batch.
        confidence: success also needs the winning class at this probability.
        record: keep a trajectory (the loss is the goal margin in logits).

    Returns an :class:`AttackResult` whose ``adversarial`` images are the
    smallest-scale 8-bit images that reached the goal (the unscaled step for
    the others). The trajectory has a row per float step, then one row (right
    after the batch's last step) for the returned 8-bit image.
    """

    name: ClassVar[str] = "deepfool"
    norms: ClassVar[tuple[str, ...]] = ("l2", "linf")

    steps: int = 50
    overshoot: float = 0.02
    candidates: int = 10
    batch_size: int = 32
    confidence: float = 0.0
    record: bool = True

    def __post_init__(self) -> None:
        check_int("steps", self.steps)
        check_float("overshoot", self.overshoot, low=0.0)
        check_int("candidates", self.candidates, low=2)
        self.check_common()

    def run(self, batch: Batch) -> Outcome:
        """DeepFool on one batch, then the step fitted to the 8-bit grid."""
        clean, goal, threat, oracle = batch.clean, batch.goal, batch.threat, batch.oracle
        n, device = clean.shape[0], clean.device
        used = torch.zeros(n, dtype=torch.long, device=device)
        recorder: Recorder | None = None
        labels = others = clean_probs = None
        total = torch.zeros_like(clean)          # accumulated steps, before the overshoot

        # 1. DeepFool on the float image (inside ball and bounds), until it crosses
        idx = torch.arange(n, device=device)
        c = clean
        t = torch.zeros_like(clean)
        for step in range(self.steps + 1):
            x = c if step == 0 else threat.clip(c + (1 + self.overshoot) * t, c)
            evaluation = oracle.evaluate(x, idx, grad=step < self.steps)
            logits = evaluation.logits
            if labels is None:
                labels = goal.labels(logits)
                clean_probs = logits.softmax(dim=1)
                others = _candidates(logits, labels, self.candidates, goal.toward)
                recorder = batch.recorder(self.steps + 2, logits.shape[1], self.record)
            assert recorder is not None and others is not None
            lab, oth = labels[idx], others[idx]
            done, margin, probs = judge(logits, lab, goal, self.confidence)
            recorder(step, idx, probs, margin, threat.norm_ops.distance(x - c), images=x)
            used[idx] = step
            total[idx] = t
            remaining = (~done).nonzero().flatten()
            if step == self.steps or remaining.numel() == 0:
                break
            r = self._step(evaluation, lab, oth, goal.toward, threat.norm)
            idx, c, t = idx[remaining], c[remaining], t[remaining] + r[remaining]
        assert labels is not None and clean_probs is not None and recorder is not None

        # 2. onto the 8-bit grid: the smallest scale of the step whose 8-bit image succeeds
        out, success, out_probs = self._to_grid(oracle, clean, total, labels, goal, threat)
        recorder(int(used.max()) + 1 if n else 0, torch.arange(n, device=device), out_probs,
                 goal_margin(out_probs.log(), labels, goal.toward),
                 threat.norm_ops.distance(out - clean), images=out)
        return Outcome(out, success, out_probs, clean_probs, labels, used,
                       recorder.trajectory(labels))

    def _to_grid(self, oracle: Oracle, clean: torch.Tensor, total: torch.Tensor,
                 labels: torch.Tensor, goal: Goal, threat: ThreatModel
                 ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Project ``clean + s (1 + overshoot) total`` onto the threat for the smallest scale
        ``s >= 1`` (doubling, then bisection) whose 8-bit image reaches the goal.

        Rounding a float perturbation of a few thousandths per pixel to the
        1/255 grid erases most of it; scaling the step up first keeps the
        pixels that matter most (the largest gradient entries) and drops the rest.
        Forward passes only; returns images, success and probabilities.
        """
        n, device = clean.shape[0], clean.device
        step = (1 + self.overshoot) * total

        def evaluate(rows: torch.Tensor, scale: torch.Tensor
                     ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
            q = threat.project(clean[rows] + scale.view(-1, 1, 1, 1) * step[rows], clean[rows])
            ok, _, probs = judge(oracle.evaluate(q, rows).logits, labels[rows], goal,
                                 self.confidence)
            return q, ok, probs

        all_rows = torch.arange(n, device=device)
        out, success, out_probs = evaluate(all_rows, torch.ones(n, device=device))
        low = torch.ones(n, device=device)          # largest scale known to fail
        high = torch.full((n,), math.inf, device=device)
        high[success] = 1.0
        moving = step.flatten(1).abs().amax(dim=1) > 0
        rows = (~success & moving).nonzero().flatten()
        for _ in range(_GROW_TRIES):                 # doubling until the 8-bit image succeeds
            if rows.numel() == 0:
                break
            scale = low[rows] * 2
            q, ok, probs = evaluate(rows, scale)
            hit = rows[ok]
            out[hit], out_probs[hit], success[hit], high[hit] = q[ok], probs[ok], True, scale[ok]
            low[rows[~ok]] = scale[~ok]
            rows = rows[~ok]
        rows = (success & (high > 1)).nonzero().flatten()
        for _ in range(_BISECT_TRIES):               # then bisection between low and high
            if rows.numel() == 0:
                break
            scale = (low[rows] + high[rows]) / 2
            q, ok, probs = evaluate(rows, scale)
            hit = rows[ok]
            out[hit], out_probs[hit], high[hit] = q[ok], probs[ok], scale[ok]
            low[rows[~ok]] = scale[~ok]
        return out, success, out_probs

    @staticmethod
    def _step(evaluation: Evaluation, labels: torch.Tensor, others: torch.Tensor, toward: bool,
              norm: str) -> torch.Tensor:
        """The step (n, C, H, W) to the nearest linearised boundary among the candidates:
        one backward pass per candidate class."""
        logits = evaluation.logits
        if toward:   # from the current top-1 (other than the target) toward the target
            source = logits.scatter(1, labels[:, None], -math.inf).argmax(dim=1)
        else:        # from the goal's class toward the nearest other candidate
            source = labels
        diffs, grads = [], []
        m = others.shape[1]
        for j in range(m):
            def difference(z: torch.Tensor, j: int = j) -> torch.Tensor:
                return (z.gather(1, others[:, j:j + 1]) - z.gather(1, source[:, None])).squeeze(1)

            diffs.append(difference(logits))
            grads.append(evaluation.gradient(difference, retain=j < m - 1))
        f = torch.stack(diffs, dim=1).abs()                     # (n, m)
        w = torch.stack(grads, dim=1).flatten(2)                # (n, m, D)
        dual = w.abs().sum(dim=2) if norm == "linf" else w.norm(dim=2)
        distance = (f + _EPS_DISTANCE) / dual.clamp_min(1e-12)
        best = distance.argmin(dim=1)
        rows = torch.arange(w.shape[0], device=w.device)
        wb, db = w[rows, best], distance[rows, best]
        if norm == "linf":
            r = db[:, None] * wb.sign()
        else:
            r = db[:, None] * wb / dual[rows, best].clamp_min(1e-12)[:, None]
        return r.reshape(grads[0].shape)


def _candidates(logits: torch.Tensor, labels: torch.Tensor, k: int, toward: bool) -> torch.Tensor:
    """(n, m) the classes to step toward: the target, or the k - 1 most likely other classes."""
    if toward:
        return labels[:, None]
    m = min(k, logits.shape[1]) - 1
    return logits.scatter(1, labels[:, None], -math.inf).topk(m, dim=1).indices
