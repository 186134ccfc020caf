"""Attribution methods by name: a small base class and an explicit registry.

A method is a frozen dataclass of its hyperparameters with one verb,
:meth:`Method.explain`; the model and images come at call time. The base class
prepares the images, picks the target classes, runs the method in batches of
``batch_size`` and packs the :class:`~hoodwink.explain.result.Explanation`; a
method only writes :meth:`Method.attribute` for one batch.

Example:
    >>> get_method("smoothgrad", samples=8)
    SmoothGrad(batch_size=16, samples=8, noise=0.15, seed=0)
    >>> get_method("gradcm")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    hoodwink.errors.ParameterError: unknown method 'gradcm'; did you mean 'gradcam', 'random', 'smoothgrad'? (known: ...)
"""

from __future__ import annotations

import dataclasses
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar

import torch

from hoodwink.errors import ParameterError
from hoodwink.explain.result import Explanation
from hoodwink.models.classifier import Classifier, model_input
from hoodwink.registry import Registry
from hoodwink.validate import check_int

#: A class by index or name, one for every image, or None for the predicted class.
Target = int | str | Sequence[int | str] | torch.Tensor | None


@dataclass(frozen=True)
class Method(ABC):
    """Base of every attribution method: hyperparameters in, :meth:`explain` out."""

    batch_size: int = 16

    #: Registry name, set by :func:`register_method`.
    name: ClassVar[str] = ""
    #: True when maps carry a sign (evidence for and against the class).
    signed: ClassVar[bool] = False

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.name in {"batch_size", "steps", "samples", "segments", "cell"} and value is not None:
                check_int(f"{self.name}: {f.name}", value)
            elif f.name == "seed":
                check_int(f"{self.name}: seed", value, low=0)

    def explain(
        self,
        model: Classifier,
        images: Any,
        target: Target = None,
        *,
        names: Sequence[str] = (),
    ) -> Explanation:
        """Attribution maps of ``target`` (default: the predicted class) for ``images``.

        Args:
            model: a :class:`~hoodwink.Classifier`.
            images: (C, H, W) or (N, C, H, W) in [0, 1], a list of such tensors of
                any size, or anything :func:`hoodwink.load_images` reads. They are
                resized/cropped by ``model.prepare`` first.
            target: class index or name for every image, one per image, or None.
            names: names of the images for reports.
        """
        from hoodwink.predict import probabilities

        x, names = as_batch(model, images, names)
        probs = probabilities(model, x, batch_size=self.batch_size)
        targets = resolve_targets(model, probs, target).to(x.device)
        start = time.perf_counter()
        parts = [self.attribute(model, x[i : i + self.batch_size], targets[i : i + self.batch_size])
                 for i in range(0, len(x), self.batch_size)]
        attributions = torch.cat(parts).detach()
        seconds = time.perf_counter() - start
        chosen = probs.gather(1, targets.cpu()[:, None])[:, 0]
        return Explanation(
            method=self.name, images=x.detach().cpu(), attributions=attributions.cpu(),
            maps=self.reduce(attributions).float().cpu(), targets=tuple(int(t) for t in targets),
            target_names=tuple(model.labels.name(int(t)) for t in targets),
            probabilities=tuple(float(p) for p in chosen), signed=self.signed, seconds=seconds,
            names=tuple(names), parameters=dataclasses.asdict(self),
        )

    @abstractmethod
    def attribute(self, model: Classifier, images: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """Raw attributions (N, C', H, W) for one batch of prepared images (N, C, H, W)."""

    def reduce(self, attributions: torch.Tensor) -> torch.Tensor:
        """(N, C', H, W) -> (N, H, W): signed methods sum the channels, others take the largest."""
        if self.signed:
            return attributions.sum(1)
        return attributions.amax(1)


M = TypeVar("M", bound=type[Method])


@dataclass(frozen=True)
class MethodInfo:
    """A registered method: its class, a one-line description and the paper."""

    name: str
    cls: type[Method]
    description: str
    reference: str
    stochastic: bool = False

    @property
    def parameters(self) -> dict[str, Any]:
        """Hyperparameter names and defaults."""
        return {f.name: f.default for f in dataclasses.fields(self.cls)}


#: Every method, in registration order; plug-ins register through ``hoodwink.methods``.
METHODS = Registry[MethodInfo]("method", builtin=("hoodwink.explain",), group="hoodwink.methods",
                               ordered=False)


def register_method(name: str, *, description: str, reference: str = "",
                    stochastic: bool = False) -> Callable[[M], M]:
    """Class decorator: register a :class:`Method` subclass under ``name``."""

    def decorate(cls: M) -> M:
        cls.name = name
        METHODS.add(name, MethodInfo(name, cls, description, reference, stochastic))
        return cls

    return decorate


def list_methods() -> list[MethodInfo]:
    """Every registered method, in registration order."""
    return METHODS.items()


def method_info(name: str) -> MethodInfo:
    """The registry entry for ``name``; an unknown name gets the closest names."""
    return METHODS.get(name)


def get_method(name: str | Method, **params: Any) -> Method:
    """A method by name with hyperparameters (an instance passes through unchanged)."""
    if isinstance(name, Method):
        if params:
            return dataclasses.replace(name, **params)
        return name
    info = method_info(name)
    known = {f.name for f in dataclasses.fields(info.cls)}
    unknown = sorted(set(params) - known)
    if unknown:
        raise ParameterError(
            f"{info.name} has no parameter {', '.join(unknown)} (it takes {', '.join(sorted(known))})"
        )
    return info.cls(**params)


def as_batch(model: Classifier, images: Any, names: Sequence[str] = ()) -> tuple[torch.Tensor, list[str]]:
    """Prepared (N, C, H, W) images on the model's device, and their names."""
    from hoodwink.images import NamedImage, load_images

    if isinstance(images, torch.Tensor):
        x = model_input(model, images)
    else:
        items = list(images) if isinstance(images, (list, tuple)) else [images]
        if items and all(isinstance(i, NamedImage) for i in items):
            named = items
        elif items and all(isinstance(i, torch.Tensor) for i in items):
            named = [NamedImage(f"image {k}", t) for k, t in enumerate(items)]
        else:
            named = load_images(images)
        if not named:
            raise ParameterError("no images to explain")
        x = torch.cat([model_input(model, n.pixels) for n in named])
        names = names or [n.name for n in named]
    if len(x) == 0:
        raise ParameterError("no images to explain")
    return x.detach(), list(names)


def resolve_targets(model: Classifier, probabilities: torch.Tensor, target: Target) -> torch.Tensor:
    """One class index per image (N, on the CPU): the prediction when ``target`` is None.

    ``probabilities`` is the model's (N, classes) output for the images.
    """
    n = len(probabilities)
    if target is None:
        return probabilities.argmax(-1)
    if isinstance(target, torch.Tensor):
        target = target.flatten().tolist()
    if isinstance(target, (int, str)):
        target = [target] * n
    if len(target) != n:
        raise ParameterError(f"{len(target)} targets for {n} images")
    return torch.tensor([model.labels.find(t) for t in target])


@contextmanager
def seeded(seed: int, device: torch.device) -> Iterator[None]:
    """Run a block with torch's random generators seeded, restoring them afterwards."""
    devices = [device] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        yield
