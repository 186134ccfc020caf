"""Attacks registered by name, with metadata; unknown names get suggestions.

Example:
    >>> [a.name for a in list_attacks()][:3]          # doctest: +SKIP
    ['apgd-ce', 'apgd-dlr', 'apgd-t']
    >>> get_attack("pgd", steps=20).steps              # doctest: +SKIP
    20
"""

from __future__ import annotations

import dataclasses
import difflib
import fnmatch
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from hoodwink.errors import ParameterError

T = TypeVar("T", bound=type)


@dataclass(frozen=True)
class AttackInfo:
    """A registered attack: its name, class, norms and where it comes from."""

    name: str
    cls: type
    description: str
    norms: tuple[str, ...]
    paper: str = ""

    @property
    def params(self) -> dict[str, Any]:
        """Hyperparameter names and their defaults."""
        return {f.name: f.default for f in dataclasses.fields(self.cls)
                if f.init and f.default is not dataclasses.MISSING}


_REGISTRY: dict[str, AttackInfo] = {}


def register_attack(name: str, *, description: str, norms: tuple[str, ...] = ("linf", "l2"),
                    paper: str = "") -> Callable[[T], T]:
    """Class decorator: register an attack (a frozen dataclass) under ``name``.

    Example:
        >>> @register_attack("nothing", description="returns the clean images", norms=("linf",))
        ... @dataclasses.dataclass(frozen=True)
        ... class Nothing: ...                        # doctest: +SKIP
    """

    def decorate(cls: T) -> T:
        if name in _REGISTRY and _REGISTRY[name].cls.__qualname__ != cls.__qualname__:
            raise ParameterError(f"attack {name!r} is already registered")
        cls.name = name  # type: ignore[attr-defined]
        cls.norms = tuple(norms)  # type: ignore[attr-defined]
        _REGISTRY[name] = AttackInfo(name, cls, description, tuple(norms), paper)
        return cls

    return decorate


def _ensure_builtin() -> None:
    import hoodwink.attacks  # noqa: F401  (imports every attack module)


def attack_info(name: str) -> AttackInfo:
    """The registered attack called ``name`` (case-insensitive; ``_`` works for ``-``)."""
    _ensure_builtin()
    key = name.strip().lower().replace("_", "-")
    if key in _REGISTRY:
        return _REGISTRY[key]
    close = difflib.get_close_matches(key, list(_REGISTRY), n=3, cutoff=0.5)
    hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
    raise ParameterError(f"unknown attack {name!r}{hint} (known: {', '.join(sorted(_REGISTRY))})")


def get_attack(name: str, **params: Any) -> Any:
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
    return info.cls(**chosen)


def list_attacks(pattern: str = "*") -> list[AttackInfo]:
    """Registered attacks whose names match a shell-style ``pattern``, sorted by name."""
    _ensure_builtin()
    return [_REGISTRY[k] for k in sorted(_REGISTRY) if fnmatch.fnmatch(k, pattern)]
