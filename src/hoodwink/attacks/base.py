"""The loop every gradient attack shares, written once.

An attack is a frozen dataclass of hyperparameters that says how to start and
how to take one step (:meth:`GradientAttack.update`); the engine does the rest:

* the threat: the float iterate is kept in the eps ball and the bounds, and the
  image that is *evaluated* is its projection onto the 8-bit grid
  (:meth:`ThreatModel.project`), so success is judged on the image that is
  saved, with the same forward pass that gives the next gradient;
* per-sample early stopping: a sample that has reached the goal leaves the
  batch (its passes stop being counted), while the others go on;
* honest cost: forward and backward passes counted per sample;
* a trajectory (probabilities of the classes that matter, loss, norm, top-1);
* restarts that retry only the samples not yet fooled;
* batching by ``batch_size`` and seeds through :class:`torch.Generator` (the
  random start of the sample at position ``i`` depends only on ``seed``, the
  restart and ``i``, so batch size does not change results);
* a lean path for adversarial training, :meth:`GradientAttack.perturb`.

Example:
    >>> attack = PGD(steps=10, restarts=1, seed=0)                 # doctest: +SKIP
    >>> result = attack(model, images, Goal.untargeted(labels), ThreatModel("linf", 8 / 255))
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from torch import nn

from hoodwink.attacks.goals import Goal
from hoodwink.attacks.result import AttackResult, Trajectory
from hoodwink.attacks.threat import ThreatModel
from hoodwink.errors import ParameterError
from hoodwink.models.labels import Labels

State = dict[str, torch.Tensor]

#: Full per-step probabilities are kept while (steps + 1) * batch * classes is below this.
MAX_RECORD = 1 << 26


def prepare_images(model: nn.Module, images: torch.Tensor) -> torch.Tensor:
    """(N, C, H, W) float images at the model's input size, on the model's device."""
    if not isinstance(images, torch.Tensor):
        raise ParameterError(f"images must be a tensor (N, C, H, W), not {type(images).__name__}")
    if images.dim() == 3:
        images = images.unsqueeze(0)
    if images.dim() != 4:
        raise ParameterError(f"images must be (N, C, H, W), got shape {tuple(images.shape)}")
    device = getattr(model, "device", None)
    if isinstance(device, torch.device):
        images = images.to(device)
    images = images.detach().float()
    prepare = getattr(model, "prepare", None)
    return prepare(images) if callable(prepare) else images


def model_labels(model: nn.Module, num_classes: int) -> Labels:
    labels = getattr(model, "labels", None)
    return labels if isinstance(labels, Labels) else Labels.from_names(str(i) for i in range(num_classes))


def _mix(seed: int, run: int, position: int) -> int:
    return ((seed * 1_000_003 + run) * 1_000_033 + position) % (1 << 62)


@dataclass
class _Run:
    """The outcome of one run of the loop on some samples (internal)."""

    adversarial: torch.Tensor
    success: torch.Tensor
    best_loss: torch.Tensor
    probabilities: torch.Tensor
    forward: torch.Tensor
    backward: torch.Tensor
    steps: torch.Tensor
    labels: torch.Tensor
    clean_logits: torch.Tensor
    record_probs: torch.Tensor | None
    record_loss: torch.Tensor
    record_norm: torch.Tensor
    record_top1: torch.Tensor


@dataclass(frozen=True)
class GradientAttack:
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
        if isinstance(self.steps, bool) or not isinstance(self.steps, int) or self.steps < 1:
            raise ParameterError(f"steps must be a positive integer, not {self.steps!r}")
        if self.step_size is not None and not (math.isfinite(self.step_size) and self.step_size > 0):
            raise ParameterError(f"step_size must be a positive number, not {self.step_size!r}")
        if not isinstance(self.restarts, int) or self.restarts < 0:
            raise ParameterError(f"restarts must be a non-negative integer, not {self.restarts!r}")
        if not isinstance(self.batch_size, int) or self.batch_size < 1:
            raise ParameterError(f"batch_size must be a positive integer, not {self.batch_size!r}")
        if not 0.0 <= self.confidence < 1.0:
            raise ParameterError(f"confidence is a probability in [0, 1), not {self.confidence!r}")

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
        8-bit projection; the engine projects the result back into the threat."""
        return x + step_size * threat.norm_ops.direction(grad)

    # --- the engine -------------------------------------------------------------

    def _check(self, threat: ThreatModel) -> None:
        if threat.norm not in self.norms:
            raise ParameterError(
                f"attack {self.name!r} supports the norms {', '.join(self.norms)}, not {threat.norm!r}")

    def params(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}

    def start(self, clean: torch.Tensor, threat: ThreatModel, run: int,
              positions: torch.Tensor) -> torch.Tensor:
        """The first iterate: the clean images, or a uniform point in the ball
        (always for a restart: rerunning a deterministic start would repeat itself)."""
        if not (self.random_start or run > 0) or threat.eps == 0:
            return clean
        shape = tuple(clean.shape[1:])
        noise = torch.stack([
            threat.norm_ops.random(shape, threat.eps,
                                   torch.Generator().manual_seed(_mix(self.seed, run, int(p))))
            for p in positions.tolist()
        ]).to(clean.device, clean.dtype)
        return threat.clip(clean + noise, clean)

    def __call__(self, model: nn.Module, images: torch.Tensor, goal: Goal | None = None,
                 threat: ThreatModel | None = None) -> AttackResult:
        """Attack ``images`` (N, C, H, W) in [0, 1]; returns an :class:`AttackResult`."""
        goal = Goal.untargeted() if goal is None else goal
        threat = ThreatModel() if threat is None else threat
        self._check(threat)
        images = prepare_images(model, images)
        lo, hi = threat.bounds
        if images.numel() and (float(images.min()) < lo - 1e-6 or float(images.max()) > hi + 1e-6):
            raise ParameterError(f"images must lie inside the bounds {threat.bounds}")
        clean = threat.project(images, images) if threat.quantize else images
        n = clean.shape[0]
        if goal.classes is not None and len(goal.classes) not in (1, n):
            raise ParameterError(f"the goal has {len(goal.classes)} classes for {n} images")
        parts = []
        for start in range(0, n, self.batch_size):
            stop = min(n, start + self.batch_size)
            sub_goal = goal
            if goal.classes is not None and len(goal.classes) == n and n > 1:
                sub_goal = Goal(goal.kind, goal.toward, goal.classes[start:stop])
            parts.append(self._batch(model, clean[start:stop], sub_goal, threat, start))
        return self._assemble(model, parts, clean, goal, threat)

    def _batch(self, model: nn.Module, clean: torch.Tensor, goal: Goal, threat: ThreatModel,
               offset: int) -> _Run:
        positions = torch.arange(offset, offset + clean.shape[0])
        clean_logits = labels = None
        extra_forward = 0
        if self.random_start and threat.eps > 0:
            with torch.no_grad():
                clean_logits = model(clean).float()
            labels = goal.labels(clean_logits)
            extra_forward = 1
        best = self._descend(model, clean, goal, threat, 0, positions, labels, clean_logits)
        best.forward += extra_forward
        for run in range(1, self.restarts + 1):
            todo = (~best.success).nonzero().flatten()
            if todo.numel() == 0:
                break
            sub = self._descend(model, clean[todo], goal, threat, run, positions[todo.cpu()],
                                best.labels[todo], best.clean_logits[todo])
            take = sub.success | (sub.best_loss > best.best_loss[todo])
            rows = todo[take]
            best.adversarial[rows] = sub.adversarial[take]
            best.success[rows] = sub.success[take]
            best.best_loss[rows] = sub.best_loss[take]
            best.probabilities[rows] = sub.probabilities[take]
            best.forward[todo] += sub.forward
            best.backward[todo] += sub.backward
            best.steps[todo] += sub.steps
            if best.record_probs is not None and sub.record_probs is not None:
                best.record_probs[:, rows] = sub.record_probs[:, take]
            best.record_loss[:, rows] = sub.record_loss[:, take]
            best.record_norm[:, rows] = sub.record_norm[:, take]
            best.record_top1[:, rows] = sub.record_top1[:, take]
        return best

    def _descend(self, model: nn.Module, clean: torch.Tensor, goal: Goal, threat: ThreatModel,
                 run: int, positions: torch.Tensor, labels: torch.Tensor | None,
                 clean_logits: torch.Tensor | None) -> _Run:
        """One run of the loop on ``clean`` (n samples) with per-sample early stopping."""
        n, device = clean.shape[0], clean.device
        steps = self.steps
        step_size = self.step_size if self.step_size is not None else self.default_step_size(threat)
        norm_ops = threat.norm_ops
        forward = torch.zeros(n, dtype=torch.long, device=device)
        backward = torch.zeros(n, dtype=torch.long, device=device)
        used = torch.zeros(n, dtype=torch.long, device=device)
        success = torch.zeros(n, dtype=torch.bool, device=device)
        best_loss = torch.full((n,), -math.inf, device=device)
        out = clean.clone()
        out_probs: torch.Tensor | None = None
        rec_loss = torch.full((steps + 1, n), math.nan, device=device)
        rec_norm = torch.full((steps + 1, n), math.nan, device=device)
        rec_top1 = torch.full((steps + 1, n), -1, dtype=torch.long, device=device)
        rec_probs: torch.Tensor | None = None

        idx = torch.arange(n, device=device)
        c = clean
        x = self.start(clean, threat, run, positions)
        state: State | None = None
        lab = labels
        labels_full: torch.Tensor | None = None
        clean_full: torch.Tensor | None = None
        for step in range(steps + 1):
            q = threat.project(x, c) if step > 0 or x is not c else c
            need_grad = step < steps
            with torch.enable_grad():
                q_in = q.detach().requires_grad_(need_grad)
                logits = model(q_in)
            forward[idx] += 1
            detached = logits.detach().float()
            if lab is None:  # first forward on the clean images
                lab = goal.labels(detached)
                clean_logits = detached
            assert clean_logits is not None
            if labels_full is None:
                labels_full, clean_full = lab, clean_logits
            if state is None:
                state = self.init_state(x, c, lab, clean_logits, threat, run)
            loss = self.attack_loss(logits.float(), lab, goal, state)
            with torch.no_grad():
                probs = detached.softmax(dim=1)
                if out_probs is None:
                    out_probs = probs.new_zeros((n, probs.shape[1]))
                    out_probs[idx] = probs
                    if self.record and (steps + 1) * n * probs.shape[1] <= MAX_RECORD:
                        rec_probs = torch.full((steps + 1, n, probs.shape[1]), math.nan, device=device)
                done = goal.reached_probs(probs, lab, self.confidence)
                lv = loss.detach()
                if self.record:
                    rec_loss[step, idx] = lv
                    rec_norm[step, idx] = norm_ops.distance(q - c)
                    rec_top1[step, idx] = probs.argmax(dim=1)
                    if rec_probs is not None:
                        rec_probs[step, idx] = probs
                improve = (lv > best_loss[idx]) & ~success[idx]
                keep_img = done | improve
                out[idx] = torch.where(keep_img[:, None, None, None], q, out[idx])
                out_probs[idx] = torch.where(keep_img[:, None], probs, out_probs[idx])
                best_loss[idx] = torch.where(improve, lv, best_loss[idx])
                success[idx] |= done
                used[idx] = step
            if step == steps:
                break
            left = int((~done).sum()) if self.early_stop else len(idx)  # the one sync per step
            if left == 0:
                break
            grad = torch.autograd.grad(loss.sum(), q_in)[0]
            backward[idx] += 1  # every image in the batch went through this backward pass
            loss = lv
            if left < len(idx):  # the fooled images leave the batch
                keep = (~done).nonzero().flatten()
                idx, x, c, lab, grad = idx[keep], x[keep], c[keep], lab[keep], grad[keep]
                clean_logits, loss = clean_logits[keep], lv[keep]
                state = {k: v[keep] for k, v in state.items()}
            with torch.no_grad():
                x = self.update(x.detach(), grad, loss=loss, state=state, step=step, clean=c,
                                threat=threat, step_size=step_size)
                x = threat.clip(x, c)
        assert labels_full is not None and clean_full is not None and out_probs is not None
        return _Run(out, success, best_loss, out_probs, forward, backward, used, labels_full,
                    clean_full, rec_probs, rec_loss, rec_norm, rec_top1)

    def _assemble(self, model: nn.Module, parts: list[_Run], clean: torch.Tensor, goal: Goal,
                  threat: ThreatModel) -> AttackResult:
        cat = torch.cat
        adversarial = cat([p.adversarial for p in parts])
        num_classes = parts[0].clean_logits.shape[1]
        trajectory = None
        if self.record:
            trajectory = Trajectory.concat([_trajectory(p) for p in parts])
        return AttackResult.build(
            attack=self.name, params=self.params(), threat=threat, goal=goal,
            names=model_labels(model, num_classes), original=clean, adversarial=adversarial,
            goal_classes=cat([p.labels for p in parts]), success=cat([p.success for p in parts]),
            clean_probabilities=cat([p.clean_logits.softmax(dim=1) for p in parts]),
            adversarial_probabilities=cat([p.probabilities for p in parts]),
            forward=cat([p.forward for p in parts]), backward=cat([p.backward for p in parts]),
            steps=cat([p.steps for p in parts]), trajectory=trajectory,
        )

    # --- the lean path ------------------------------------------------------------

    def perturb(self, model: nn.Module, images: torch.Tensor, goal: Goal | None = None,
                threat: ThreatModel | None = None, *,
                generator: torch.Generator | None = None) -> torch.Tensor:
        """Adversarial images for training: no trajectory, no early stop, no grid.

        Every sample runs all ``steps`` (one run, no restarts); the result is in
        the ball and the bounds but not quantised. ``generator`` (on the images'
        device) draws the random start; by default one seeded with ``seed``.

        Example:
            >>> x_adv = FGSM(random_start=True, step_size=1.25 * 8 / 255).perturb(
            ...     net, x, Goal.untargeted(y), ThreatModel("linf", 8 / 255))   # doctest: +SKIP
        """
        goal = Goal.untargeted() if goal is None else goal
        threat = ThreatModel() if threat is None else threat
        self._check(threat)
        clean = images.detach()
        step_size = self.step_size if self.step_size is not None else self.default_step_size(threat)
        if goal.classes is None:
            with torch.no_grad():
                clean_logits = model(clean).float()
        else:
            clean_logits = clean.new_zeros((clean.shape[0], max(goal.classes) + 1))
        labels = goal.labels(clean_logits)
        x = clean
        if self.random_start and threat.eps > 0:
            if generator is None:
                generator = torch.Generator(clean.device).manual_seed(self.seed)
            x = self._random_batch(clean, threat, generator)
        state: State | None = None
        for step in range(self.steps):
            with torch.enable_grad():
                x_in = x.detach().requires_grad_(True)
                logits = model(x_in)
                if state is None:
                    state = self.init_state(x, clean, labels, clean_logits, threat, 0)
                loss = self.attack_loss(logits, labels, goal, state)
                grad = torch.autograd.grad(loss.sum(), x_in)[0]
            with torch.no_grad():
                x = self.update(x_in.detach(), grad, loss=loss.detach(), state=state, step=step,
                                clean=clean, threat=threat, step_size=step_size)
                x = threat.clip(x, clean)
        return x.detach()

    def _random_batch(self, clean: torch.Tensor, threat: ThreatModel,
                      generator: torch.Generator) -> torch.Tensor:
        """A uniform start in the ball for a whole batch with one generator (lean path)."""
        eps = threat.eps
        if threat.norm == "linf":
            noise = (torch.rand(clean.shape, generator=generator, device=clean.device,
                                dtype=clean.dtype) * 2 - 1) * eps
        else:
            g = torch.randn(clean.shape, generator=generator, device=clean.device, dtype=clean.dtype)
            d = g[0].numel()
            r = torch.rand((clean.shape[0],), generator=generator, device=clean.device) ** (1 / d)
            flat = g.reshape(g.shape[0], -1)
            noise = (flat / flat.norm(dim=1, keepdim=True).clamp_min(1e-12) * (eps * r)[:, None])
            noise = threat.norm_ops.project(noise.reshape(clean.shape), eps)
        return threat.clip(clean + noise, clean)


def _trajectory(run: _Run) -> Trajectory:
    top1 = run.record_top1
    classes = set(run.labels.tolist()) | set(torch.unique(top1[top1 >= 0]).tolist())
    ordered = tuple(sorted(classes))
    if run.record_probs is not None:
        index = torch.tensor(ordered, dtype=torch.long, device=run.record_probs.device)
        probs = run.record_probs.index_select(2, index)
    else:
        probs = run.record_loss.new_full(run.record_loss.shape + (len(ordered),), math.nan)
    return Trajectory(ordered, probs, run.record_loss, run.record_norm, top1)
