"""NES: projected gradient steps on a gradient estimated from scores (Ilyas et al. 2018).

A score-based attack: at the current image it asks the model about ``samples``
random images around it (antithetic Gaussian pairs ``x ± sigma u``) and
estimates the gradient of the goal's log-probability margin from their
answers (natural evolution strategies); then it takes one PGD step along the
estimate (the sign for Linf, the unit direction for L2), projected onto the
threat, and asks about the new image. A sample stops at the query that reaches
the goal, when its budget is spent or after ``steps`` steps.

8-bit honest: every image asked is on the 1/255 grid inside the threat. The
paper's probes (``sigma = 0.001``) are a quarter of an 8-bit level, so each
probe is rounded with a fresh random dither (unbiased rounding) and the
estimate uses the change actually made; a Linf step is a whole number of levels.

Example:
    >>> from hoodwink.attacks import Goal, ThreatModel, get_attack
    >>> result = get_attack("nes")(api_model, images, Goal.targeted("vulture"),
    ...                            ThreatModel("linf", 8 / 255), queries=5000)  # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch

from hoodwink.attacks.engine import AttackBase, Batch, Outcome, mix_seed
from hoodwink.attacks.registry import register_attack
from hoodwink.attacks.square import margin_loss
from hoodwink.attacks.threat import LEVELS, ThreatModel
from hoodwink.validate import check_bool, check_float, check_int

#: Probe images per model call.
_CHUNK = 256


@register_attack("nes", description="PGD on a gradient estimated from the scores of random "
                 "antithetic probes (natural evolution strategies); score-based "
                 "(Ilyas et al. 2018)", norms=("linf", "l2"),
                 paper="Ilyas et al. 2018, arXiv:1804.08598", kind="scores")
@dataclass(frozen=True)
class NES(AttackBase):
    """NES gradient estimation with PGD steps, Linf or L2.

    Args:
        steps: the most PGD steps per image (each costs ``samples + 1`` queries).
        samples: probes per gradient estimate (even: antithetic pairs; the paper's 50).
        sigma: the probes' standard deviation per pixel (the paper's 0.001).
        step_size: the PGD step (None: eps / 5 for Linf, rounded to whole 8-bit levels
            and at least one; eps / 5 for L2).
        batch_size, seed, confidence, record: as for every attack.
    """

    name: ClassVar[str] = "nes"
    norms: ClassVar[tuple[str, ...]] = ("linf", "l2")

    steps: int = 1000
    samples: int = 50
    sigma: float = 0.001
    step_size: float | None = None
    batch_size: int = 32
    seed: int = 0
    confidence: float = 0.0
    record: bool = True

    def __post_init__(self) -> None:
        check_int("steps", self.steps)
        check_int("samples", self.samples, low=2)
        check_float("sigma", self.sigma, low=0.0, low_open=True)
        if self.step_size is not None:
            check_float("step_size", self.step_size, low=0.0, low_open=True)
        check_int("batch_size", self.batch_size)
        check_int("seed", self.seed, low=0)
        check_float("confidence", self.confidence, low=0.0, high=1.0, high_open=True)
        check_bool("record", self.record)

    def _step(self, threat: ThreatModel) -> float:
        size = self.step_size if self.step_size is not None else threat.eps / 5
        if threat.norm == "linf" and threat.quantize:
            return max(1, round(size * LEVELS)) / LEVELS
        return size

    def run(self, batch: Batch) -> Outcome:
        clean, goal, threat, oracle = batch.clean, batch.goal, batch.threat, batch.oracle
        n, device = len(batch), clean.device
        rows = batch.rows
        gens = [torch.Generator().manual_seed(mix_seed(self.seed, 0, int(i)))
                for i in batch.index.tolist()]
        step = self._step(threat)
        shape = tuple(clean.shape[1:])
        clean_probs = oracle.probabilities(clean, rows)
        labels = goal.labels(clean_probs.float().clamp_min(1e-30).log())
        x, probs = clean.clone(), clean_probs.clone()
        value = -margin_loss(probs, labels, goal)              # the margin NES raises
        success = (value > 0) & goal.reached_probs(probs, labels, self.confidence)
        done = torch.zeros(n, dtype=torch.long, device=device)
        recorder = batch.recorder(self.steps + 1, int(probs.shape[1]), self.record)
        recorder(0, rows, probs, value, threat.distance(x, clean))
        last = torch.zeros_like(clean)                       # the last estimate, per sample
        for t in range(1, self.steps + 1):
            idx = rows[~success & (oracle.left(rows) >= 1)]
            if idx.numel() == 0:
                break
            # probes: antithetic pairs, one more when the budget leaves an odd number, none
            # when only the step's own query is left (the step then follows the last estimate)
            counts = [m if m < 2 else m // 2 * 2
                      for m in (oracle.left(idx) - 1).clamp(max=self.samples).tolist()]
            probes, owners, changes = [], [], []
            for j, (r, m) in enumerate(zip(idx.tolist(), counts)):
                if m == 0:
                    continue
                g = gens[r]
                half = torch.randn((max(m // 2, 1), *shape), generator=g)
                u = torch.cat([half, -half])[:m]
                dither = (torch.rand((m, *shape), generator=g) - 0.5) * (0.999 / LEVELS)
                if not threat.quantize:
                    dither.zero_()
                probe = threat.project(x[r].cpu() + self.sigma * u + dither,
                                       clean[r].cpu().expand(m, *shape))
                probes.append(probe)
                changes.append(probe - x[r].cpu())
                owners += [j] * m
            grad = torch.zeros(len(idx), *shape, device=device)
            if probes:
                who = torch.tensor(owners, device=device)
                images = torch.cat(probes).to(device)
                answers = torch.cat([oracle.probabilities(images[k:k + _CHUNK],
                                                          idx[who[k:k + _CHUNK]])
                                     for k in range(0, len(images), _CHUNK)])
                scores = -margin_loss(answers, labels[idx[who]], goal)
                weight = (scores - value[idx[who]]).view(-1, *([1] * len(shape)))
                grad.index_add_(0, who, weight * torch.cat(changes).to(device))
            fresh = torch.tensor([m > 0 for m in counts], device=device)
            grad[~fresh] = last[idx[~fresh]]
            last[idx] = grad
            if threat.norm == "linf":
                move = step * grad.sign()
            else:
                norm = grad.flatten(1).norm(dim=1).clamp_min(1e-12).view(-1, *([1] * len(shape)))
                move = step * grad / norm
            new = threat.project(x[idx] + move, clean[idx])
            p = oracle.probabilities(new, idx)
            x[idx], probs[idx] = new, p
            value[idx] = -margin_loss(p, labels[idx], goal)
            success[idx] = (value[idx] > 0) & goal.reached_probs(p, labels[idx],
                                                                self.confidence)
            done[idx] = t
            recorder(t, idx, p, value[idx], threat.distance(new, clean[idx]))
        return Outcome(x, success, probs, clean_probs, labels, done,
                       recorder.trajectory(labels))
