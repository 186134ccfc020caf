"""Training the digits networks, plainly or adversarially.

Adversarial training minimises the loss on attacked images instead of clean ones:

* ``"pgd"``: Madry et al. (2018), "Towards Deep Learning Models Resistant to
  Adversarial Attacks": each batch is replaced by its PGD adversary (random start,
  ``steps`` sign-gradient steps of ``step_size``, projected to the Linf ball).
* ``"fgsm"``: Wong, Rice and Kolter (2020), "Fast is better than free": one FGSM
  step of ``1.25 * eps`` from a uniform random start in the ball: nearly PGD's
  robustness at the cost of one extra forward/backward pass.

Both use the attack engine's lean path (``attack.perturb``: no trajectory, no early
stop, no 8-bit rounding). Training is deterministic for a seed: the weights are
initialised under ``seed``, batches are shuffled by a seeded ``torch.Generator``,
and the attacks' random starts are seeded per batch.

Example:
    >>> from hoodwink.train import load_dataset, train
    >>> split = load_dataset("../shared/data/mnist")                # doctest: +SKIP
    >>> result = train("mlp", split, TrainConfig(epochs=5))          # doctest: +SKIP
    >>> round(result.test_accuracy, 3)                               # doctest: +SKIP
    0.958
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

from hoodwink.errors import ParameterError
from hoodwink.models.classifier import Classifier
from hoodwink.models.labels import Labels
from hoodwink.models.registry import model_info, resolve_device
from hoodwink.train.data import DIGITS, MAX_SHIFT, DataSplit, ImageSet, random_shift
from hoodwink.validate import check_float, check_int

#: Adversarial training methods (see the module docstring).
ADVERSARIAL = ("fgsm", "pgd")
#: Learning rates that suit each architecture when the config gives none.
DEFAULT_LR = {"linear": 1e-2}


@dataclass(frozen=True)
class TrainConfig:
    """Hyperparameters of one training run.

    Attributes:
        epochs: passes over the training set.
        batch_size: images per step.
        lr: Adam's learning rate, decayed by a cosine schedule to 0 at the end; default
            0.01 for ``linear`` (raw pixels), 0.001 for the others.
        seed: initialisation, shuffling and attack random starts.
        adversarial: None, ``"fgsm"`` (random start, Wong et al. 2020) or ``"pgd"`` (Madry et al. 2018).
        eps: Linf radius of the training attack, in [0, 1] pixel units.
        steps: PGD steps during training (FGSM: always one).
        step_size: per-step size; default ``2.5 * eps / steps`` for PGD and ``1.25 * eps`` for FGSM.
        warmup: epochs over which eps grows linearly from 0 (helps a large eps get started).
        augment: data augmentation, random translations of up to this many pixels (0: none); each
            training image is shifted anew every epoch (:func:`hoodwink.train.data.random_shift`),
            before the attack when training adversarially.
    """

    epochs: int = 10
    batch_size: int = 128
    lr: float | None = None
    seed: int = 0
    adversarial: str | None = None
    eps: float = 0.3
    steps: int = 7
    step_size: float | None = None
    warmup: float = 0.0
    augment: int = 0

    def __post_init__(self) -> None:
        for name in ("epochs", "batch_size", "steps"):
            check_int(name, getattr(self, name))
        if self.lr is not None:
            check_float("lr", self.lr, low=0.0, low_open=True)
        if self.adversarial is not None and self.adversarial not in ADVERSARIAL:
            raise ParameterError(
                f"unknown adversarial training {self.adversarial!r}; choose one of {', '.join(ADVERSARIAL)}"
            )
        check_float("eps (pixel units)", self.eps, low=0.0, high=1.0)
        if self.step_size is not None:
            check_float("step_size", self.step_size, low=0.0, low_open=True)
        check_float(f"warmup (epochs, at most {self.epochs})", self.warmup, low=0.0, high=self.epochs)
        check_int("augment (random shift in pixels)", self.augment, low=0, high=MAX_SHIFT)

    def attack_step_size(self, eps: float) -> float:
        """The step size used at radius ``eps``."""
        if self.step_size is not None:
            return self.step_size
        return 1.25 * eps if self.adversarial == "fgsm" else 2.5 * eps / self.steps

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class EpochStats:
    """Training figures for one epoch (on the images trained on: adversarial ones if so)."""

    epoch: int
    loss: float
    accuracy: float
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class TrainResult:
    """A trained classifier and how it got there."""

    model: Classifier
    arch: str
    config: TrainConfig
    history: tuple[EpochStats, ...]
    test_accuracy: float
    train_seconds: float
    train_size: int
    test_size: int
    note: str | None = None

    def summary(self) -> dict[str, Any]:
        """The training figures, as stored in the saved file's metadata."""
        return {
            "arch": self.arch,
            "config": self.config.to_dict(),
            "history": [e.to_dict() for e in self.history],
            "test_accuracy": self.test_accuracy,
            "train_seconds": self.train_seconds,
            "train_size": self.train_size,
            "test_size": self.test_size,
            "split": self.note,
        }

    def to_dict(self) -> dict[str, Any]:
        return self.summary()


