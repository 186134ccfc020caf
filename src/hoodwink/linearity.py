"""Why it works: the logits along ``x + e * sign(gradient)`` (Goodfellow et al. 2015, figure 4).

Goodfellow, Shlens and Szegedy, "Explaining and Harnessing Adversarial
Examples" (ICLR 2015), argue that networks are "too linear": a step of size
``e`` along ``sign(w)`` changes ``w . x`` by ``e * ||w||_1``, which grows with the
number of pixels, so a change too small to see adds up to a large change in the
logits. Their figure 4 plots the logits of a network along the fast gradient
sign direction for ``e`` from -E to +E. :func:`linearity_sweep` measures the
same curves on any :class:`~hoodwink.Classifier`, plus the same sweep along a
random +-1 direction of the same size (which barely moves the logits) and the
tangent line predicted by the gradient at the image. Pixels are not clipped:
the curves show the function itself along a straight line.
:func:`hoodwink.viz.linearity.linearity_figure` draws a sweep.

Example:
    >>> import torch
    >>> from hoodwink import wrap, Labels
    >>> net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3 * 4 * 4, 3))
    >>> model = wrap(net, Labels.from_names(["a", "b", "c"]), input_size=(4, 4),
    ...              mean=(0, 0, 0), std=(1, 1, 1))
    >>> sweep = linearity_sweep(model, torch.rand(3, 4, 4), eps=0.1, points=5)
    >>> sweep.logits.shape, round(sweep.linearity()[0], 6)
    (torch.Size([5, 3]), 1.0)
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from hoodwink.errors import ParameterError
from hoodwink.models.classifier import Classifier


@dataclass(frozen=True)
class LinearitySweep:
    """Logits of a few classes along ``image + e * direction``, ``direction = sign(gradient)``.

    ``eps`` (M,) are the step sizes in [0, 1] pixel units, from -E to +E; ``logits``
    (M, K) along the gradient-sign direction and ``random_logits`` (M, K) along a
    random +-1 direction; ``classes``/``names`` the K classes, ``source`` the class
    whose log-probability's gradient gave the direction and ``toward`` whether
    positive ``e`` makes the image more like it (True) or less like it (False);
    ``slopes`` (K,) the tangent slopes ``d logit_k / d e`` at ``e = 0``.
    """

    eps: torch.Tensor
    logits: torch.Tensor
    random_logits: torch.Tensor
    classes: tuple[int, ...]
    names: tuple[str, ...]
    source: int
    source_name: str
    toward: bool
    slopes: torch.Tensor

    def linearity(self) -> tuple[float, ...]:
        """R^2 of a straight-line fit to each class's logits along the sweep (1 = a line)."""
        e = self.eps.double()
        design = torch.stack([e, torch.ones_like(e)], dim=1)
        out = []
        for k in range(self.logits.shape[1]):
            y = self.logits[:, k].double()
            coef = torch.linalg.lstsq(design, y[:, None]).solution
            residual = y - (design @ coef)[:, 0]
            total = float(((y - y.mean()) ** 2).sum())
            out.append(1.0 - float((residual**2).sum()) / total if total > 0 else 1.0)
        return tuple(out)

    def change(self, random: bool = False) -> torch.Tensor:
        """(K,) largest minus smallest logit of each class over the sweep."""
        values = self.random_logits if random else self.logits
        return values.max(0).values - values.min(0).values


def linearity_sweep(
    model: Classifier,
    image: torch.Tensor,
    *,
    target: int | str | None = None,
    eps: float = 8 / 255,
    points: int = 41,
    top: int = 4,
    seed: int = 0,
    batch_size: int = 16,
) -> LinearitySweep:
    """Measure the logits along ``image + e * sign(gradient)`` for ``e`` in [-eps, eps].

    With ``target`` the direction is ``sign(d log p(target) / d x)`` (more like the
    target for e > 0); without, ``-sign(d log p(predicted) / d x)`` (the fast gradient
    sign step, less like the predicted class for e > 0). The classes shown are the
    ``top`` classes at the image, every class that is top-1 somewhere along the
    sweep, and the target. Costs ``2 * points`` forward passes and ``1 + K`` backward.
    """
    if not 0.0 < eps <= 1.0:
        raise ParameterError(f"eps must be in (0, 1], not {eps}")
    if points < 3:
        raise ParameterError(f"points must be at least 3, not {points}")
    x = model.prepare(image.to(model.device)).detach()
    if x.shape[0] != 1:
        raise ParameterError(f"linearity_sweep takes one image, got a batch of {x.shape[0]}")
    with torch.no_grad():
        start = model(x).float()[0]
    source = model.labels.find(target) if target is not None else int(start.argmax())
    toward = target is not None
    gradient = _log_prob_gradient(model, x, source)
    direction = gradient.sign() if toward else -gradient.sign()
    generator = torch.Generator().manual_seed(seed)
    random_direction = (torch.randint(0, 2, x.shape, generator=generator) * 2 - 1).to(x)
    steps = torch.linspace(-eps, eps, points)
    along = _logits_along(model, x, direction, steps, batch_size)
    random_along = _logits_along(model, x, random_direction, steps, batch_size)
    chosen = [int(c) for c in start.topk(min(top, start.numel())).indices]
    for c in along.argmax(1).tolist() + ([source] if toward else []):
        if c not in chosen:
            chosen.append(int(c))
    slopes = torch.stack([(_logit_gradient(model, x, c) * direction).sum() for c in chosen]).cpu()
    index = torch.tensor(chosen)
    return LinearitySweep(
        eps=steps, logits=along[:, index], random_logits=random_along[:, index],
        classes=tuple(chosen), names=tuple(model.labels.name(c) for c in chosen),
        source=source, source_name=model.labels.name(source), toward=toward, slopes=slopes,
    )


def _log_prob_gradient(model: Classifier, x: torch.Tensor, index: int) -> torch.Tensor:
    with torch.enable_grad():
        xg = x.clone().requires_grad_(True)
        (grad,) = torch.autograd.grad(model(xg).float().log_softmax(-1)[0, index], xg)
    return grad


def _logit_gradient(model: Classifier, x: torch.Tensor, index: int) -> torch.Tensor:
    with torch.enable_grad():
        xg = x.clone().requires_grad_(True)
        (grad,) = torch.autograd.grad(model(xg).float()[0, index], xg)
    return grad


@torch.no_grad()
def _logits_along(model: Classifier, x: torch.Tensor, direction: torch.Tensor, steps: torch.Tensor,
                  batch_size: int) -> torch.Tensor:
    out = []
    for chunk in torch.split(steps, batch_size):
        batch = x + chunk.to(x).view(-1, 1, 1, 1) * direction
        out.append(model(batch).float().cpu())
    return torch.cat(out)
