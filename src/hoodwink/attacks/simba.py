"""SimBA and SimBA-DCT: step along one basis direction at a time (Guo et al. 2019).

A score-based attack: it asks only for probabilities. For each direction ``q``
of an orthonormal basis, taken in a random order, it tries ``x - step_size q``;
if the probability of the goal's class moved the right way (down, away from a
class; up, toward one) the step is kept, otherwise it tries ``x + step_size q``
(a second query) and keeps that if it helps. SimBA uses the pixel basis,
SimBA-DCT the low frequencies of the 2D discrete cosine transform first (a
``freq`` fraction of each side, per colour channel), then the rest.

A sample stops at the query that reaches the goal (by a strict margin), when its
budget is spent or after ``steps`` directions (the basis is walked again in a
new order when it runs out).

8-bit honest: the walk is kept in floating point, and every image asked is its
projection onto the threat and the 1/255 grid. A DCT step of 0.2 is worth less
than half an 8-bit level per pixel, which plain rounding would erase, so before
rounding each image gets a fixed dither (per image, uniform in ±0.5 levels,
seeded): the rounded image is then an unbiased 8-bit version of the walk and
small steps still change it. The images returned are the ones judged.

Example:
    >>> from hoodwink.attacks import Goal, ThreatModel, get_attack
    >>> result = get_attack("simba-dct")(model, images, Goal.untargeted(),
    ...                                  ThreatModel("l2", 5.0), queries=2000)  # doctest: +SKIP
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import torch

from hoodwink.attacks.engine import AttackBase, Batch, Outcome, mix_seed
from hoodwink.attacks.goals import Goal
from hoodwink.attacks.registry import register_attack
from hoodwink.attacks.square import margin_loss
from hoodwink.attacks.threat import LEVELS, ThreatModel
from hoodwink.validate import check_bool, check_choice, check_float, check_int


def dct_matrix(n: int) -> torch.Tensor:
    """(n, n) the orthonormal DCT-II basis: row ``u`` is frequency ``u`` over positions.

    Example:
        >>> b = dct_matrix(8)
        >>> bool(torch.allclose(b @ b.T, torch.eye(8), atol=1e-6))
        True
    """
    pos = torch.arange(n, dtype=torch.float64)
    u = torch.arange(n, dtype=torch.float64)[:, None]
    basis = torch.cos(math.pi * (2 * pos + 1) * u / (2 * n)) * math.sqrt(2 / n)
    basis[0] = math.sqrt(1 / n)
    return basis.float()


class _Walk:
    """The random order of basis directions of each sample, one generator per sample."""

    def __init__(self, seed: int, index: torch.Tensor, shape: tuple[int, int, int], basis: str,
                 freq: float) -> None:
        self.gens = [torch.Generator().manual_seed(mix_seed(seed, 0, int(i)))
                     for i in index.tolist()]
        c, h, w = shape
        self.shape, self.basis = shape, basis
        self.dims = c * h * w
        if basis == "dct":
            fh, fw = max(1, round(h * freq)), max(1, round(w * freq))
            u = torch.arange(h)[:, None].expand(h, w)
            v = torch.arange(w)[None, :].expand(h, w)
            self.high = (~((u < fh) & (v < fw))).flatten().repeat(c).float()
        else:
            self.high = torch.zeros(self.dims)
        self.orders: list[torch.Tensor | None] = [None] * len(self.gens)
        self.bases = (dct_matrix(h), dct_matrix(w)) if basis == "dct" else None

    def dither(self, n: int, device: torch.device) -> torch.Tensor:
        """(n, C, H, W) a fixed dither in (-0.5, 0.5) levels per sample, in pixel units."""
        return torch.stack([(torch.rand(self.shape, generator=g) - 0.5) * (0.999 / LEVELS)
                            for g in self.gens[:n]]).to(device)

    def direction(self, rows: torch.Tensor, count: torch.Tensor, device: torch.device
                  ) -> torch.Tensor:
        """(m, C, H, W) the unit direction of each sample's ``count``-th step."""
        c, h, w = self.shape
        out = torch.zeros(len(rows), c, h, w)
        for j, (r, k) in enumerate(zip(rows.tolist(), count.tolist())):
            position = k % self.dims
            order = self.orders[r]
            if order is None or position == 0:   # a new pass over the basis, in a new order
                keys = torch.rand(self.dims, generator=self.gens[r]) + self.high
                order = self.orders[r] = keys.argsort()
            d = int(order[position])
            ch, rest = divmod(d, h * w)
            y, x = divmod(rest, w)
            if self.bases is None:
                out[j, ch, y, x] = 1.0
            else:
                out[j, ch] = torch.outer(self.bases[0][y], self.bases[1][x])
        return out.to(device)


@register_attack("simba", description="one pixel at a time, kept when the goal's probability "
                 "moves the right way; score-based (Guo et al. 2019)", norms=("l2", "linf"),
                 paper="Guo et al. 2019, arXiv:1905.07121", kind="scores")