Progress = Callable[[int, int, float, float], None]


def build(arch: str, classes: tuple[str, ...] = DIGITS, *, options: dict[str, Any] | None = None,
          seed: int = 0, device: str | torch.device | None = None) -> Classifier:
    """A freshly initialised registered network (initialised under ``seed``), labelled ``classes``."""
    info = model_info(arch)
    if info.bundled:
        raise ParameterError(f"{arch!r} is a pretrained model; train one of the digits networks")
    options = dict(options or {})
    if tuple(classes) != DIGITS:
        options["classes"] = len(classes)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = info.build(pretrained=False, device="cpu", **options)
    if tuple(classes) != DIGITS:
        model.labels = Labels.from_names(classes)
    return model.to(resolve_device(device))


def train(
    arch: str,
    data: DataSplit,
    config: TrainConfig | None = None,
    *,
    options: dict[str, Any] | None = None,
    device: str | torch.device | None = None,
    progress: Progress | None = None,
) -> TrainResult:
    """Build ``arch`` (``linear``, ``mlp``, ``cnn``), train it on ``data.train``, test on ``data.test``.

    Args:
        arch: a registered digits architecture.
        data: training and test images (:func:`hoodwink.train.load_dataset`).
        config: hyperparameters (:class:`TrainConfig`); default 10 epochs of Adam.
        options: architecture options (``{"hidden": 256}``), stored in the saved file.
        device: where to train; default CUDA when available.
        progress: called after each batch with (step, total steps, running loss, running accuracy).

    Returns:
        A :class:`TrainResult`; ``save_model(result.model, path, extra={"training": result.summary()})``
        writes it (:func:`hoodwink.train.save_trained` does exactly that).
    """
    config = config or TrainConfig()
    model = build(arch, data.train.classes, options=options, seed=config.seed, device=device)
    start = time.perf_counter()
    history = fit(model, data.train, config, progress=progress)
    seconds = time.perf_counter() - start
    return TrainResult(
        model=model, arch=arch, config=config, history=history,
        test_accuracy=accuracy(model, data.test), train_seconds=seconds,
        train_size=len(data.train), test_size=len(data.test), note=data.note,
    )


