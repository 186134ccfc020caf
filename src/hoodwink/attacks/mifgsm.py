"""MI-FGSM: sign steps along an accumulated gradient momentum (Dong et al. 2018).

Example:
    >>> result = MIFGSM(steps=10, decay=1.0)(model, images, Goal.untargeted(labels))  # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from hoodwink.attacks.gradient import GradientAttack, State
from hoodwink.attacks.registry import register_attack
from hoodwink.attacks.threat import ThreatModel
from hoodwink.errors import ParameterError


@register_attack("mifgsm", description="sign steps along a gradient momentum (Dong et al. 2018)",
                 norms=("linf", "l2"), paper="Dong et al. 2018, arXiv:1710.06081")
@dataclass(frozen=True)
class MIFGSM(GradientAttack):
    """Momentum iterative FGSM: ``g <- decay * g + grad / ||grad||_1``, step along ``g``.

    ``step_size`` defaults to ``eps / steps``.
    """

    steps: int = 10
    decay: float = 1.0

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.decay >= 0:
            raise ParameterError(f"decay must be non-negative, not {self.decay!r}")

    def default_step_size(self, threat: ThreatModel) -> float:
        return threat.eps / self.steps

    def init_state(self, x: torch.Tensor, clean: torch.Tensor, labels: torch.Tensor,
                   clean_logits: torch.Tensor, threat: ThreatModel, run: int) -> State:
        return {"momentum": torch.zeros_like(x)}

    def update(self, x: torch.Tensor, grad: torch.Tensor, *, loss: torch.Tensor, state: State,
               step: int, clean: torch.Tensor, threat: ThreatModel, step_size: float) -> torch.Tensor:
        l1 = grad.abs().reshape(grad.shape[0], -1).mean(dim=1).clamp_min(1e-12)
        momentum = state["momentum"].mul_(self.decay).add_(grad / l1.view(-1, *([1] * (grad.dim() - 1))))
        return x + step_size * threat.norm_ops.direction(momentum)

