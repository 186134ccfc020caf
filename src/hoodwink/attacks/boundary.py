"""The Boundary attack: a random walk along the decision boundary (Brendel et al. 2018).

A decision-based attack: it sees only the top-1 label. From an adversarial
start (noise that reaches the goal, pulled toward the clean image by binary
search, as in :mod:`hoodwink.attacks.hopskipjump`), each step proposes

1. a *spherical* candidate: a random Gaussian step of relative size ``spherical``
   orthogonal to the direction to the clean image, put back on the sphere
   around the clean image (same distance), and
2. the *step* candidate: that point moved a fraction ``source`` of its distance
   toward the clean image,

and asks the model about both (two queries). The step candidate is kept when it
is adversarial and closer. Every ``adapt_every`` steps the two step sizes adapt
to their success rates over the last ``window`` tries, as in the paper and
foolbox: above 50% they grow by 1.5, below 20% they shrink by 1.5. The image
returned is the closest adversarial image the model was shown.

8-bit honest: the walk's steps are much smaller than an 8-bit level per pixel,
so each candidate is rounded with a fresh random dither (unbiased rounding);
the rounded image is the one asked about and, when kept, the new point.

Example:
    >>> from hoodwink.attacks import Goal, get_attack
    >>> result = get_attack("boundary")(api_model, images, Goal.untargeted(),
    ...                                 queries=5000)                      # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch

from hoodwink.attacks.engine import AttackBase, Batch, Outcome
from hoodwink.attacks.hopskipjump import _Run
from hoodwink.attacks.minimal import unbounded_threat
from hoodwink.attacks.registry import register_attack
from hoodwink.attacks.threat import LEVELS, ThreatModel
from hoodwink.validate import check_bool, check_float, check_int


@register_attack("boundary", description="a random walk along the decision boundary toward "
                 "the clean image, step sizes adapted to their success rates; decision-based "
                 "(Brendel et al. 2018)", norms=("l2",),
                 paper="Brendel et al. 2018, arXiv:1712.04248", kind="labels")
@dataclass(frozen=True)
class Boundary(AttackBase):
    """The Boundary attack, L2 (a minimal-norm attack within the query budget).

    Args:
        steps: the most steps per image when no query budget is given (two queries
            each); with a budget, the walk goes on until the budget is spent.
        spherical: the first spherical step, relative to the distance (foolbox's 0.01).
        source: the first step toward the clean image, relative to the distance (0.01).
        adapt_every: steps between adaptations of the step sizes.
        window: the tries whose success rate adapts them.
        init_tries: random noise images tried for an adversarial start.
        batch_size, seed, record: as for every attack (the trajectory has a row per step;
            loss and norm: the L2 distance of the best image so far).
    """

    name: ClassVar[str] = "boundary"
    norms: ClassVar[tuple[str, ...]] = ("l2",)

    steps: int = 1000
    spherical: float = 0.01
    source: float = 0.01
    adapt_every: int = 10
    window: int = 30
    init_tries: int = 100
    batch_size: int = 32
    seed: int = 0
    record: bool = True

    def __post_init__(self) -> None:
        check_int("steps", self.steps)
        check_float("spherical", self.spherical, low=0.0, low_open=True)
        check_float("source", self.source, low=0.0, high=1.0, low_open=True, high_open=True)
        check_int("adapt_every", self.adapt_every)
        check_int("window", self.window)
        check_int("init_tries", self.init_tries)
        check_int("batch_size", self.batch_size)
        check_int("seed", self.seed, low=0)
        check_bool("record", self.record)

    def default_threat(self, images: torch.Tensor) -> ThreatModel:
        """No eps bound: only the pixel box and the 8-bit grid (L2)."""
        return unbounded_threat("l2", images)

    def run(self, batch: Batch) -> Outcome:
        run = _Run(self, batch)
        budget = batch.oracle.budget
        steps = self.steps if budget is None else budget // 2 + 1
        first, k, already, found, point, recorder = run.begin(steps)
        n, device, clean = run.n, run.device, run.clean
        shape = tuple(clean.shape[1:])
        ones = (-1,) + (1,) * len(shape)
        rows = torch.arange(n, device=device)
        spherical = torch.full((n,), self.spherical, device=device)
        source = torch.full((n,), self.source, device=device)
        sph_hits = torch.zeros(n, self.window, device=device)
        step_hits = torch.zeros(n, self.window, device=device)
        used = torch.zeros(n, dtype=torch.long, device=device)
        for t in range(1, steps + 1):
            idx = rows[found & ~already & (run.left(rows) >= 2)]
            if idx.numel() == 0:
                break
            x0, x = clean[idx], point[idx]
            diff = x - x0
            dist = diff.flatten(1).norm(dim=1).clamp_min(1e-12)
            eta = torch.stack([torch.randn(shape, generator=run.gens[int(r)])
                               for r in idx.tolist()]).to(device)
            unit = diff / dist.view(ones)
            eta = eta - (eta * unit).flatten(1).sum(1).view(ones) * unit    # orthogonal
            eta = eta / eta.flatten(1).norm(dim=1).clamp_min(1e-12).view(ones)
            eta = eta * (spherical[idx] * dist).view(ones)
            moved = diff + eta
            sphere = x0 + moved * (dist / moved.flatten(1).norm(dim=1).clamp_min(1e-12)
                                   ).view(ones)
            step = sphere + source[idx].view(ones) * (x0 - sphere)
            cand_sphere = self._round(run, sphere, idx)
            cand_step = self._round(run, step, idx)
            hits = run.ask(torch.cat([cand_sphere, cand_step]), torch.cat([idx, idx]))
            hit_sphere, hit_step = hits[: len(idx)], hits[len(idx):]
            closer = run.threat.distance(cand_step, x0) < dist
            keep = hit_step & closer
            point[idx[keep]] = cand_step[keep]
            column = (t - 1) % self.window
            sph_hits[idx, column] = hit_sphere.float()
            step_hits[idx, column] = hit_step.float()
            if t % self.adapt_every == 0 and t >= self.window:
                rate_sph = sph_hits[idx].mean(dim=1)
                rate_step = step_hits[idx].mean(dim=1)
                spherical[idx] *= torch.where(rate_sph > 0.5, 1.5,
                                              torch.where(rate_sph < 0.2, 1 / 1.5, 1.0))
                source[idx] *= torch.where(rate_step > 0.5, 1.5,
                                           torch.where(rate_step < 0.2, 1 / 1.5, 1.0))
                source.clamp_(max=0.5)
            used[idx] = t
            run._record(recorder, t, idx, k)
        return run.finish(first, k, used, recorder)

    @staticmethod
    def _round(run: _Run, x: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
        """Onto the threat and the 8-bit grid with a fresh dither (unbiased rounding)."""
        if not run.threat.quantize:
            return run.project(x, idx)
        shape = tuple(x.shape[1:])
        dither = torch.stack([(torch.rand(shape, generator=run.gens[int(r)]) - 0.5)
                              for r in idx.tolist()]).to(x.device) * (0.999 / LEVELS)
        return run.project(x + dither, idx)
