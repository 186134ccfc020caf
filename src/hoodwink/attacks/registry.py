"""Attacks registered by name, with metadata; unknown names get suggestions.

Example:
    >>> [a.name for a in list_attacks()][:3]          # doctest: +SKIP
    ['apgd-ce', 'apgd-dlr', 'apgd-t']
    >>> get_attack("pgd", steps=20).steps              # doctest: +SKIP
    20
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from hoodwink.errors import ParameterError
from hoodwink.registry import Registry

if TYPE_CHECKING:
    from hoodwink.attacks.engine import Attack

T = TypeVar("T", bound=type)


@dataclass(frozen=True)
class AttackInfo:
    """A registered attack: its name, class, norms and where it comes from.

    ``kind`` says what the attack needs of the model: ``"gradient"`` (white-box),
    ``"scores"`` (probabilities only) or ``"labels"`` (the top-1 label only).
    """

    name: str
    cls: type
    description: str
    norms: tuple[str, ...]
    paper: str = ""
    kind: str = "gradient"

    @property
    def params(self) -> dict[str, Any]:
        """Hyperparameter names and their defaults."""
        return {f.name: f.default for f in dataclasses.fields(self.cls)
                if f.init and f.default is not dataclasses.MISSING}


#: Every attack, by name; plug-ins register through the entry-point group ``hoodwink.attacks``.
ATTACKS = Registry[AttackInfo]("attack", builtin=("hoodwink.attacks",), group="hoodwink.attacks")


def register_attack(name: str, *, description: str, norms: tuple[str, ...] = ("linf", "l2"),
                    paper: str = "", kind: str = "gradient") -> Callable[[T], T]:
    """Class decorator: register an attack (a frozen dataclass) under ``name``; the
    name and the norms are declared here once and set on the class.

    Example:
        >>> @register_attack("nothing", description="returns the clean images", norms=("linf",))
        ... @dataclasses.dataclass(frozen=True)
        ... class Nothing: ...                        # doctest: +SKIP
    """
    if kind not in ("gradient", "scores", "labels"):
        raise ParameterError(f"kind must be gradient, scores or labels, not {kind!r}")

    def decorate(cls: T) -> T:
        cls.name = name  # type: ignore[attr-defined]
        cls.norms = tuple(norms)  # type: ignore[attr-defined]
        ATTACKS.add(name, AttackInfo(name, cls, description, tuple(norms), paper, kind))
        return cls

    return decorate


def attack_info(name: str) -> AttackInfo:
    """The registered attack called ``name`` (case-insensitive; ``_`` works for ``-``)."""
    return ATTACKS.get(name)


def get_attack(name: str, **params: Any) -> Attack:
    """An attack by name with hyperparameters, e.g. ``get_attack("pgd", steps=20)``.

    Parameters that are None are left at their defaults; an unknown parameter
    raises :class:`ParameterError` naming the ones the attack takes.
    """
    info = attack_info(name)
    known = info.params
    chosen = {k: v for k, v in params.items() if v is not None}
    unknown = sorted(set(chosen) - set(known))
    if unknown:
        raise ParameterError(
            f"attack {info.name!r} takes no parameter {', '.join(unknown)} "
            f"(it takes: {', '.join(known)})")
    attack: Attack = info.cls(**chosen)
    return attack


def list_attacks(pattern: str = "*") -> list[AttackInfo]:
    """Registered attacks whose names match a shell-style ``pattern``, sorted by name."""
    return ATTACKS.items(pattern)


def attacks_taking_start() -> list[str]:
    """The names of the attacks that can start from given images (``start=``), sorted.

    Example:
        >>> attacks_taking_start()
        ['square']
    """
    return [a.name for a in list_attacks() if getattr(a.cls, "takes_start", False)]
