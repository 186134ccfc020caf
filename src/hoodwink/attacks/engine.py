"""One attack contract and one batching template for every attack.

An attack is a frozen dataclass of hyperparameters that implements one small
protocol, :class:`Attack`: a ``name``, the ``norms`` it supports (both set
once, by the registry decorator), ``batch_size`` and :meth:`Attack.run`, which
attacks one :class:`Batch` through the model oracle and returns an
:class:`Outcome`. Everything else is written once, here, in the ``final``
template that :class:`AttackBase` gives every attack:

* validate the images, the goal and the threat; put the clean images on the
  8-bit grid at the model's input size (:func:`model_input`);
* for an attack that takes one (``takes_start``), prepare the given ``start``
  images the same way and project them into the threat around the clean ones
  (a query attack continued from a transfer's output: ``start=crafted``);
* make the :class:`~hoodwink.attacks.oracle.Oracle`, the only door to the model,
  which counts forward and backward passes and queries per sample and
  enforces the per-sample query budget;
* split the goal and the images by ``batch_size``, passing each image's global
  dataset ``index`` (seeds depend on it, so a sharded dataset gets the same
  random draws as a whole one);
* assemble the :class:`AttackResult` (norms judged on the returned images,
  counts from the oracle) and the trajectory (one :class:`Recorder`).

:meth:`AttackBase.perturb` is the lean path for adversarial training: the same
run in ``lean`` mode (no early stop, no trajectory, no 8-bit grid).

Example:
    >>> from hoodwink.attacks import get_attack, Goal, ThreatModel
    >>> attack = get_attack("pgd", steps=10)                                  # doctest: +SKIP
    >>> result = attack(model, images, Goal.targeted(23), ThreatModel("linf", 8 / 255),
    ...                 index=torch.arange(100, 132))                        # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol, final, runtime_checkable

import torch
from torch import nn

from hoodwink.attacks.goals import Goal
from hoodwink.attacks.oracle import Oracle, QueryModel, model_labels
from hoodwink.attacks.result import AttackResult, Trajectory
from hoodwink.attacks.threat import ThreatModel
from hoodwink.attacks.watch import announce
from hoodwink.errors import ParameterError
from hoodwink.models.classifier import model_input

#: Full per-step probabilities are kept while rows * batch * classes is below this.
MAX_RECORD = 1 << 26

#: What an attack may be run against: a PyTorch model, a query-only model, or a
#: wrapper with an ``oracle(n, queries=...)`` method (EOT).
Model = nn.Module | QueryModel | Any


@dataclass(frozen=True)
class Batch:
    """One batch of an attack's work (tensors (n, ...) on the model's device).

    Attributes:
        clean: the clean images, on the 8-bit grid unless the threat does not quantise.
        goal: the goal of these samples (its classes cut to the batch).
        threat: what the attacker may do.
        index: (n,) long, the global dataset index of each image (for seeds).
        oracle: the door to the model for these samples (rows 0..n-1).
        lean: the training mode: every sample runs every step, no trajectory.
        generator: in lean mode, draws the random starts of the whole batch.
        on_step: called with every recorded :class:`Step` (streaming, progress bars).
        start: where to start (an attack with ``takes_start``), or None: the given
            start images, prepared and on the grid as ``clean`` and inside the threat.
    """

    clean: torch.Tensor
    goal: Goal
    threat: ThreatModel
    index: torch.Tensor
    oracle: Oracle
    lean: bool = False
    generator: torch.Generator | None = None
    on_step: Callable[[Step], None] | None = None
    start: torch.Tensor | None = None

    def __len__(self) -> int:
        return int(self.clean.shape[0])

    @property
    def rows(self) -> torch.Tensor:
        """0..n-1 on the images' device: every sample of the batch."""
        return torch.arange(len(self), device=self.clean.device)

    def recorder(self, rows: int, num_classes: int, enabled: bool = True, *,
                 samples: torch.Tensor | None = None) -> Recorder:
        """A :class:`Recorder` for this batch (or for its ``samples``, rows of the
        batch, as a restart runs on) that also tells ``on_step`` of every step."""
        listener = None
        n = len(self) if samples is None else int(samples.shape[0])
        if self.on_step is not None:
            on_step = self.on_step
            index = self.index if samples is None else self.index[samples]

            def listener(row: int, idx: torch.Tensor, probs: torch.Tensor, loss: torch.Tensor,
                         norm: torch.Tensor, images: torch.Tensor | None) -> None:
                on_step(Step(row, index[idx], probs, loss, norm, images))

        return Recorder(rows, n, num_classes, self.clean.device, enabled and not self.lean,
                        listener=listener)


