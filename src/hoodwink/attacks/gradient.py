"""The loop every gradient attack shares, written once.

A gradient attack is a frozen dataclass of hyperparameters that says how to
start and how to take one step (:meth:`GradientAttack.update`); this loop and
the template (:mod:`hoodwink.attacks.engine`) do the rest:

* the threat: the float iterate is kept in the eps ball and the bounds, and the
  image that is *evaluated* is its projection onto the 8-bit grid
  (:meth:`ThreatModel.project`), so success is judged on the image that is
  saved, with the same forward pass that gives the next gradient;
* per-sample early stopping: a sample that has reached the goal leaves the
  batch (the oracle stops counting its passes), while the others go on;
* a trajectory (probabilities of the classes that matter, loss, norm, top-1);
* restarts that retry only the samples not yet fooled, each from a new random
  start drawn from (seed, restart, the image's global index);
* the lean training mode (:meth:`AttackBase.perturb`): the same loop with
  every sample running every step, no trajectory, no grid.

Example:
    >>> attack = PGD(steps=10, restarts=1, seed=0)                 # doctest: +SKIP
    >>> result = attack(model, images, Goal.untargeted(labels), ThreatModel("linf", 8 / 255))
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import partial
from typing import ClassVar

import torch

from hoodwink.attacks.engine import AttackBase, Batch, Outcome, Recorder, mix_seed
from hoodwink.attacks.goals import Goal
from hoodwink.attacks.threat import ThreatModel
from hoodwink.validate import check_bool, check_float, check_int

State = dict[str, torch.Tensor]


@dataclass
class _Run:
    """The outcome of one run of the loop on some samples (internal)."""

    adversarial: torch.Tensor
    success: torch.Tensor
    best_loss: torch.Tensor
    probabilities: torch.Tensor
    steps: torch.Tensor
    labels: torch.Tensor
    clean_logits: torch.Tensor
    recorder: Recorder


@dataclass(frozen=True)
class GradientAttack(AttackBase):
    """Hyperparameters every gradient attack shares, and the shared loop.

    Args:
        steps: update steps per run.
        step_size: size of one step (pixel units for linf, length for l2/l1);
            None picks the attack's default from eps.
        restarts: extra runs, each on the samples not yet fooled only, each from
            a new random start in the ball.
        random_start: start each run from a uniform point in the ball.
        seed: seeds every random draw (never the global RNG).
        batch_size: images per batch.
        confidence: success also needs the winning class at this probability.
        early_stop: a sample leaves the batch as soon as it succeeds. Without
            it every sample runs all steps and returns its last successful
            image; success does not change.
        record: keep a trajectory.
    """

    name: ClassVar[str] = "gradient"
    norms: ClassVar[tuple[str, ...]] = ("linf", "l2")

    steps: int = 10
    step_size: float | None = None
    restarts: int = 0
    random_start: bool = False
    seed: int = 0
    batch_size: int = 32
    confidence: float = 0.0
    early_stop: bool = True
    record: bool = True

    def __post_init__(self) -> None:
        check_int("steps", self.steps)
        if self.step_size is not None:
            check_float("step_size", self.step_size, low=0.0, low_open=True)
        check_int("restarts", self.restarts, low=0)
        check_bool("random_start", self.random_start)
        check_int("seed", self.seed, low=0)
        check_int("batch_size", self.batch_size)
        check_float("confidence", self.confidence, low=0.0, high=1.0, high_open=True)
        check_bool("early_stop", self.early_stop)
        check_bool("record", self.record)

    # --- what an attack says --------------------------------------------------

    def default_step_size(self, threat: ThreatModel) -> float:
        """The step size when none is given: ``2.5 * eps / steps`` (Madry et al. 2018)."""
        return 2.5 * threat.eps / self.steps

    def attack_loss(self, logits: torch.Tensor, labels: torch.Tensor, goal: Goal,
                    state: State) -> torch.Tensor:
        """Per-sample loss (N,) to maximise; the goal's cross-entropy by default."""
        return goal.loss(logits, labels)

    def init_state(self, x: torch.Tensor, clean: torch.Tensor, labels: torch.Tensor,
                   clean_logits: torch.Tensor, threat: ThreatModel, run: int) -> State:
        """Per-sample state (tensors with a leading sample axis) for one run."""
        return {}

    def update(self, x: torch.Tensor, grad: torch.Tensor, *, loss: torch.Tensor, state: State,
               step: int, clean: torch.Tensor, threat: ThreatModel, step_size: float) -> torch.Tensor:
        """One step from the float iterate ``x`` given the gradient of the loss at its
        8-bit projection; the loop projects the result back into the threat."""
        return x + step_size * threat.norm_ops.direction(grad)

    # --- the loop ---------------------------------------------------------------

    def start(self, clean: torch.Tensor, threat: ThreatModel, run: int, index: torch.Tensor,
              generator: torch.Generator | None = None) -> torch.Tensor:
        """The first iterate: the clean images, or a uniform point in the ball
        (always for a restart: rerunning a deterministic start would repeat itself).

        Each sample's draw is seeded by (seed, run, its global index), so batch
        size and sharding do not change it; a ``generator`` (training) draws
        the whole batch from one stream instead.
        """
        if not (self.random_start or run > 0) or threat.eps == 0:
            return clean
        shape = tuple(clean.shape[1:])
        ops = threat.norm_ops
        if generator is not None:
            noise = _random_on(generator, clean, threat)
        else:
            noise = torch.stack([
                ops.random(shape, threat.eps, torch.Generator().manual_seed(
                    mix_seed(self.seed, run, int(p))))
                for p in index.tolist()
            ])
        return threat.clip(clean + noise.to(clean.device, clean.dtype), clean)

    def run(self, batch: Batch) -> Outcome:
        """The loop on one batch, then restarts on the samples not yet fooled."""
        clean, threat, oracle = batch.clean, batch.threat, batch.oracle
        rows = batch.rows
        labels = clean_logits = None
        if self.random_start and threat.eps > 0:  # the start is not the clean image
            clean_logits = oracle.evaluate(clean, rows).logits
            labels = batch.goal.labels(clean_logits)
        best = self._descend(batch, clean, 0, rows, labels, clean_logits)
        for run in range(1, 0 if batch.lean else self.restarts + 1):
            todo = (~best.success).nonzero().flatten()
            if todo.numel() == 0:
                break
            sub = self._descend(batch, clean[todo], run, todo, best.labels[todo],
                                best.clean_logits[todo])
            take = sub.success | (sub.best_loss > best.best_loss[todo])
            better = todo[take]
            best.adversarial[better] = sub.adversarial[take]
            best.success[better] = sub.success[take]
            best.best_loss[better] = sub.best_loss[take]
            best.probabilities[better] = sub.probabilities[take]
            best.steps[todo] += sub.steps
            best.recorder.take(sub.recorder, better, take)
        return Outcome(best.adversarial, best.success, best.probabilities,
                       best.clean_logits.softmax(dim=1), best.labels, best.steps,
                       best.recorder.trajectory(best.labels))

    def _descend(self, batch: Batch, clean: torch.Tensor, run: int, rows: torch.Tensor,
                 labels: torch.Tensor | None, clean_logits: torch.Tensor | None) -> _Run:
        """One run of the loop on ``clean`` (the batch's samples ``rows``) with
        per-sample early stopping."""
        goal, threat, oracle = batch.goal, batch.threat, batch.oracle
        n, device = clean.shape[0], clean.device
        steps = self.steps
        early_stop = self.early_stop and not batch.lean
        record = self.record and not batch.lean
        step_size = self.step_size if self.step_size is not None else self.default_step_size(threat)
        norm_ops = threat.norm_ops
        used = torch.zeros(n, dtype=torch.long, device=device)
        success = torch.zeros(n, dtype=torch.bool, device=device)
        best_loss = torch.full((n,), -math.inf, device=device)
        out = clean.clone()
        out_probs: torch.Tensor | None = None
        recorder: Recorder | None = None

        idx = torch.arange(n, device=device)
        c = clean
        x = self.start(clean, threat, run, batch.index[rows], batch.generator)
        from_clean = x is clean
        state: State | None = None
        lab = labels
        labels_full: torch.Tensor | None = labels
        clean_full: torch.Tensor | None = clean_logits
        for step in range(steps + 1):
            q = threat.project(x, c) if step > 0 or not from_clean else c
            evaluation = oracle.evaluate(q, rows[idx], grad=step < steps)
            logits = evaluation.logits
            if lab is None:  # the first forward is on the clean images
                lab = labels_full = goal.labels(logits)
                clean_logits = clean_full = logits
            assert clean_logits is not None
            if state is None:
                state = self.init_state(x, c, lab, clean_logits, threat, run)
            lv = self.attack_loss(logits, lab, goal, state)
            with torch.no_grad():
                probs = logits.softmax(dim=1)
                if out_probs is None:
                    out_probs = probs.clone()
                    recorder = batch.recorder(steps + 1, probs.shape[1], record, samples=rows)
                assert recorder is not None
                done = goal.reached_probs(probs, lab, self.confidence)
                recorder(step, idx, probs, lv, norm_ops.distance(q - c), images=q)
                # the best try of a sample that does not succeed is a step taken, not its start
                improve = (lv > best_loss[idx]) & ~success[idx] & (step > 0 or not from_clean)
                keep_img = done | improve
                out[idx] = torch.where(keep_img[:, None, None, None], q, out[idx])
                out_probs[idx] = torch.where(keep_img[:, None], probs, out_probs[idx])
                best_loss[idx] = torch.where(improve, lv, best_loss[idx])
                success[idx] |= done
                used[idx] = step
            if step == steps:
                break
            left = int((~done).sum()) if early_stop else len(idx)  # the one sync per step
            if left == 0:
                break
            grad = evaluation.gradient(partial(self.attack_loss, labels=lab, goal=goal, state=state))
            if left < len(idx):  # the fooled images leave the batch
                keep = (~done).nonzero().flatten()
                idx, x, c, lab, grad = idx[keep], x[keep], c[keep], lab[keep], grad[keep]
                clean_logits, lv = clean_logits[keep], lv[keep]
                state = {k: v[keep] for k, v in state.items()}
            with torch.no_grad():
                x = self.update(x.detach(), grad, loss=lv, state=state, step=step, clean=c,
                                threat=threat, step_size=step_size)
                x = threat.clip(x, c)
        assert labels_full is not None and clean_full is not None and out_probs is not None
        assert recorder is not None
        return _Run(out, success, best_loss, out_probs, used, labels_full, clean_full, recorder)


def _random_on(generator: torch.Generator, clean: torch.Tensor, threat: ThreatModel) -> torch.Tensor:
    """A uniform start in the ball for a whole batch, drawn on the generator's device."""
    eps = threat.eps
    if threat.norm == "linf":
        return (torch.rand(clean.shape, generator=generator, device=clean.device) * 2 - 1) * eps
    g = torch.randn(clean.shape, generator=generator, device=clean.device)
    flat = g.reshape(g.shape[0], -1)
    r = torch.rand((clean.shape[0],), generator=generator, device=clean.device) ** (1 / flat.shape[1])
    noise = flat / flat.norm(dim=1, keepdim=True).clamp_min(1e-12) * (eps * r)[:, None]
    return threat.norm_ops.project(noise.reshape(clean.shape), eps)
