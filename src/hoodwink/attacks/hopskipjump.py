"""HopSkipJump: the smallest L2 change found by asking only for labels (Chen et al. 2020).

A decision-based attack: it sees nothing but the model's top-1 label
(:meth:`Oracle.labels`), so it works against an API that answers with a class
name only. From an adversarial starting point (uniform noise that already
reaches the goal, pulled toward the clean image by a binary search), each
iteration

1. finds the boundary between the clean image and the current point by binary search;
2. estimates the gradient direction of the decision at the boundary from the
   labels of ``init_evals * sqrt(t)`` random probes around it (the
   baseline-corrected Monte Carlo estimate of the paper);
3. steps along it by ``distance / sqrt(t)``, halved until the point is
   adversarial again (geometric progression), and returns to step 1.

The image returned is the closest adversarial image the model was shown; a
sample stops when its budget (``queries``) or its ``steps`` iterations are spent.
The threat's eps is an upper bound, as for every minimal-norm attack
(:mod:`hoodwink.attacks.minimal`); without a threat only the pixel box bounds it.

8-bit honest: every image asked is on the 1/255 grid inside the threat. The
paper balances two scales: its binary search goes down to ``theta = gamma /
d^1.5`` of the segment and its probes have the radius ``delta = gamma *
distance / d = sqrt(d) * theta * distance``, so that a random probe's component
along the boundary's normal (about ``delta / sqrt(d)``) matches the distance the
search leaves between the point and the boundary, and the probes land on both
sides. No 8-bit image comes that close, so both scales are set on the grid: the
binary search goes on until its two ends differ by about 32 pixel levels in all
(``_FLIPS``), the probes are centred on the middle of its last interval (where
the boundary is expected; the step still starts from the adversarial end), and
their radius is ``4 * sqrt(d)`` times the L2 gap it leaves (``_PROBE``; never
less than the paper's). The earlier rule (stop at half a level per pixel, probe
the adversarial end with twice the gap) left the point far from the boundary:
94-100% of the probes landed on the adversarial side, an estimate of nothing
(a linear model, d = 3072, 1500 queries: 4.3x and 5.3x the minimal L2; 3.0x
now, with 39-79% of the probes on either side).
Rounding would still return the point itself for most pixels; so each probe gets
a fresh random dither (uniform in ±0.5 levels per pixel, seeded) before it is
rounded, which makes the rounded probe an unbiased 8-bit version of the
paper's, and the estimate uses the change actually made.

With labels only, the result's probabilities are one-hot (the label answered).

Example:
    >>> from hoodwink.attacks import Goal, get_attack
    >>> result = get_attack("hopskipjump")(api_model, images, Goal.untargeted(),
    ...                                    queries=2000)                   # doctest: +SKIP
    >>> result.l2[result.success].median()                                 # doctest: +SKIP
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar

import torch
import torch.nn.functional as F

from hoodwink.attacks.engine import AttackBase, Batch, Outcome, Recorder, mix_seed
from hoodwink.attacks.minimal import unbounded_threat
from hoodwink.attacks.oracle import num_classes
from hoodwink.attacks.registry import register_attack
from hoodwink.attacks.threat import LEVELS, ThreatModel
from hoodwink.validate import check_bool, check_float, check_int

#: Queries kept back for the step search and the binary search of an iteration.
_RESERVE = 12
#: Halvings of the step before an iteration gives up on moving.
_HALVINGS = 10
#: Rounds of a binary search at most.
_BISECTIONS = 40
#: Probe images per model call (several probes of one sample may share a call).
_CHUNK = 256
#: An 8-bit binary search stops when its ends differ by about this many pixel levels.
_FLIPS = 32
#: The probe radius is this many times sqrt(d) times the L2 gap the binary search leaves.
_PROBE = 4.0


@register_attack("hopskipjump", description="the smallest L2 change from labels only: binary "
                 "search to the boundary, gradient direction from random probes, geometric "
                 "steps; decision-based (Chen et al. 2020)", norms=("l2",),
                 paper="Chen et al. 2020, arXiv:1904.02144", kind="labels")
@dataclass(frozen=True)
class HopSkipJump(AttackBase):
    """HopSkipJump, L2 (a minimal-norm attack within the query budget).

    Args:
        steps: the most iterations per image (the paper's 40).
        gamma: sets the probe radius, ``gamma * distance / d`` (the paper's 1.0).
        init_evals: probes of the first gradient estimate (``* sqrt(t)`` after).
        max_evals: the most probes of one estimate.
        init_tries: random noise images tried for an adversarial start.
        batch_size, seed, record: as for every attack (the trajectory has a row per
            iteration; loss and norm: the L2 distance of the best image so far).
    """

    name: ClassVar[str] = "hopskipjump"
    norms: ClassVar[tuple[str, ...]] = ("l2",)

    steps: int = 40
    gamma: float = 1.0
    init_evals: int = 100
    max_evals: int = 10000
    init_tries: int = 100
    batch_size: int = 32
    seed: int = 0
    record: bool = True

    def __post_init__(self) -> None:
        check_int("steps", self.steps)
        check_float("gamma", self.gamma, low=0.0, low_open=True)
        check_int("init_evals", self.init_evals)
        check_int("max_evals", self.max_evals)
        check_int("init_tries", self.init_tries)
        check_int("batch_size", self.batch_size)
        check_int("seed", self.seed, low=0)
        check_bool("record", self.record)

    def default_threat(self, images: torch.Tensor) -> ThreatModel:
        """No eps bound: only the pixel box and the 8-bit grid (L2)."""
        return unbounded_threat("l2", images)

    def run(self, batch: Batch) -> Outcome:
        return _Run(self, batch).go()


class _Run:
    """One batch of HopSkipJump, every sample in lockstep (each with its own budget); the
    Boundary attack shares its start, its asking and its binary search."""

    def __init__(self, attack: Any, batch: Batch) -> None:
        self.attack, self.batch = attack, batch
        self.clean, self.threat, self.oracle = batch.clean, batch.threat, batch.oracle
        self.n, self.device = len(batch), batch.clean.device
        self.d = int(batch.clean[0].numel())
        self.gens = [torch.Generator().manual_seed(mix_seed(attack.seed, 0, int(i)))
                     for i in batch.index.tolist()]
        self.best = batch.clean.clone()
        self.best_dist = torch.full((self.n,), math.inf, device=self.device)
        self.best_label = torch.zeros(self.n, dtype=torch.long, device=self.device)
        self.labels = torch.zeros(self.n, dtype=torch.long, device=self.device)
        self.toward = batch.goal.toward
        lo, hi = self.threat.bounds
        self.width = hi - lo
        self.gap = torch.zeros(self.n, device=self.device)   # L2 left by the binary search
        self.middle = batch.clean.clone()      # the middle of its last interval (off the grid)

    # --- asking ------------------------------------------------------------------------

    def ask(self, images: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
        """Labels of 8-bit ``images`` (rows ``idx`` may repeat); keeps the closest
        adversarial image of each sample. Returns (len(idx),) bool: adversarial."""
        out = []
        for start in range(0, len(idx), _CHUNK):
            part = slice(start, start + _CHUNK)
            out.append(self.oracle.labels(images[part], idx[part]))
        answer = torch.cat(out) if out else torch.zeros(0, dtype=torch.long, device=self.device)
        hit = answer == self.labels[idx]
        adversarial = hit if self.toward else ~hit
        dist = self.threat.distance(images, self.clean[idx])
        closer = (adversarial & (dist < self.best_dist[idx])).nonzero().flatten()
        for j in closer.tolist():          # in order, so the closest probe of a sample wins
            r = int(idx[j])
            if float(dist[j]) < float(self.best_dist[r]):
                self.best[r], self.best_dist[r], self.best_label[r] = images[j], dist[j], answer[j]
        return adversarial

    def left(self, idx: torch.Tensor) -> torch.Tensor:
        return self.oracle.left(idx)

    def project(self, x: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
        return self.threat.project(x, self.clean[idx])

    # --- the algorithm -----------------------------------------------------------------

    def begin(self, steps: int | None = None) -> tuple[torch.Tensor, int, torch.Tensor,
                                                      torch.Tensor, torch.Tensor, Recorder]:
        """The clean labels, the number of classes, the samples already adversarial, those
        with a start, the starts (on the boundary) and the recorder (``steps`` + 1 rows;
        default: the attack's steps)."""
        attack, clean, oracle = self.attack, self.clean, self.oracle
        rows = torch.arange(self.n, device=self.device)
        first = oracle.labels(clean, rows)
        k = num_classes(oracle.model) or 0
        k = max(k, int(first.max()) + 1, *(c + 1 for c in (self.batch.goal.classes or ())))
        self.labels = self.batch.goal.labels(F.one_hot(first, k).float())
        self.best_label = first.clone()
        hit = first == self.labels
        already = hit if self.toward else ~hit
        self.best_dist[already] = 0.0
        recorder = self.batch.recorder((attack.steps if steps is None else steps) + 1, k, attack.record)

        # the start: uniform noise that reaches the goal, then pulled toward the clean image
        point = clean.clone()
        found = already.clone()
        noise = clean.clone()
        for _ in range(attack.init_tries):
            idx = rows[~found & (self.left(rows) > 0)]
            if idx.numel() == 0:
                break
            trial = self.project(self._uniform(idx), idx)
            ok = self.ask(trial, idx)
            noise[idx[ok]], found[idx[ok]] = trial[ok], True
        start = rows[found & ~already]
        if start.numel():
            point[start] = self._bisect(noise[start], start)
        self._record(recorder, 0, rows, k)
        return first, k, already, found, point, recorder

    def finish(self, first: torch.Tensor, k: int, used: torch.Tensor, recorder: Recorder
               ) -> Outcome:
        """The closest adversarial image shown of each sample (one-hot answers)."""
        success = self.best_dist < math.inf
        probs = F.one_hot(self.best_label, k).float()
        return Outcome(self.best, success, probs, F.one_hot(first, k).float(), self.labels,
                       used, recorder.trajectory(self.labels))

    def go(self) -> Outcome:
        attack, clean = self.attack, self.clean
        rows = torch.arange(self.n, device=self.device)
        first, k, already, found, point, recorder = self.begin()
        used = torch.zeros(self.n, dtype=torch.long, device=self.device)

        for t in range(1, attack.steps + 1):
            idx = rows[found & ~already & (self.left(rows) > _RESERVE + 1)]
            if idx.numel() == 0:
                break
            base = point[idx]
            dist = self.threat.distance(base, clean[idx])
            delta = torch.full_like(dist, 0.1 * self.width) if t == 1 \
                else torch.maximum(attack.gamma * dist / self.d, _PROBE * self.gap[idx] * math.sqrt(self.d))
            evals = min(int(attack.init_evals * math.sqrt(t)), attack.max_evals)
            counts = (self.left(idx) - _RESERVE).clamp(max=evals)
            # probed around where the boundary is expected: the middle of the search's interval
            direction = self._gradient(self.middle[idx], idx, delta, counts)
            # geometric progression: from distance / sqrt(t), halved until adversarial
            eps = dist / math.sqrt(t)
            moved = base.clone()
            todo = torch.arange(len(idx), device=self.device)
            for _ in range(_HALVINGS):
                todo = todo[self.left(idx[todo]) > 0]
                if todo.numel() == 0:
                    break
                trial = self.project(base[todo] + eps[todo].view(-1, 1, 1, 1) * direction[todo],
                                     idx[todo])
                ok = self.ask(trial, idx[todo])
                moved[todo[ok]] = trial[ok]
                eps[todo[~ok]] /= 2
                todo = todo[~ok]
                if todo.numel() == 0:
                    break
            point[idx] = self._bisect(moved, idx)
            used[idx] = t
            self._record(recorder, t, idx, k)

        return self.finish(first, k, used, recorder)

    def _record(self, recorder: Recorder, row: int, idx: torch.Tensor, k: int) -> None:
        if recorder.enabled and idx.numel():
            dist = self.best_dist[idx].clone()
            dist[torch.isinf(dist)] = math.nan
            recorder(row, idx, F.one_hot(self.best_label[idx], k).float(), dist, dist)

    def _uniform(self, idx: torch.Tensor) -> torch.Tensor:
        lo, hi = self.threat.bounds
        shape = tuple(self.clean.shape[1:])
        return torch.stack([torch.rand(shape, generator=self.gens[int(r)]) * (hi - lo) + lo
                            for r in idx.tolist()]).to(self.device)

    def _bisect(self, adversarial: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
        """The 8-bit image on the segment from the clean image to ``adversarial`` closest
        to the clean one that is still adversarial (its ends differ by under a level)."""
        clean = self.clean[idx]
        low = torch.zeros(len(idx), device=self.device)
        high = torch.ones(len(idx), device=self.device)
        out = adversarial.clone()
        if self.threat.quantize:      # the pixel levels between the ends, summed
            span = (adversarial - clean).flatten(1).abs().sum(dim=1)
            tolerance = _FLIPS / LEVELS
        else:                         # the paper's theta, on the blend
            span = torch.ones(len(idx), device=self.device)
            tolerance = getattr(self.attack, "gamma", 1.0) / self.d ** 1.5
        for _ in range(_BISECTIONS):
            todo = ((high - low) * span > tolerance) & (self.left(idx) > 0)
            todo = todo.nonzero().flatten()
            if todo.numel() == 0:
                break
            mid = (low[todo] + high[todo]) / 2
            m = mid.view(-1, 1, 1, 1)
            trial = self.project((1 - m) * clean[todo] + m * adversarial[todo], idx[todo])
            ok = self.ask(trial, idx[todo])
            high[todo[ok]] = mid[ok]
            out[todo[ok]] = trial[ok]
            low[todo[~ok]] = mid[~ok]
        self.gap[idx] = (high - low) * (adversarial - clean).flatten(1).norm(dim=1)
        m = ((low + high) / 2).view(-1, 1, 1, 1)
        self.middle[idx] = (1 - m) * clean + m * adversarial
        return out

    def _gradient(self, base: torch.Tensor, idx: torch.Tensor, delta: torch.Tensor,
                  counts: torch.Tensor) -> torch.Tensor:
        """(m, C, H, W) unit estimate of the decision's gradient direction at ``base``: the
        baseline-corrected mean of the probes' changes weighted by +1 (adversarial) or -1."""
        shape = tuple(base.shape[1:])
        probes, rows, owner = [], [], []
        for j, (r, b) in enumerate(zip(idx.tolist(), counts.tolist())):
            if b <= 0:
                continue
            g = self.gens[r]
            u = torch.randn((b, *shape), generator=g)
            u = u / u.flatten(1).norm(dim=1).clamp_min(1e-12).view(-1, *([1] * len(shape)))
            dither = (torch.rand((b, *shape), generator=g) - 0.5) * (0.999 / LEVELS)
            if not self.threat.quantize:
                dither.zero_()
            probes.append(base[j].cpu() + float(delta[j]) * u + dither)
            rows += [r] * b
            owner += [j] * b
        direction = torch.zeros_like(base)
        if not probes:
            return direction
        who = torch.tensor(owner, device=self.device)
        at = torch.tensor(rows, device=self.device)
        images = self.project(torch.cat(probes).to(self.device), at)
        adversarial = self.ask(images, at)
        change = images - base[who]
        sign = adversarial.float() * 2 - 1
        for j in range(len(idx)):
            mine = who == j
            if not bool(mine.any()):
                continue
            f, r = sign[mine], change[mine]
            mean = float(f.mean())
            if abs(mean) == 1.0:               # all on one side: the mean change, signed
                est = mean * r.mean(dim=0)
            else:
                est = ((f - mean).view(-1, *([1] * len(shape))) * r).mean(dim=0)
            direction[j] = est / est.norm().clamp_min(1e-12)
        return direction

