"""BIM: the talk's trick, many small sign-gradient steps (Kurakin et al. 2017).

Each step moves every pixel by ``step_size`` (1/255 by default, one 8-bit
level) along the sign of the gradient, starting from the clean image and
staying within eps: "one step of sign(gradient) toward paper towel raises it
from 4% to 16%; nine small steps make it 90% paper towel". When the steps
could not even reach a large eps that way (20 steps of 1/255 against eps 0.3
on digits), the default step is the smallest whole number of 8-bit levels that
covers 1.25 eps in ``steps`` steps, as Kurakin et al. size their iterations to eps.

Example:
    >>> result = BIM(steps=10)(model, black, Goal.targeted(700), ThreatModel("linf", 8 / 255))  # doctest: +SKIP
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from hoodwink.attacks.gradient import GradientAttack
from hoodwink.attacks.registry import register_attack
from hoodwink.attacks.threat import LEVELS, ThreatModel


@register_attack("bim", description="the talk's trick: small sign-gradient steps from the image "
                 "(Kurakin et al. 2017)", norms=("linf", "l2"),
                 paper="Kurakin et al. 2017, arXiv:1607.02533")
@dataclass(frozen=True)
class BIM(GradientAttack):
    """Basic iterative method: ``steps`` steps of ``step_size`` (default 1/255) from the clean image.

    The default linf step is ``ceil(1.25 * eps * 255 / steps) / 255``: one level
    (1/255) whenever the steps can cover 1.25 eps with it (eps <= 16/255 at 20
    steps), whole levels beyond. For l2 it is ``2.5 * eps / steps`` (a 1/255 step
    means nothing there). Early stopping makes the 20 default steps free for
    images that fall sooner.
    """

    steps: int = 20

    def default_step_size(self, threat: ThreatModel) -> float:
        if threat.norm != "linf":
            return 2.5 * threat.eps / self.steps
        levels = math.ceil(round(1.25 * threat.eps * LEVELS / self.steps, 9))
        return max(1, levels) / LEVELS