def fit(model: Classifier, data: ImageSet, config: TrainConfig,
        progress: Progress | None = None) -> tuple[EpochStats, ...]:
    """Train ``model.net`` in place on ``data`` (the wrapper normalises); per-epoch figures."""
    if len(data) == 0:
        raise ParameterError("no training images")
    if int(data.labels.max()) >= model.num_classes:
        raise ParameterError(f"labels go up to {int(data.labels.max())}; the model has {model.num_classes} classes")
    device = model.device
    net = model.net
    lr = config.lr if config.lr is not None else DEFAULT_LR.get(str(model.metadata.get("arch")), 1e-3)
    optimizer = torch.optim.Adam(net.parameters(), lr=lr)
    batches = -(-len(data) // config.batch_size)
    total = config.epochs * batches
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=total)
    generator = torch.Generator().manual_seed(config.seed)
    adversary = _Adversary(config) if config.adversarial else None
    history = []
    step = 0
    for epoch in range(config.epochs):
        began = time.perf_counter()
        order = torch.randperm(len(data), generator=generator)
        loss_sum = torch.zeros((), device=device)
        correct = torch.zeros((), device=device, dtype=torch.int64)
        for b in range(batches):
            index = order[b * config.batch_size : (b + 1) * config.batch_size]
            images = data.images[index]
            if config.augment:
                images = random_shift(images, config.augment, generator)
            images = images.to(device, non_blocking=True)
            labels = data.labels[index].to(device, non_blocking=True)
            if adversary is not None:
                images = adversary(model, images, labels, step, batches)
            with _trainable(model):
                logits = model(images)
                loss = F.cross_entropy(logits, labels)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()  # type: ignore[no-untyped-call]
                optimizer.step()
            scheduler.step()
            step += 1
            loss_sum += loss.detach() * len(index)
            correct += (logits.detach().argmax(1) == labels).sum()
            if progress is not None:
                seen = b * config.batch_size + len(index)
                progress(step, total, float(loss_sum) / seen, float(correct) / seen)
        history.append(EpochStats(epoch + 1, float(loss_sum) / len(data), float(correct) / len(data),
                                  time.perf_counter() - began))
    return tuple(history)


@contextmanager
def _trainable(model: Classifier) -> Iterator[None]:
    """Let gradients reach ``model.net``'s weights for one step; frozen and eval again after."""
    model.net.train(True)
    model.net.requires_grad_(True)
    try:
        yield
    finally:
        model.net.requires_grad_(False)
        model.train(False)


class _Adversary:
    """Replace a batch by its adversary, with the engine's lean ``perturb`` path.

    One ``torch.Generator`` (seeded with ``config.seed``) draws every random start
    of the run, so the whole run is reproducible.
    """

    def __init__(self, config: TrainConfig) -> None:
        from hoodwink.attacks import Goal, ThreatModel, get_attack

        self.config = config
        self._goal = Goal
        self._threat = ThreatModel
        self._get_attack = get_attack
        self._generator: torch.Generator | None = None

    def eps_at(self, step: int, batches: int) -> float:
        """Linear warm-up of eps over ``config.warmup`` epochs."""
        warm = self.config.warmup * batches
        return self.config.eps if warm <= 0 else self.config.eps * min(1.0, (step + 1) / warm)

    def __call__(self, model: Classifier, images: torch.Tensor, labels: torch.Tensor,
                 step: int, batches: int) -> torch.Tensor:
        eps = self.eps_at(step, batches)
        if eps <= 0:
            return images
        if self._generator is None:
            self._generator = torch.Generator(images.device).manual_seed(self.config.seed)
        config = self.config
        threat = self._threat(norm="linf", eps=eps, quantize=False)
        size = config.attack_step_size(eps)
        if config.adversarial == "fgsm":
            attack = self._get_attack("fgsm", random_start=True, step_size=size)
        else:
            attack = self._get_attack("pgd", steps=config.steps, step_size=size, random_start=True)
        adversarial: torch.Tensor = attack.perturb(model, images, self._goal.untargeted(labels), threat,
                                                   generator=self._generator)
        return adversarial.detach()


@torch.no_grad()
def accuracy(model: Classifier, data: ImageSet, batch_size: int = 1000) -> float:
    """Fraction of ``data`` that ``model`` classifies correctly."""
    if len(data) == 0:
        raise ParameterError("no test images")
    correct = 0
    for start in range(0, len(data), batch_size):
        images = data.images[start : start + batch_size].to(model.device)
        labels = data.labels[start : start + batch_size].to(model.device)
        correct += int((model(images).argmax(1) == labels).sum())
    return correct / len(data)


def save_trained(result: TrainResult, path: str) -> Any:
    """Save the trained model with its training figures in the file's metadata."""
    from hoodwink.models.registry import save_model

    return save_model(result.model, path, extra={"training": result.summary()})
