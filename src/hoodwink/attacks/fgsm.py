"""FGSM: one step along the sign of the gradient (Goodfellow et al. 2015).

With ``random_start=True`` and ``step_size=1.25 * eps`` it is the "fast"
adversarial-training attack of Wong et al. 2020 ("Fast is better than free"):
a uniform start in the ball, then one step.

Example:
    >>> result = FGSM()(model, images, Goal.untargeted(labels), ThreatModel("linf", 8 / 255))  # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import dataclass

from hoodwink.attacks.gradient import GradientAttack
from hoodwink.attacks.registry import register_attack
from hoodwink.attacks.threat import ThreatModel
from hoodwink.errors import ParameterError


@register_attack("fgsm", description="one sign-gradient step of size eps (Goodfellow et al. 2015)",
                 norms=("linf", "l2"), paper="Goodfellow et al. 2015, arXiv:1412.6572")
@dataclass(frozen=True)
class FGSM(GradientAttack):
    """Fast gradient sign method: ``x + eps * sign(grad)`` (l2: the normalised gradient).

    ``step_size`` defaults to eps, or 1.25 * eps with a random start (Wong et al. 2020).
    """

    steps: int = 1

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.steps != 1:
            raise ParameterError("fgsm takes exactly one step; use bim or pgd for more")

    def default_step_size(self, threat: ThreatModel) -> float:
        return threat.eps * (1.25 if self.random_start else 1.0)
