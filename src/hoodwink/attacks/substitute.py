"""Substitute training: learn a copy of a label-only model, then attack the copy (Papernot et al. 2017).

The attacker holds a few unlabelled images of the right kind (``seeds``, e.g.
150 digits) and a network of their own (the substitute). Each round:

1. the target labels every new image (one counted query each, labels only);
2. the substitute is trained on all the images labelled so far;
3. Jacobian-based dataset augmentation: every image ``x`` gets a sibling
   ``x + lambda * sign(d F_y(x) / d x)``, where ``F_y`` is the substitute's logit of
   the label the target gave ``x``: a step toward the substitute's decision
   boundary, where the target's answers teach it most. ``lambda`` flips sign every
   ``tau`` rounds (the paper's periodic step size), and siblings are 8-bit images.

The set doubles each round, so ``len(seeds) * 2 ** rounds`` queries in all (a
``queries`` cap stops the augmentation before it is exceeded). Then any
white-box attack on the substitute (see :func:`hoodwink.attacks.transfer`) crafts
images to send to the target.

Example:
    >>> from hoodwink.train.loop import build
    >>> result = train_substitute(api_model, build("cnn"), seeds, rounds=4)  # doctest: +SKIP
    >>> result.queries, result.rounds[-1]["agreement"]                     # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from hoodwink.attacks.engine import Model
from hoodwink.attacks.oracle import Oracle
from hoodwink.errors import ParameterError
from hoodwink.models.classifier import Classifier, model_input
from hoodwink.validate import check_float, check_int


@dataclass(frozen=True)
class SubstituteResult:
    """A substitute and what it cost.

    Attributes:
        model: the trained substitute (the same object that was passed in).
        images: (N, C, H, W) the 8-bit images the target labelled.
        labels: (N,) the target's labels of them.
        queries: the target's queries, all counted by the oracle (one per image).
        rounds: per round: images so far, queries so far, and the substitute's
            agreement with the target's labels on them after training.
    """

    model: Classifier
    images: torch.Tensor
    labels: torch.Tensor
    queries: int
    rounds: tuple[dict[str, Any], ...]


def train_substitute(target: Model, substitute: Classifier, seeds: torch.Tensor, *,
                     rounds: int = 4, lam: float = 0.1, tau: int = 2, epochs: int = 10,
                     batch_size: int = 64, lr: float | None = None, seed: int = 0,
                     queries: int | None = None) -> SubstituteResult:
    """Train ``substitute`` to answer as ``target`` does, from labels only (see the module).

    Args:
        target: the model to copy (a query-only model is enough: labels only).
        substitute: a hoodwink classifier with the target's classes, trained in place.
        seeds: (N, C, H, W) the attacker's own unlabelled images in [0, 1].
        rounds: augmentation rounds (the set doubles each round).
        lam, tau: the augmentation step and its sign period.
        epochs, batch_size, lr, seed: the substitute's training (Adam, cosine decay).
        queries: the most target queries in all.
    """
    from hoodwink.train.data import ImageSet
    from hoodwink.train.loop import TrainConfig, fit

    check_int("rounds", rounds, low=0)
    check_float("lam", lam, low=0.0, low_open=True)
    check_int("tau", tau)
    if seeds.dim() != 4 or len(seeds) == 0:
        raise ParameterError("seeds must be images (N, C, H, W), at least one")
    images = model_input(substitute, seeds).cpu()
    most = len(images) * 2 ** rounds
    if queries is not None:
        check_int("queries", queries)
        if queries < len(images):
            raise ParameterError(f"{queries} queries cannot label the {len(images)} seeds")
        most = min(most, queries)
    oracle = Oracle(target, most, queries=1)          # one query per image, exactly

    def label(x: torch.Tensor, start: int) -> torch.Tensor:
        rows = torch.arange(start, start + len(x), device=oracle.device)
        return oracle.labels(model_input(target, x).to(oracle.device), rows).cpu()

    labels = label(images, 0)
    history: list[dict[str, Any]] = []
    classes = tuple(substitute.labels.names)
    config = TrainConfig(epochs=epochs, batch_size=batch_size, lr=lr, seed=seed)
    for r in range(rounds + 1):
        fit(substitute, ImageSet(images, labels, classes, "substitute"), config)
        with torch.no_grad():
            agree = float((substitute(images.to(substitute.device)).argmax(1).cpu()
                           == labels).float().mean())
        history.append({"round": r, "images": len(images), "queries": int(oracle.queries.sum()),
                        "agreement": agree})
        if r == rounds or len(images) * 2 > most:
            break
        step = lam * (-1) ** (r // tau)
        x = images.detach().clone().to(substitute.device).requires_grad_(True)
        with torch.enable_grad():
            logits = substitute(x)
            chosen = logits.gather(1, labels.to(logits.device)[:, None]).sum()
            (grad,) = torch.autograd.grad(chosen, x)
        siblings = torch.round((images + step * grad.sign().cpu()).clamp(0, 1) * 255) / 255
        labels = torch.cat([labels, label(siblings, len(images))])
        images = torch.cat([images, siblings])
    return SubstituteResult(substitute, images, labels, int(oracle.queries.sum()),
                            tuple(history))
