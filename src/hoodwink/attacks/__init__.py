"""Adversarial attacks: the threat model, goals, results, and the attacks themselves.

Every attack is a small frozen dataclass of hyperparameters with one call,
``attack(model, images, goal, threat) -> AttackResult``; the engine in
:mod:`hoodwink.attacks.base` keeps images on the 8-bit grid inside the threat,
stops each sample when it has succeeded, counts passes and records the
trajectory. :func:`trick` is the front door for one image.

Example:
    >>> from hoodwink.attacks import PGD, Goal, ThreatModel, get_attack, list_attacks
    >>> attack = get_attack("pgd", steps=20)                           # doctest: +SKIP
    >>> result = attack(model, images, Goal.targeted("vulture"), ThreatModel("linf", 8 / 255))  # doctest: +SKIP
"""

from __future__ import annotations

from hoodwink.attacks.apgd import APGD, APGDCE, APGDDLR, APGDT, dlr_loss, dlr_targeted_loss
from hoodwink.attacks.base import GradientAttack
from hoodwink.attacks.bim import BIM
from hoodwink.attacks.cw import CarliniWagnerL2
from hoodwink.attacks.deepfool import DeepFool
from hoodwink.attacks.fgsm import FGSM
from hoodwink.attacks.goals import Goal
from hoodwink.attacks.mifgsm import MIFGSM
from hoodwink.attacks.pgd import PGD
from hoodwink.attacks.registry import (
    AttackInfo,
    attack_info,
    get_attack,
    list_attacks,
    register_attack,
)
from hoodwink.attacks.result import AttackResult, Trajectory
from hoodwink.attacks.threat import NORMS, ThreatModel, parse_eps
from hoodwink.attacks.trick import trick

__all__ = [
    "APGD", "APGDCE", "APGDDLR", "APGDT", "BIM", "FGSM", "MIFGSM", "NORMS", "PGD",
    "AttackInfo", "AttackResult", "CarliniWagnerL2", "DeepFool", "Goal", "GradientAttack", "ThreatModel", "Trajectory",
    "attack_info", "dlr_loss", "dlr_targeted_loss", "get_attack", "list_attacks", "parse_eps",
    "register_attack", "trick",
]