@dataclass(frozen=True)
class Step:
    """One recorded step of some samples, as ``on_step`` sees it (streaming).

    Attributes:
        row: the step (row 0 is the start).
        index: (k,) the global dataset indices of the samples that took it.
        probabilities: (k, classes); loss, norm: (k,).
        images: (k, C, H, W) the images judged at this step, when the attack gives them.
    """

    row: int
    index: torch.Tensor
    probabilities: torch.Tensor
    loss: torch.Tensor
    norm: torch.Tensor
    images: torch.Tensor | None = None


@dataclass(frozen=True)
class Outcome:
    """What :meth:`Attack.run` gives back for one batch (tensors (n, ...)).

    ``adversarial`` must be the images judged: ``success`` and ``probabilities``
    come from the oracle's answer on exactly them.
    """

    adversarial: torch.Tensor
    success: torch.Tensor
    probabilities: torch.Tensor
    clean_probabilities: torch.Tensor
    labels: torch.Tensor
    steps: torch.Tensor
    trajectory: Trajectory | None = None


@runtime_checkable
class Attack(Protocol):
    """What every attack is: hyperparameters, a name, norms and one run per batch."""

    name: ClassVar[str]
    norms: ClassVar[tuple[str, ...]]
    takes_start: ClassVar[bool]

    @property
    def batch_size(self) -> int: ...

    def params(self) -> dict[str, Any]: ...

    def run(self, batch: Batch) -> Outcome: ...

    def __call__(self, model: Model, images: torch.Tensor, goal: Goal | None = None,
                 threat: ThreatModel | None = None, *, index: torch.Tensor | None = None,
                 queries: int | None = None,
                 on_step: Callable[[Step], None] | None = None,
                 start: torch.Tensor | None = None) -> AttackResult: ...

    def perturb(self, model: Model, images: torch.Tensor, goal: Goal | None = None,
                threat: ThreatModel | None = None, *,
                generator: torch.Generator | None = None) -> torch.Tensor: ...


