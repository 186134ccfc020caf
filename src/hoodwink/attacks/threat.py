"""The threat model as a value: norm, eps, bounds and 8-bit quantisation.

The engine, not each attack, keeps every returned image inside the threat:
:meth:`ThreatModel.project` maps any candidate onto the eps ball around the
clean image, intersected with the bounds and (with ``quantize=True``, the
default) the 8-bit grid of multiples of 1/255, without leaving the ball.

The per-norm pieces that PGD-style attacks need (random start, steepest-ascent
direction, projection onto the ball) are small objects in :data:`NORMS`, written
once and shared by every attack.

Example:
    >>> import torch
    >>> threat = ThreatModel("linf", parse_eps("8/255"))
    >>> clean = torch.full((1, 3, 4, 4), 128 / 255)       # on the 8-bit grid
    >>> adv = threat.project(clean + 0.1, clean)
    >>> round(float((adv - clean).abs().max()) * 255, 3)
    8.0
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from typing import Protocol

import torch

from hoodwink.errors import ParameterError

#: Pixel levels of an 8-bit image.
LEVELS = 255
_TOL = 1e-6


def parse_eps(text: str | float, *, upper: float | None = 1.0) -> float:
    """An eps in pixel units from ``"8/255"``, ``"0.03"`` or a number.

    Linf radii live in [0, 1] (the default ``upper``); pass ``upper=None`` for
    l2 and l1 lengths, which may exceed 1.

    Example:
        >>> parse_eps("8/255") == 8 / 255, parse_eps("0.5"), parse_eps("3", upper=None)
        (True, 0.5, 3.0)
    """
    if isinstance(text, bool):
        raise ParameterError(f"eps must be a number like 8/255 or 0.03, not {text!r}")
    if isinstance(text, (int, float)):
        value = float(text)
    else:
        raw = str(text).strip()
        try:
            if "/" in raw:
                num, den = raw.split("/", 1)
                if "e" in raw.lower():  # Fraction("1e99999999") would spell out 100 million digits
                    value = float(num) / float(den)
                else:
                    value = float(Fraction(num.strip()) / Fraction(den.strip()))
            else:
                value = float(raw)
        except (ValueError, ZeroDivisionError):
            raise ParameterError(f"eps must be a number like 8/255 or 0.03, not {raw!r}") from None
    if not math.isfinite(value) or value < 0 or (upper is not None and value > upper):
        span = f"in [0, {upper:g}]" if upper is not None else "a non-negative number"
        raise ParameterError(f"eps must be {span} (pixel units, e.g. 8/255), not {text}")
    return value


def _flat(x: torch.Tensor) -> torch.Tensor:
    return x.reshape(x.shape[0], -1)


def _view(v: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """Per-sample values (N,) shaped to broadcast against (N, ...) ``like``."""
    return v.reshape((-1,) + (1,) * (like.dim() - 1))


class Norm(Protocol):
    """The per-norm pieces of a gradient attack."""

    name: str

    def distance(self, delta: torch.Tensor) -> torch.Tensor:
        """Per-sample norm (N,) of a perturbation (N, ...)."""

    def project(self, delta: torch.Tensor, eps: float) -> torch.Tensor:
        """The closest perturbation inside the ball of radius ``eps``."""

    def direction(self, grad: torch.Tensor) -> torch.Tensor:
        """The steepest-ascent direction of unit norm for a gradient."""

    def random(self, shape: tuple[int, ...], eps: float, generator: torch.Generator) -> torch.Tensor:
        """One perturbation drawn uniformly from the ball (CPU, float32)."""


class LinfNorm:
    """L-infinity: every pixel may move by at most eps."""

    name = "linf"

    def distance(self, delta: torch.Tensor) -> torch.Tensor:
        return _flat(delta).abs().amax(dim=1)

    def project(self, delta: torch.Tensor, eps: float) -> torch.Tensor:
        return delta.clamp(-eps, eps)

    def direction(self, grad: torch.Tensor) -> torch.Tensor:
        return grad.sign()

    def random(self, shape: tuple[int, ...], eps: float, generator: torch.Generator) -> torch.Tensor:
        return (torch.rand(shape, generator=generator) * 2 - 1) * eps


class L2Norm:
    """L2: the Euclidean length of the perturbation is at most eps."""

    name = "l2"

    def distance(self, delta: torch.Tensor) -> torch.Tensor:
        norm: torch.Tensor = torch.linalg.vector_norm(_flat(delta), ord=2, dim=1)
        return norm

    def project(self, delta: torch.Tensor, eps: float) -> torch.Tensor:
        norm = self.distance(delta)
        factor = (eps / norm.clamp_min(1e-12)).clamp(max=1.0)
        return delta * _view(factor, delta)

    def direction(self, grad: torch.Tensor) -> torch.Tensor:
        return grad / _view(self.distance(grad).clamp_min(1e-12), grad)

    def random(self, shape: tuple[int, ...], eps: float, generator: torch.Generator) -> torch.Tensor:
        g = torch.randn(shape, generator=generator)
        radius = eps * math.pow(float(torch.rand((), generator=generator)), 1.0 / g.numel())
        length: torch.Tensor = torch.linalg.vector_norm(g)
        return g / length.clamp_min(1e-12) * radius


class L1Norm:
    """L1: the sum of absolute pixel changes is at most eps."""

    name = "l1"

    def distance(self, delta: torch.Tensor) -> torch.Tensor:
        return _flat(delta).abs().sum(dim=1)

    def project(self, delta: torch.Tensor, eps: float) -> torch.Tensor:
        """Euclidean projection onto the L1 ball (Duchi et al. 2008), per sample."""
        flat = _flat(delta)
        outside = flat.abs().sum(dim=1) > eps
        if not bool(outside.any()):
            return delta
        v = flat.abs()
        mu = v.sort(dim=1, descending=True).values
        cumsum = mu.cumsum(dim=1)
        ks = torch.arange(1, v.shape[1] + 1, device=v.device, dtype=v.dtype)
        cond = mu * ks > (cumsum - eps)
        rho = cond.to(torch.int64).cumsum(dim=1).argmax(dim=1, keepdim=True)
        theta = ((cumsum.gather(1, rho) - eps) / (rho + 1).to(v.dtype)).clamp_min(0)
        shrunk = flat.sign() * (v - theta).clamp_min(0)
        out = torch.where(outside[:, None], shrunk, flat)
        return out.reshape(delta.shape)

    def direction(self, grad: torch.Tensor) -> torch.Tensor:
        return grad / _view(self.distance(grad).clamp_min(1e-12), grad)

    def random(self, shape: tuple[int, ...], eps: float, generator: torch.Generator) -> torch.Tensor:
        n = math.prod(shape)
        e = -torch.rand(n + 1, generator=generator).clamp_min(1e-12).log()
        signs = torch.randint(0, 2, (n,), generator=generator) * 2 - 1
        return (e[:n] / e.sum() * signs * eps).reshape(shape)


#: The norms, by name. Attacks look their per-norm pieces up here.
NORMS: dict[str, Norm] = {n.name: n for n in (LinfNorm(), L2Norm(), L1Norm())}


@dataclass(frozen=True)
class ThreatModel:
    """What the attacker may do: move each image at most ``eps`` in ``norm``.

    Args:
        norm: ``"linf"``, ``"l2"`` or ``"l1"``.
        eps: the radius in [0, 1] pixel units (``parse_eps("8/255")``); for l2
            and l1 it is the length of the whole perturbation.
        bounds: the valid pixel range.
        quantize: keep every returned image on the 8-bit grid (multiples of
            1/255), so that a saved PNG is exactly the image that was judged.

    Example:
        >>> ThreatModel("l2", 0.5).norm_ops.name
        'l2'
    """

    norm: str = "linf"
    eps: float = 8 / 255
    bounds: tuple[float, float] = (0.0, 1.0)
    quantize: bool = True

    def __post_init__(self) -> None:
        if self.norm not in NORMS:
            raise ParameterError(f"unknown norm {self.norm!r}; choose one of {', '.join(NORMS)}")
        upper = 1.0 if self.norm == "linf" else None
        object.__setattr__(self, "eps", parse_eps(self.eps, upper=upper))
        lo, hi = (float(b) for b in self.bounds)
        if not lo < hi:
            raise ParameterError(f"bounds must be (low, high) with low < high, not {self.bounds}")
        object.__setattr__(self, "bounds", (lo, hi))

    @property
    def norm_ops(self) -> Norm:
        """The per-norm pieces (random start, direction, projection) for this norm."""
        return NORMS[self.norm]

    def distance(self, adversarial: torch.Tensor, clean: torch.Tensor) -> torch.Tensor:
        """Per-sample distance (N,) in this threat's norm."""
        return self.norm_ops.distance(adversarial - clean)

    def clip(self, candidate: torch.Tensor, clean: torch.Tensor) -> torch.Tensor:
        """Onto the eps ball intersected with the bounds (float, no grid)."""
        delta = self.norm_ops.project(candidate - clean, self.eps)
        return (clean + delta).clamp(*self.bounds)

    def project(self, candidate: torch.Tensor, clean: torch.Tensor) -> torch.Tensor:
        """Onto ball ∩ bounds ∩ 1/255 grid (just ball ∩ bounds without quantisation).

        ``clean`` must be on the grid (attacks quantise their inputs first). A
        pixel whose rounding would leave the ball is rounded toward the clean
        pixel instead, so the result never leaves the ball.
        """
        x = self.clip(candidate, clean)
        if not self.quantize:
            return x
        lo = math.ceil(self.bounds[0] * LEVELS - _TOL)
        hi = math.floor(self.bounds[1] * LEVELS + _TOL)
        base = torch.round(clean * LEVELS)
        steps = torch.round(x * LEVELS) - base
        if self.norm == "linf":
            limit = math.floor(self.eps * LEVELS + 1e-4)
            steps = steps.clamp(-limit, limit)
        else:
            steps = self._fit_ball(steps, (x - clean) * LEVELS)
        return (base + steps).clamp(lo, hi) / LEVELS

    def _fit_ball(self, steps: torch.Tensor, exact: torch.Tensor) -> torch.Tensor:
        """Integer steps inside the ball: rescale-and-round where rounding left it,
        then truncation toward the clean pixel (never longer than ``exact``)."""
        ops = self.norm_ops
        radius = self.eps * LEVELS * (1 + 1e-7)
        outside = ops.distance(steps) > radius
        if not bool(outside.any()):
            return steps
        length = ops.distance(steps).clamp_min(1e-12)
        rescaled = torch.round(exact * _view((radius / length).clamp(max=1.0), exact))
        still = ops.distance(rescaled) > radius
        fixed = torch.where(_view(still, exact), torch.trunc(exact), rescaled)
        return torch.where(_view(outside, steps), fixed, steps)

    def contains(self, adversarial: torch.Tensor, clean: torch.Tensor, tol: float = 1e-5) -> torch.Tensor:
        """Per-sample check (N,) bool: inside ball and bounds (and on the grid when quantising)."""
        ok = self.distance(adversarial, clean) <= self.eps + tol
        flat = _flat(adversarial)
        ok &= (flat >= self.bounds[0] - tol).all(1) & (flat <= self.bounds[1] + tol).all(1)
        if self.quantize:
            ok &= ((flat * LEVELS - torch.round(flat * LEVELS)).abs() < 1e-3).all(1)
        return ok

    def to_dict(self) -> dict[str, object]:
        return {"norm": self.norm, "eps": self.eps, "bounds": list(self.bounds),
                "quantize": self.quantize}
