"""Trick the network with one image: the front door of the talk.

Example:
    >>> model = hoodwink.load_model()                                      # doctest: +SKIP
    >>> result = trick(model, "chelsea", into="vulture", eps="8/255")      # doctest: +SKIP
    >>> result.success.item(), result.adversarial_predictions[0][0].name   # doctest: +SKIP
    (True, 'vulture')
"""

from __future__ import annotations

from typing import Any

from hoodwink.attacks.engine import Model
from hoodwink.attacks.goals import Goal
from hoodwink.attacks.registry import get_attack
from hoodwink.attacks.result import AttackResult
from hoodwink.attacks.threat import ThreatModel, parse_eps
from hoodwink.errors import ParameterError
from hoodwink.images import ImageSource, load_image
from hoodwink.models.labels import Labels


def make_goal(labels: Labels, *, into: int | str | None = None, away: bool = False,
              less_like: int | str | None = None, more_like: int | str | None = None) -> Goal:
    """The goal for exactly one of ``into``, ``away``, ``less_like`` and ``more_like``."""
    chosen = [into is not None, bool(away), less_like is not None, more_like is not None]
    if sum(chosen) != 1:
        raise ParameterError("choose exactly one goal: into=CLASS, away=True, less_like=CLASS or more_like=CLASS")
    if into is not None:
        return Goal.targeted(labels.find(into))
    if less_like is not None:
        return Goal.less_like(labels.find(less_like))
    if more_like is not None:
        return Goal.more_like(labels.find(more_like))
    return Goal.untargeted()


def usual_step_size(attack: str, threat: ThreatModel) -> float | None:
    """The step size of ``attack`` at its default number of steps (None when it has none)."""
    usual = getattr(get_attack(attack), "default_step_size", None)
    return float(usual(threat)) if callable(usual) else None


def trick(
    model: Model,
    image: ImageSource,
    *,
    into: int | str | None = None,
    away: bool = False,
    less_like: int | str | None = None,
    more_like: int | str | None = None,
    attack: str = "bim",
    eps: float | str | None = 8 / 255,
    norm: str = "linf",
    steps: int | None = None,
    step_size: float | None = None,
    confidence: float = 0.0,
    seed: int | None = None,
    queries: int | None = None,
    robust_to: str | None = None,
    eot_samples: int = 4,
    full_size: bool = False,
    **params: Any,
) -> AttackResult:
    """Trick ``model`` with one image (any size; it is first prepared to the input size).

    Exactly one goal: ``into`` a class, ``away`` from the current prediction,
    ``less_like`` or ``more_like`` a class (by name or index). ``attack`` is a
    registered name (:func:`list_attacks`); ``eps`` accepts ``"8/255"``; ``eps=None``
    leaves the threat to the attack (a minimal-norm attack such as hopskipjump is then
    bounded only by the pixel box).
    ``confidence`` keeps going until the winning class has that probability;
    ``queries`` is a budget of model queries (for query-only models). Asking for
    fewer ``steps`` takes fewer steps of the attack's usual size (bim: 1/255, the
    talk's step), not bigger ones: ``steps=1`` is one step of 1/255.
    ``robust_to`` (``"physical"``, ``"rotate:22.5,jpeg:70-95"``, ...) averages every
    gradient over ``eot_samples`` random transformations (EOT,
    :mod:`hoodwink.attacks.eot`) and spends the whole step budget (no early stop);
    ``full_size`` attacks the photo at its own resolution through the model's resize
    (:func:`hoodwink.physical.judge_jpeg` judges a result as it reads back from JPEG).
    Returns an :class:`AttackResult` of one sample whose ``adversarial`` image,
    saved as PNG, is read back as the reported class.
    """
    labels = getattr(model, "labels", None)
    if not isinstance(labels, Labels):
        raise ParameterError("trick needs a model with labels (a hoodwink Classifier or "
                             "QueryModel); see hoodwink.wrap")
    goal = make_goal(labels, into=into, away=away, less_like=less_like, more_like=more_like)
    threat = None if eps is None else ThreatModel(
        norm, parse_eps(eps, upper=1.0 if norm == "linf" else None))
    if steps is not None and step_size is None and threat is not None:
        step_size = usual_step_size(attack, threat)
    target = model
    if full_size or robust_to is not None:
        from hoodwink.attacks.eot import EOT, FullSize

        target = FullSize(model) if full_size else model
        if robust_to is not None:
            target = EOT(target, robust_to, samples=eot_samples, seed=seed or 0)
            if hasattr(get_attack(attack), "early_stop"):
                params.setdefault("early_stop", False)
    algorithm = get_attack(attack, steps=steps, step_size=step_size, confidence=confidence or None,
                           seed=seed, **params)
    return algorithm(target, load_image(image), goal, threat, queries=queries)
