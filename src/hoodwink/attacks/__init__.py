"""Adversarial attacks: the threat model, goals, results, and the attacks themselves.

Every attack is a small frozen dataclass of hyperparameters with one call,
``attack(model, images, goal, threat) -> AttackResult``; the engine in
:mod:`hoodwink.attacks.engine` (one template for every attack) and the model
oracle (:mod:`hoodwink.attacks.oracle`, the only door to the model) keep images
on the 8-bit grid inside the threat, stop each sample when it has succeeded,
count passes and queries per sample and record the trajectory. :func:`trick` is the front door for one image.

Example:
    >>> from hoodwink.attacks import PGD, Goal, ThreatModel, get_attack, list_attacks
    >>> attack = get_attack("pgd", steps=20)                           # doctest: +SKIP
    >>> result = attack(model, images, Goal.targeted("vulture"), ThreatModel("linf", 8 / 255))  # doctest: +SKIP
"""

from __future__ import annotations

from hoodwink.attacks.apgd import APGD, APGDCE, APGDDLR, APGDT, dlr_loss, dlr_targeted_loss
from hoodwink.attacks.bim import BIM
from hoodwink.attacks.boundary import Boundary
from hoodwink.attacks.cw import CarliniWagnerL2
from hoodwink.attacks.deepfool import DeepFool
from hoodwink.attacks.engine import Attack, AttackBase, Batch, Outcome, Recorder
from hoodwink.attacks.fgsm import FGSM
from hoodwink.attacks.goals import Goal
from hoodwink.attacks.gradient import GradientAttack
from hoodwink.attacks.hopskipjump import HopSkipJump
from hoodwink.attacks.mifgsm import MIFGSM
from hoodwink.attacks.nes import NES
from hoodwink.attacks.oracle import Oracle, QueryBudgetError, QueryModel
from hoodwink.attacks.pgd import PGD
from hoodwink.attacks.registry import (
    ATTACKS,
    AttackInfo,
    attack_info,
    get_attack,
    list_attacks,
    register_attack,
)
from hoodwink.attacks.result import AttackResult, Trajectory
from hoodwink.attacks.simba import SimBA, SimBADCT
from hoodwink.attacks.square import Square
from hoodwink.attacks.threat import NORMS, ThreatModel, parse_eps
from hoodwink.attacks.transfer import MIFGSMDI, MIFGSMDITI, Ensemble, TransferResult, transfer
from hoodwink.attacks.trick import trick

__all__ = [
    "APGD", "APGDCE", "APGDDLR", "APGDT", "ATTACKS", "BIM", "FGSM", "MIFGSM", "MIFGSMDI", "MIFGSMDITI", "NES",
    "NORMS", "PGD",
    "Attack", "AttackBase", "AttackInfo", "AttackResult", "Batch", "Boundary", "CarliniWagnerL2",
    "DeepFool", "Ensemble", "Goal", "GradientAttack", "HopSkipJump", "Oracle", "Outcome",
    "QueryBudgetError", "QueryModel", "Recorder", "SimBA", "SimBADCT", "Square", "ThreatModel",
    "Trajectory", "TransferResult",
    "attack_info", "dlr_loss", "dlr_targeted_loss", "get_attack", "list_attacks", "parse_eps",
    "register_attack", "transfer", "trick",
]
