"""PGD: projected gradient descent from a random start (Madry et al. 2018).

One loop for every norm: the steepest-ascent direction (sign for linf, the
normalised gradient for l2), the random start and the projection are the
per-norm pieces in :data:`hoodwink.attacks.threat.NORMS`; the step is
:meth:`GradientAttack.update`. Restarts draw a new start and retry only the
samples not yet fooled.

Example:
    >>> attack = PGD(steps=20, restarts=2, seed=0)                                  # doctest: +SKIP
    >>> result = attack(model, images, Goal.untargeted(labels), ThreatModel("l2", 0.5))
"""

from __future__ import annotations

from dataclasses import dataclass

from hoodwink.attacks.gradient import GradientAttack
from hoodwink.attacks.registry import register_attack


@register_attack("pgd", description="projected gradient descent from a random start, with restarts "
                 "(Madry et al. 2018)", norms=("linf", "l2", "l1"),
                 paper="Madry et al. 2018, arXiv:1706.06083")
@dataclass(frozen=True)
class PGD(GradientAttack):
    """Projected gradient descent: ``steps`` steps of ``step_size`` (default ``2.5 * eps / steps``)
    from a uniform random point in the ball, ``restarts`` extra runs on the unbroken samples.

    With l1 the step follows the L1-normalised gradient and the projection is
    the exact Euclidean projection onto the L1 ball (a weak but valid l1 attack).
    """

    steps: int = 20
    random_start: bool = True