class AttackBase:
    """The template every attack inherits: validation, batching, assembly.

    A subclass is a frozen dataclass with a ``batch_size`` field and a
    :meth:`run`; it may override :meth:`default_threat` (minimal-norm attacks
    are bounded only by the pixel box when no threat is given). One that sets
    ``takes_start = True`` reads :attr:`Batch.start` (its first query after the
    clean one); the others refuse a ``start``.
    """

    name: ClassVar[str] = ""
    norms: ClassVar[tuple[str, ...]] = ("linf", "l2")
    takes_start: ClassVar[bool] = False
    batch_size: int

    def run(self, batch: Batch) -> Outcome:
        raise NotImplementedError

    def params(self) -> dict[str, Any]:
        """The hyperparameters, by name."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}  # type: ignore[arg-type]

    def default_threat(self, images: torch.Tensor) -> ThreatModel:
        """The threat used when none is given."""
        return ThreatModel()

    @final
    def __call__(self, model: Model, images: torch.Tensor, goal: Goal | None = None,
                 threat: ThreatModel | None = None, *, index: torch.Tensor | None = None,
                 queries: int | None = None,
                 on_step: Callable[[Step], None] | None = None,
                 start: torch.Tensor | None = None) -> AttackResult:
        """Attack ``images`` (N, C, H, W) or (C, H, W) in [0, 1], of any size.

        Args:
            model: a PyTorch classifier, a query-only model, or an EOT wrapper.
            goal: what to reach (default: away from the clean prediction).
            threat: what the attacker may do (default: the attack's own).
            index: (N,) the images' global dataset indices, for seeds (default 0..N-1).
            queries: the most queries (judged images) per sample, or None.
            on_step: called with each recorded :class:`Step` (the web playground
                streams them; it may raise to stop the attack).
            start: where to start, e.g. a transfer's output: images of the same shape
                as ``images`` in the bounds, prepared and put on the 8-bit grid as the
                clean images are, then projected into the threat around them. Only for
                attacks with ``takes_start`` (Square); the others raise ParameterError.

        Example:
            >>> crafted = get_attack("mifgsm-di")(surrogate, images, goal, threat)  # doctest: +SKIP
            >>> get_attack("square")(target, crafted.original, goal, threat,
            ...                      start=crafted.adversarial, queries=1000)     # doctest: +SKIP
        """
        return _run(self, model, images, goal, threat, index, queries, lean=False,
                    on_step=on_step, start=start)

    @final
    def perturb(self, model: Model, images: torch.Tensor, goal: Goal | None = None,
                threat: ThreatModel | None = None, *,
                generator: torch.Generator | None = None) -> torch.Tensor:
        """Adversarial images for training: the same run in lean mode.

        Every sample runs every step (no early stop), no trajectory is kept and
        the images are not put on the 8-bit grid; the result is in the ball and
        the bounds. ``generator`` (on the images' device) draws the random
        starts of the whole batch; by default one seeded with the attack's seed.

        Example:
            >>> x_adv = FGSM(random_start=True, step_size=1.25 * 8 / 255).perturb(
            ...     net, x, Goal.untargeted(y), ThreatModel("linf", 8 / 255))   # doctest: +SKIP
        """
        threat = self.default_threat(images) if threat is None else threat
        threat = dataclasses.replace(threat, quantize=False)
        return _run(self, model, images, goal, threat, None, None, lean=True,
                    generator=generator).adversarial


def _run(attack: AttackBase, model: Model, images: torch.Tensor, goal: Goal | None,
         threat: ThreatModel | None, index: torch.Tensor | None, queries: int | None, *,
         lean: bool, generator: torch.Generator | None = None,
         on_step: Callable[[Step], None] | None = None,
         start: torch.Tensor | None = None) -> AttackResult:
    """The template: validate, quantise, split, run, assemble."""
    if not isinstance(images, torch.Tensor):
        raise ParameterError(f"images must be a tensor (N, C, H, W), not {type(images).__name__}")
    if images.dim() == 3:
        images = images.unsqueeze(0)
    if images.dim() != 4:
        raise ParameterError(f"images must be (N, C, H, W), got shape {tuple(images.shape)}")
    if start is not None:
        start = _check_start(attack, start, images)
    goal = Goal.untargeted() if goal is None else goal
    threat = attack.default_threat(images) if threat is None else threat
    if threat.norm not in attack.norms:
        raise ParameterError(f"attack {attack.name!r} supports the norms "
                             f"{', '.join(attack.norms)}, not {threat.norm!r}")
    lo, hi = threat.bounds
    for what, x in (("images", images), ("start", start)):
        if x is not None and x.numel() and (float(x.min()) < lo - 1e-6 or float(x.max()) > hi + 1e-6):
            raise ParameterError(f"{what} must lie inside the bounds {threat.bounds}")
    n = int(images.shape[0])
    if goal.classes is not None and len(goal.classes) not in (1, n):
        raise ParameterError(f"the goal has {len(goal.classes)} classes for {n} images")
    make: Callable[..., Oracle] | None = getattr(model, "oracle", None)
    oracle = announce(make(n, queries=queries) if callable(make) else Oracle(model, n, queries=queries))
    clean = _model_images(model, images, threat, oracle.device)
    # the start: the same preparation, then into the threat (ball, bounds, grid) around clean
    begin = None if start is None else threat.project(
        _model_images(model, start, threat, oracle.device), clean)
    index = _check_index(index, n, clean.device)
    oracle.index = index.to(oracle.device)
    parts: list[Outcome] = []
    step = attack.batch_size if not lean else max(n, 1)
    for first in range(0, n, step):
        stop = min(n, first + step)
        batch = Batch(clean[first:stop], goal.part(first, stop, n), threat, index[first:stop],
                      oracle.view(first, stop), lean, generator, on_step,
                      None if begin is None else begin[first:stop])
        parts.append(attack.run(batch))
    if not parts:
        raise ParameterError("no images to attack")

    def cat(key: str) -> torch.Tensor:
        return torch.cat([getattr(p, key) for p in parts])

    trajectories = [p.trajectory for p in parts if p.trajectory is not None]
    trajectory = Trajectory.concat(trajectories) if len(trajectories) == len(parts) else None
    clean_probs = cat("clean_probabilities")
    params = attack.params()
    if queries is not None:
        params["queries"] = queries
    return AttackResult.build(
        attack=attack.name, params=params, threat=threat, goal=goal,
        names=model_labels(model, clean_probs.shape[1]), original=clean,
        adversarial=cat("adversarial"), goal_classes=cat("labels"), success=cat("success"),
        clean_probabilities=clean_probs, adversarial_probabilities=cat("probabilities"),
        forward=oracle.forward.clone(), backward=oracle.backward.clone(),
        queries=oracle.queries.clone(), steps=cat("steps"), trajectory=trajectory,
        index=index,
    )


def _model_images(model: Model, images: torch.Tensor, threat: ThreatModel,
                  device: torch.device) -> torch.Tensor:
    """The images as the model is asked about them: at its input size, on the 8-bit grid
    when the threat quantises."""
    if threat.quantize:
        return model_input(model, images)
    prepare = getattr(model, "prepare", None)
    x = images.detach().float().to(device)
    return prepare(x) if callable(prepare) else x


def _check_start(attack: AttackBase, start: torch.Tensor, images: torch.Tensor) -> torch.Tensor:
    """``start`` (N, C, H, W) as ``images``, for an attack that takes one."""
    if not attack.takes_start:
        raise ParameterError(f"attack {attack.name!r} takes no start image (start=); "
                             f"these do: {', '.join(_starters()) or 'none'}")
    if not isinstance(start, torch.Tensor):
        raise ParameterError(f"start must be a tensor (N, C, H, W), not {type(start).__name__}")
    if start.dim() == 3:
        start = start.unsqueeze(0)
    if start.shape != images.shape:
        raise ParameterError(f"start must have the images' shape {tuple(images.shape)}, "
                             f"not {tuple(start.shape)}")
    return start


def _starters() -> list[str]:
    from hoodwink.attacks.registry import attacks_taking_start

    return attacks_taking_start()


def _check_index(index: torch.Tensor | None, n: int, device: torch.device) -> torch.Tensor:
    if index is None:
        return torch.arange(n, device=device)
    index = torch.as_tensor(index)
    if index.shape != (n,) or index.is_floating_point() or index.dtype == torch.bool \
            or (n and int(index.min()) < 0):
        raise ParameterError(f"index must hold {n} non-negative integers (one per image)")
    return index.long().to(device)


def mix_seed(seed: int, run: int, position: int) -> int:
    """The seed of one sample's random draw from the attack's seed, the run
    (restart) and the sample's global index."""
    return ((seed * 1_000_003 + run) * 1_000_033 + position) % (1 << 62)


class Recorder:
    """Per-step trajectory of n samples (NaN where a sample did not run), one for
    every attack.

    Args:
        rows: the most rows (steps + 1) it may be given.
        n: samples; num_classes: the model's classes.
        enabled: False records nothing (and costs nothing).
        listener: called with every step, recorded or not (see :meth:`Batch.recorder`).
    """

    def __init__(self, rows: int, n: int, num_classes: int, device: torch.device,
                 enabled: bool = True, *, listener: Callable[..., None] | None = None) -> None:
        self.enabled = enabled
        self.listener = listener
        shape = (rows, n) if enabled else (0, n)
        self.loss = torch.full(shape, math.nan, device=device)
        self.norm = torch.full(shape, math.nan, device=device)
        self.top1 = torch.full(shape, -1, dtype=torch.long, device=device)
        self.probs: torch.Tensor | None = None
        if enabled and rows * n * num_classes <= MAX_RECORD:
            self.probs = torch.full((rows, n, num_classes), math.nan, device=device)
        self.last = 0

    def __call__(self, row: int, idx: torch.Tensor, probs: torch.Tensor, loss: torch.Tensor,
                 norm: torch.Tensor, images: torch.Tensor | None = None) -> None:
        if self.listener is not None:
            self.listener(row, idx, probs, loss, norm, images)
        if not self.enabled:
            return
        self.loss[row, idx] = loss.detach().float()
        self.norm[row, idx] = norm.detach().float()
        self.top1[row, idx] = probs.argmax(dim=1)
        if self.probs is not None:
            self.probs[row, idx] = probs
        self.last = max(self.last, row)

    def take(self, other: Recorder, rows: torch.Tensor, take: torch.Tensor) -> None:
        """Replace samples ``rows`` by ``other``'s samples selected by mask ``take``
        (a restart that did better)."""
        if not self.enabled:
            return
        last = min(other.last, self.loss.shape[0] - 1)
        self.loss[:, rows] = math.nan
        self.norm[:, rows] = math.nan
        self.top1[:, rows] = -1
        self.loss[: last + 1, rows] = other.loss[: last + 1, take]
        self.norm[: last + 1, rows] = other.norm[: last + 1, take]
        self.top1[: last + 1, rows] = other.top1[: last + 1, take]
        if self.probs is not None and other.probs is not None:
            self.probs[:, rows] = math.nan
            self.probs[: last + 1, rows] = other.probs[: last + 1, take]
        self.last = max(self.last, last)

    def trajectory(self, labels: torch.Tensor) -> Trajectory | None:
        """The record as a :class:`Trajectory` over the classes that matter."""
        if not self.enabled:
            return None
        rows = self.last + 1
        top1 = self.top1[:rows]
        ordered = tuple(sorted(set(labels.tolist()) | set(top1[top1 >= 0].tolist())))
        if self.probs is not None:
            index = torch.tensor(ordered, dtype=torch.long, device=self.probs.device)
            probs = self.probs[:rows].index_select(2, index)
        else:
            probs = self.loss.new_full((rows, top1.shape[1], len(ordered)), math.nan)
        return Trajectory(ordered, probs, self.loss[:rows], self.norm[:rows], top1)
