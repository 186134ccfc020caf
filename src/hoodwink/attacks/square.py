"""Square: random squares of perturbation, kept when they lower the margin (Andriushchenko et al. 2020).

A score-based attack: it only asks the model for probabilities
(:meth:`Oracle.probabilities`), one query per candidate image, and needs no
gradient. Each iteration changes one random square window of the current best
perturbation and keeps the change if the margin loss falls:

* **Linf**: the window takes ``+eps`` or ``-eps`` per colour channel. The start
  is the reference algorithm's vertical stripes (one random sign per channel
  and column).
* **L2**: the window gets a pseudo-Gaussian bump of random sign per channel,
  the mass of a second random window is moved into it, and the whole
  perturbation is rescaled to length eps. The start is a 5x5 grid of such bumps.
* **A given start** (``start=``, e.g. images crafted on a surrogate by
  :func:`~hoodwink.attacks.transfer.transfer`): the start query is that image,
  projected into the threat (on the 8-bit grid when the threat quantises),
  instead of the stripes or the bumps, and the squares go on from it. This is the
  hybrid attack of Suya et al. 2020 (*Hybrid Batch Attacks*, USENIX Security,
  arXiv:1908.07000): a transferred image that did not fool the target is often
  close to one that does, so the query attack needs fewer queries from it, and an
  image that the transfer alone fooled costs 2 queries (clean, start).

The window's area is a fraction ``p`` of the image; ``p`` starts at ``p_init``
and is halved on the reference schedule, rescaled from the paper's 10,000
iterations to the budget (``queries``, or ``steps`` when no budget is given).
For Linf ``p_init`` is 0.8 by default, as in AutoAttack (the same authors' Square
for budgets of thousands; torchattacks and ART also start at 0.8), not the paper's
ImageNet 0.05: that value was tuned for 10,000 queries, and with the schedule
rescaled to 1,000 it shrinks the squares ten times sooner (side 13 pixels of 224
after 100 queries). On 6 ImageNet photos, EfficientNet-Lite0, 4/255, 300 queries,
seeds 0-2: 6 of 18 runs fooled with 0.05, 12 of 18 with 0.8 (torchattacks: 11).
Unlike torchattacks and ART, which share one square position across the batch,
every image draws its own window from its own seed
(:func:`~hoodwink.attacks.engine.mix_seed` of the attack's seed and the image's
dataset index), so the result of an image does not depend on its batch.

The loss is the margin of log-probabilities (the goal's class against the
best other class) away from a class, and the cross-entropy ``-log p(target)``
toward one, as in the reference code (the margin would rather flatten the answer
than raise a target at p = 0.0001: Lite2, chelsea into vulture, 12/255, 3000
queries, ended flat at p = 0.014 for its top classes); probabilities cut to the
top k or rounded still work (:func:`square_loss`). A
candidate whose loss ties the best one is kept too (the reference keeps only
strict improvements): with exact probabilities ties do not happen, and with
rounded ones this lets the search walk across a plateau instead of sitting on
it (untargeted, top 5 rounded to 2 digits: 7 of 12 tiny-model images fooled
with strict improvements, 12 of 12 with ties kept, on a sharper model).
A sample stops at the query that reaches the goal (by a strict margin: a tie
between rounded probabilities is not a success), or when its budget is spent.

8-bit honest: every query is an image on the 1/255 grid inside the threat. For
Linf the window values are ``±eps`` rounded down to whole 8-bit levels (4/255 is
exactly 4 levels; eps 0.05 becomes 12/255); an L2 candidate is projected onto
the grid and the ball, and a candidate that rounding left unchanged is redrawn
instead of being paid for.

Example:
    >>> from hoodwink.attacks import Goal, ThreatModel, get_attack
    >>> attack = get_attack("square")
    >>> result = attack(model, images, Goal.untargeted(), ThreatModel("linf", 4 / 255),
    ...                 queries=1000)                                      # doctest: +SKIP
    >>> result.queries[result.success].median()                            # doctest: +SKIP
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import torch

from hoodwink.attacks.engine import AttackBase, Batch, Outcome, Recorder, mix_seed
from hoodwink.attacks.goals import Goal
from hoodwink.attacks.minimal import goal_margin
from hoodwink.attacks.registry import register_attack
from hoodwink.attacks.threat import LEVELS, ThreatModel
from hoodwink.validate import check_bool, check_float, check_int

#: Redraws of a candidate that the 8-bit grid or the bounds left unchanged.
_REDRAWS = 10
#: Loop iterations in a row in which no sample could make a query before giving up.
_STALLS = 20
#: The reference schedule: (iteration out of 10,000, divisor of p_init).
_SCHEDULE = ((10, 1), (50, 2), (200, 4), (500, 8), (1000, 16), (2000, 32), (4000, 64),
             (6000, 128), (8000, 256), (10000, 512))


def p_selection(p_init: float, it: int, n_iters: int) -> float:
    """The fraction of the image a square covers at iteration ``it`` of ``n_iters``: the
    reference schedule for 10,000 iterations, rescaled to ``n_iters``.

    Example:
        >>> p_selection(0.05, 0, 1000), p_selection(0.05, 100, 1000)
        (0.05, 0.003125)
    """
    t = int(it / max(n_iters, 1) * 10000)
    if t > 10000:
        return p_init
    for upper, divisor in _SCHEDULE:
        if t <= upper:
            return p_init / divisor
    return p_init  # pragma: no cover


def margin_loss(probs: torch.Tensor, labels: torch.Tensor, goal: Goal) -> torch.Tensor:
    """(N,) minus the goal margin of log-probabilities (positive until the goal is reached)."""
    return -goal_margin(probs.float().clamp_min(1e-30).log(), labels, goal.toward)


#: The targeted loss of a sample whose target the answer does not show (top k, rounded
#: to 0): above any cross-entropy of a shown one (-log 1e-30 is 69).
_UNSEEN = 100.0


def square_loss(probs: torch.Tensor, labels: torch.Tensor, goal: Goal) -> torch.Tensor:
    """(N,) the loss Square lowers, as the reference code: the margin loss away from a
    class, the cross-entropy ``-log p(target)`` toward one (the margin would rather flatten
    the answer, lowering the best class, than raise a target at p = 0.0001). A target the
    answer does not show (top k, rounded) gets ``_UNSEEN`` plus the margin loss: the
    search lowers the best classes until the target shows, then raises it."""
    if not goal.toward:
        return margin_loss(probs, labels, goal)
    p = probs.float().gather(1, labels[:, None]).squeeze(1)
    unseen = _UNSEEN + margin_loss(probs, labels, goal)
    return torch.where(p > 0, -p.clamp_min(1e-30).log(), unseen)


class _Draws:
    """One random generator per sample, seeded from (seed, index): the draws of an image
    do not depend on the other images of its batch."""

    def __init__(self, seed: int, index: torch.Tensor) -> None:
        self.gens = [torch.Generator().manual_seed(mix_seed(seed, 0, int(i)))
                     for i in index.tolist()]

    def rand(self, rows: torch.Tensor, k: int, device: torch.device) -> torch.Tensor:
        """(len(rows), k) uniform numbers in [0, 1), each row from its sample's generator."""
        if rows.numel() == 0:
            return torch.zeros(0, k, device=device)
        return torch.stack([torch.rand(k, generator=self.gens[int(r)])
                            for r in rows.tolist()]).to(device)