@dataclass(frozen=True)
class SimBA(AttackBase):
    """SimBA in the pixel basis (``simba-dct`` for the low-frequency DCT basis).

    Args:
        step_size: the length of each step along a unit basis direction (pixel
            units; the paper's 0.2). With the pixel basis on the 8-bit grid it is
            rounded to whole levels (at least one).
        steps: the most directions per image (each costs one or two queries).
        freq: the fraction of each side whose DCT frequencies come first (SimBA-DCT).
        batch_size, seed, confidence, record: as for every attack (the
            trajectory has one row per direction tried, loss: the log-probability margin).
    """

    name: ClassVar[str] = "simba"
    norms: ClassVar[tuple[str, ...]] = ("l2", "linf")

    step_size: float = 0.2
    steps: int = 10000
    freq: float = 0.125
    batch_size: int = 64
    seed: int = 0
    confidence: float = 0.0
    record: bool = True
    basis: ClassVar[str] = "pixels"

    def __post_init__(self) -> None:
        check_float("step_size", self.step_size, low=0.0, low_open=True)
        check_int("steps", self.steps)
        check_float("freq", self.freq, low=0.0, high=1.0, low_open=True)
        check_int("batch_size", self.batch_size)
        check_int("seed", self.seed, low=0)
        check_float("confidence", self.confidence, low=0.0, high=1.0, high_open=True)
        check_bool("record", self.record)
        check_choice("basis", self.basis, ("pixels", "dct"))

    def _step(self, threat: ThreatModel) -> float:
        if self.basis == "pixels" and threat.quantize:
            return max(1, round(self.step_size * LEVELS)) / LEVELS
        return self.step_size

    def run(self, batch: Batch) -> Outcome:
        """SimBA on one batch: one or two queries per direction, per sample."""
        clean, goal, threat, oracle = batch.clean, batch.goal, batch.threat, batch.oracle
        n, device = len(batch), clean.device
        rows = batch.rows
        walk = _Walk(self.seed, batch.index, tuple(clean.shape[1:]),  # type: ignore[arg-type]
                     self.basis, self.freq)
        dither = walk.dither(n, device) if threat.quantize and self.basis == "dct" \
            else torch.zeros_like(clean)
        step = self._step(threat)

        clean_probs = oracle.probabilities(clean, rows)
        labels = goal.labels(clean_probs.float().clamp_min(1e-30).log())
        walked = clean.clone()                        # the float walk
        best, best_probs = clean.clone(), clean_probs.clone()
        score = self._score(clean_probs, labels, goal)
        success = self._reached(clean_probs, labels, goal)
        tried = torch.zeros(n, dtype=torch.long, device=device)
        recorder = batch.recorder(self.steps + 1, int(clean_probs.shape[1]), self.record)
        recorder(0, rows, clean_probs, -margin_loss(clean_probs, labels, goal),
                 threat.distance(clean, clean))

        def ask(idx: torch.Tensor, sign: float, q: torch.Tensor) -> torch.Tensor:
            """Try ``sign * step * q`` for samples ``idx``; keep what helped. Returns the
            positions (in ``idx``) that did not help."""
            float_x = threat.clip(walked[idx] + sign * step * q, clean[idx])
            image = threat.project(float_x + dither[idx], clean[idx])
            probs = oracle.probabilities(image, idx)
            new = self._score(probs, labels[idx], goal)
            reached = self._reached(probs, labels[idx], goal)
            keep = reached | (new < score[idx])
            take = idx[keep]
            walked[take], best[take], best_probs[take] = float_x[keep], image[keep], probs[keep]
            score[take], success[take] = new[keep], reached[keep]
            return (~keep).nonzero().flatten()

        while True:
            idx = rows[~success & (tried < self.steps) & (oracle.left(rows) > 0)]
            if idx.numel() == 0:
                break
            q = walk.direction(idx, tried[idx], device)
            again = ask(idx, -1.0, q)
            again = again[oracle.left(idx[again]) > 0]
            if again.numel():
                ask(idx[again], 1.0, q[again])
            tried[idx] += 1
            if recorder.enabled:
                for count in sorted(set(tried[idx].tolist())):
                    part = idx[tried[idx] == count]
                    recorder(int(count), part, best_probs[part],
                             -margin_loss(best_probs[part], labels[part], goal),
                             threat.distance(best[part], clean[part]))
        return Outcome(best, success, best_probs, clean_probs, labels, tried,
                       recorder.trajectory(labels))

    @staticmethod
    def _score(probs: torch.Tensor, labels: torch.Tensor, goal: Goal) -> torch.Tensor:
        """What SimBA lowers: the goal class's probability (away), or minus it (toward)."""
        p = probs.float().gather(1, labels[:, None]).squeeze(1)
        return -p if goal.toward else p

    def _reached(self, probs: torch.Tensor, labels: torch.Tensor, goal: Goal) -> torch.Tensor:
        strict = margin_loss(probs, labels, goal) < 0
        return strict & goal.reached_probs(probs, labels, self.confidence)


@register_attack("simba-dct", description="SimBA along low-frequency DCT directions first; "
                 "score-based (Guo et al. 2019)", norms=("l2", "linf"),
                 paper="Guo et al. 2019, arXiv:1905.07121", kind="scores")
@dataclass(frozen=True)
class SimBADCT(SimBA):
    """SimBA in the 2D DCT basis, low frequencies first (see :class:`SimBA`)."""

    name: ClassVar[str] = "simba-dct"
    basis: ClassVar[str] = "dct"