def _pseudo_gaussian(x: int, y: int) -> torch.Tensor:
    """The reference's (x, y) bump: nested rectangles weighted 1 / (ring + 1)^2, unit norm."""
    delta = torch.zeros(x, y)
    if x == 0 or y == 0:
        return delta
    x_c, y_c = x // 2 + 1, y // 2 + 1
    c0, c1 = x_c - 1, y_c - 1
    for counter in range(max(x_c, y_c)):
        delta[max(c0, 0):min(c0 + 2 * counter + 1, x),
              max(c1, 0):min(c1 + 2 * counter + 1, y)] += 1.0 / (counter + 1) ** 2
        c0 -= 1
        c1 -= 1
    unit: torch.Tensor = delta / delta.norm().clamp_min(1e-12)
    return unit


def meta_pseudo_gaussian(s: int) -> torch.Tensor:
    """The reference's (s, s) L2 update: a bump of one sign over the top half and of the
    other over the bottom half, unit norm (callers transpose it at random).

    Example:
        >>> round(float(meta_pseudo_gaussian(5).norm()), 6)
        1.0
    """
    if s < 2:
        return torch.ones(s, s)
    delta = torch.zeros(s, s)
    delta[: s // 2] = _pseudo_gaussian(s // 2, s)
    delta[s // 2:] = -_pseudo_gaussian(s - s // 2, s)
    unit: torch.Tensor = delta / delta.norm().clamp_min(1e-12)
    return unit


def _window(top: torch.Tensor, left: torch.Tensor, size: torch.Tensor, h: int, w: int
            ) -> torch.Tensor:
    """(m, 1, h, w) bool: each sample's own square window."""
    hh = torch.arange(h, device=top.device)
    ww = torch.arange(w, device=top.device)
    in_rows = (hh >= top[:, None]) & (hh < (top + size)[:, None])
    in_cols = (ww >= left[:, None]) & (ww < (left + size)[:, None])
    mask: torch.Tensor = in_rows[:, None, :, None] & in_cols[:, None, None, :]
    return mask


def _positions(u: torch.Tensor, size: torch.Tensor, extent: int) -> torch.Tensor:
    """A uniform position in 0..extent - size from uniforms ``u``."""
    span = (extent - size + 1).clamp_min(1)
    return torch.minimum((u * span).long(), span - 1)


@register_attack("square", description="random square updates kept when the margin falls; "
                 "score-based, queries only, a square per image (Andriushchenko et al. 2020)",
                 norms=("linf", "l2"), paper="Andriushchenko et al. 2020, arXiv:1912.00049",
                 kind="scores")
@dataclass(frozen=True)
class Square(AttackBase):
    """The Square attack, Linf or L2 (from the threat's norm).

    Args:
        p_init: the first square's fraction of the image (None: 0.8 for Linf, as
            in AutoAttack; 0.1 for L2, the paper's ImageNet setting).
        steps: the most queries per image when no query budget is given (with a
            budget, the budget is the horizon and sets the p schedule).
        batch_size: images per batch.
        seed: the random draws (each image's own, from its dataset index).
        confidence: success also needs the winning class at this probability.
        record: keep a trajectory, one row per query (loss: minus the log-probability margin).

    Returns an :class:`AttackResult` whose ``queries`` are, for each fooled
    image, the queries up to and including the first one that fooled it.

    Given ``start=`` images (``takes_start``), query 2 is the start instead of the
    stripes or bumps (Suya et al. 2020's hybrid: start from a transfer's output);
    everything else is the same.

    Example:
        >>> crafted = get_attack("mifgsm-di")(surrogate, images, goal, threat)  # doctest: +SKIP
        >>> Square()(target, crafted.original, goal, threat, start=crafted.adversarial,
        ...          queries=1000)                                             # doctest: +SKIP
    """

    name: ClassVar[str] = "square"
    norms: ClassVar[tuple[str, ...]] = ("linf", "l2")
    takes_start: ClassVar[bool] = True

    p_init: float | None = None
    steps: int = 1000
    batch_size: int = 64
    seed: int = 0
    confidence: float = 0.0
    record: bool = True

    def __post_init__(self) -> None:
        if self.p_init is not None:
            check_float("p_init", self.p_init, low=0.0, high=1.0, low_open=True)
        check_int("steps", self.steps)
        check_int("batch_size", self.batch_size)
        check_int("seed", self.seed, low=0)
        check_float("confidence", self.confidence, low=0.0, high=1.0, high_open=True)
        check_bool("record", self.record)

    def run(self, batch: Batch) -> Outcome:
        """Square on one batch: clean query, start, then one square per query per image."""
        clean, goal, threat, oracle = batch.clean, batch.goal, batch.threat, batch.oracle
        n, device = len(batch), clean.device
        rows = batch.rows
        draws = _Draws(self.seed, batch.index)
        horizon = oracle.budget if oracle.budget is not None else self.steps
        p_init = self.p_init if self.p_init is not None else (0.8 if threat.norm == "linf"
                                                               else 0.1)
        used = torch.zeros(n, dtype=torch.long, device=device)

        def may_ask(idx: torch.Tensor) -> torch.Tensor:
            return (used[idx] < horizon) & (oracle.left(idx) > 0)

        # the clean images: the goal's classes and the starting loss
        clean_probs = oracle.probabilities(clean, rows)
        used += 1
        labels = goal.labels(clean_probs.float().clamp_min(1e-30).log())
        best, best_probs = clean.clone(), clean_probs.clone()
        loss = square_loss(clean_probs, labels, goal)
        success = self._reached(clean_probs, labels, goal)
        num_classes = int(clean_probs.shape[1])
        recorder = batch.recorder(horizon, num_classes, self.record)
        recorder(0, rows, clean_probs, -margin_loss(clean_probs, labels, goal),
                 threat.distance(clean, clean))

        # the start: the given one, or vertical stripes (Linf) or a grid of bumps (L2)
        start = rows[~success & may_ask(rows)]
        if start.numel():
            x0 = clean[start]
            if batch.start is not None:       # already inside the threat (the engine's)
                init = batch.start[start]
            elif threat.norm == "linf":
                init = self._stripes(x0, start, draws, threat)
            else:
                init = self._bumps(x0, start, draws, threat)
            self._accept(oracle.probabilities(init, start), init, start, best, best_probs,
                         loss, success, labels, goal, always=True)
            used[start] += 1
            self._record(recorder, used, start, best, best_probs, labels, goal, clean, threat)

        # one square per query per image
        stalls = 0
        while stalls < _STALLS:
            idx = rows[~success & may_ask(rows)]
            if idx.numel() == 0:
                break
            p = torch.tensor([p_selection(p_init, int(u) - 2, horizon - 1)
                              for u in used[idx].tolist()], device=device)
            step = self._linf_step if threat.norm == "linf" else self._l2_step
            cand, changed = step(clean[idx], best[idx], idx, p, draws, threat)
            idx, cand = idx[changed], cand[changed]
            if idx.numel() == 0:
                stalls += 1
                continue
            stalls = 0
            self._accept(oracle.probabilities(cand, idx), cand, idx, best, best_probs, loss,
                         success, labels, goal)
            used[idx] += 1
            self._record(recorder, used, idx, best, best_probs, labels, goal, clean, threat)
        return Outcome(best, success, best_probs, clean_probs, labels, used - 1,
                       recorder.trajectory(labels))

    # --- judging -------------------------------------------------------------------

    def _reached(self, probs: torch.Tensor, labels: torch.Tensor, goal: Goal) -> torch.Tensor:
        """The goal, by a strict margin (tied rounded probabilities are no success)."""
        strict = margin_loss(probs, labels, goal) < 0
        return strict & goal.reached_probs(probs, labels, self.confidence)

    def _accept(self, probs: torch.Tensor, cand: torch.Tensor, idx: torch.Tensor,
                best: torch.Tensor, best_probs: torch.Tensor, loss: torch.Tensor,
                success: torch.Tensor, labels: torch.Tensor, goal: Goal, *,
                always: bool = False) -> None:
        """Keep the candidates that lowered the loss (or reached the goal), in place."""
        new_loss = square_loss(probs, labels[idx], goal)
        reached = self._reached(probs, labels[idx], goal)
        better = reached | (new_loss <= loss[idx]) if not always else torch.ones_like(reached)
        take = idx[better]
        best[take], best_probs[take] = cand[better], probs[better]
        loss[take], success[take] = new_loss[better], reached[better]

    @staticmethod
    def _record(recorder: Recorder, used: torch.Tensor, idx: torch.Tensor, best: torch.Tensor,
                best_probs: torch.Tensor, labels: torch.Tensor, goal: Goal, clean: torch.Tensor,
                threat: ThreatModel) -> None:
        if not recorder.enabled:
            return
        for count in sorted(set(used[idx].tolist())):
            part = idx[used[idx] == count]
            recorder(int(count) - 1, part, best_probs[part],
                     -margin_loss(best_probs[part], labels[part], goal),
                     threat.distance(best[part], clean[part]))

    # --- Linf --------------------------------------------------------------------------

    @staticmethod
    def _linf_eps(threat: ThreatModel) -> float:
        """eps, in whole 8-bit levels when the threat quantises."""
        if not threat.quantize:
            return threat.eps
        return math.floor(threat.eps * LEVELS + 1e-4) / LEVELS

    def _stripes(self, x0: torch.Tensor, idx: torch.Tensor, draws: _Draws,
                 threat: ThreatModel) -> torch.Tensor:
        """The reference start: ±eps per channel and column (vertical stripes)."""
        m, c, _, w = x0.shape
        signs = (draws.rand(idx, c * w, x0.device) < 0.5).float() * 2 - 1
        return threat.project(x0 + self._linf_eps(threat) * signs.view(m, c, 1, w), x0)

    def _linf_step(self, x0: torch.Tensor, xb: torch.Tensor, idx: torch.Tensor,
                   p: torch.Tensor, draws: _Draws, threat: ThreatModel
                   ) -> tuple[torch.Tensor, torch.Tensor]:
        """A window of ±eps per channel on each image's best; redrawn while it changes nothing."""
        m, c, h, w = x0.shape
        eps = self._linf_eps(threat)
        size = (p * h * w).sqrt().round().long().clamp(1, max(min(h, w) - 1, 1))
        u = draws.rand(idx, 2, x0.device)
        mask = _window(_positions(u[:, 0], size, h), _positions(u[:, 1], size, w), size, h, w)
        cand = xb.clone()
        todo = torch.arange(m, device=x0.device)
        for _ in range(_REDRAWS):
            signs = (draws.rand(idx[todo], c, x0.device) < 0.5).float() * 2 - 1
            trial = torch.where(mask[todo], x0[todo] + eps * signs.view(-1, c, 1, 1), xb[todo])
            cand[todo] = threat.project(trial, x0[todo])
            same = (cand[todo] == xb[todo]).flatten(1).all(1)
            todo = todo[same]
            if todo.numel() == 0:
                break
        changed = (cand != xb).flatten(1).any(1)
        return cand, changed

    # --- L2 ----------------------------------------------------------------------------

    def _bumps(self, x0: torch.Tensor, idx: torch.Tensor, draws: _Draws,
               threat: ThreatModel) -> torch.Tensor:
        """The reference start: a grid of pseudo-Gaussian bumps of random signs, length eps."""
        m, c, h, w = x0.shape
        s = max(h // 5, 1)
        n_h, n_w = h // s, w // s
        top0, left0 = (h - s * n_h) // 2, (w - s * n_w) // 2
        bump = meta_pseudo_gaussian(s).to(x0.device)
        u = draws.rand(idx, n_h * n_w * (c + 1), x0.device).view(m, n_h * n_w, c + 1)
        delta = torch.zeros_like(x0)
        for k in range(n_h * n_w):
            i, j = divmod(k, n_w)
            flip = (u[:, k, 0] > 0.5).view(m, 1, 1, 1)
            patch = torch.where(flip, bump.t().expand(m, 1, s, s), bump.expand(m, 1, s, s))
            signs = (u[:, k, 1:] < 0.5).float() * 2 - 1
            t, left = top0 + i * s, left0 + j * s
            delta[:, :, t:t + s, left:left + s] += patch * signs.view(m, c, 1, 1)
        return self._rescale(x0, delta, threat)

    @staticmethod
    def _rescale(x0: torch.Tensor, delta: torch.Tensor, threat: ThreatModel) -> torch.Tensor:
        """``x0 + delta`` with delta rescaled to length eps, then onto the threat."""
        length = delta.flatten(1).norm(dim=1).clamp_min(1e-12).view(-1, 1, 1, 1)
        return threat.project(x0 + delta / length * threat.eps, x0)

    def _l2_step(self, x0: torch.Tensor, xb: torch.Tensor, idx: torch.Tensor,
                 p: torch.Tensor, draws: _Draws, threat: ThreatModel
                 ) -> tuple[torch.Tensor, torch.Tensor]:
        """The reference L2 update on each image's own two windows (same size per group)."""
        h, w = x0.shape[2:]
        limit = min(h, w)
        size = (p * h * w).sqrt().round().long().clamp(min=3)
        size = size + (size % 2 == 0).long()
        size = size.clamp(max=limit)
        cand = xb.clone()
        for s in sorted(set(size.tolist())):
            part = (size == s).nonzero().flatten()
            cand[part] = self._l2_group(x0[part], xb[part], idx[part], int(s), draws, threat)
        changed = (cand != xb).flatten(1).any(1)
        for _ in range(_REDRAWS - 1):       # rounding left it unchanged: draw again
            same = (~changed).nonzero().flatten()
            if same.numel() == 0:
                break
            for s in sorted(set(size[same].tolist())):
                part = same[size[same] == s]
                cand[part] = self._l2_group(x0[part], xb[part], idx[part], int(s), draws,
                                            threat)
            changed = (cand != xb).flatten(1).any(1)
        return cand, changed

    def _l2_group(self, x0: torch.Tensor, xb: torch.Tensor, idx: torch.Tensor, s: int,
                  draws: _Draws, threat: ThreatModel) -> torch.Tensor:
        m, c, h, w = x0.shape
        device = x0.device
        u = draws.rand(idx, 5 + c, device)
        size = torch.full((m,), s, dtype=torch.long, device=device)
        t1, l1 = _positions(u[:, 0], size, h), _positions(u[:, 1], size, w)
        t2, l2 = _positions(u[:, 2], size, h), _positions(u[:, 3], size, w)
        mask1 = _window(t1, l1, size, h, w)
        mask2 = _window(t2, l2, size, h, w)
        delta = xb - x0
        # the window's current content, per channel
        ar = torch.arange(s, device=device)
        rr = (t1[:, None] + ar)[:, None, :, None]
        cc = (l1[:, None] + ar)[:, None, None, :]
        bb = torch.arange(m, device=device)[:, None, None, None]
        ch = torch.arange(c, device=device)[None, :, None, None]
        old = delta[bb, ch, rr, cc]                                         # (m, c, s, s)
        norm_window = old.flatten(2).norm(dim=2).view(m, c, 1, 1)
        norm_image = delta.flatten(1).norm(dim=1).view(m, 1, 1, 1)
        both = mask1 | mask2
        norm_windows = (delta * both).flatten(2).norm(dim=2).view(m, c, 1, 1)
        bump = meta_pseudo_gaussian(s).to(device)
        flip = (u[:, 4] > 0.5).view(m, 1, 1, 1)
        patch = torch.where(flip, bump.t().expand(m, 1, s, s), bump.expand(m, 1, s, s))
        signs = (u[:, 5:] < 0.5).float() * 2 - 1
        new = patch * signs.view(m, c, 1, 1) + old / (1e-10 + norm_window)
        room = ((threat.eps ** 2 - norm_image ** 2).clamp_min(0) / c + norm_windows ** 2).sqrt()
        new = new / new.flatten(2).norm(dim=2).clamp_min(1e-12).view(m, c, 1, 1) * room
        delta = torch.where(mask2, torch.zeros_like(delta), delta)
        delta[bb, ch, rr, cc] = new
        return self._rescale(x0, delta, threat)
