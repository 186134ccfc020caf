"""One registry helper for attacks, explanation methods and models.

A :class:`Registry` maps names to entries. Built-in entries register
themselves when their modules are imported (the registry imports no entry
module itself: ``builtin`` names the package whose import registers them);
plug-ins register through an entry-point group (``hoodwink.attacks``,
``hoodwink.methods``, ``hoodwink.models``) whose modules are imported once, on
the first look-up. A broken plug-in fails loudly. Names are case-insensitive
and ``_`` stands for ``-``; an unknown name gets the closest names.

Example:
    >>> colours = Registry[str]("colour")
    >>> colours.add("dark-red", "#8b0000")
    >>> colours.get("Dark_Red")
    '#8b0000'
    >>> colours.get("dark-rde")
    Traceback (most recent call last):
    ...
    hoodwink.errors.ParameterError: unknown colour 'dark-rde'; did you mean 'dark-red'? (known: dark-red)
"""

from __future__ import annotations

import difflib
import fnmatch
import importlib
from importlib.metadata import entry_points
from typing import Generic, TypeVar

from hoodwink.errors import HoodwinkError, ParameterError

T = TypeVar("T")


class Registry(Generic[T]):
    """Named entries of one kind, with suggestions and plug-ins.

    Args:
        kind: what an entry is, for messages (``"attack"``).
        builtin: modules whose import registers the built-in entries.
        group: the entry-point group of plug-ins.
        error: the exception type for an unknown name.
        ordered: list entries by name (True) or in registration order.
    """

    def __init__(self, kind: str, *, builtin: tuple[str, ...] = (), group: str | None = None,
                 error: type[HoodwinkError] = ParameterError, ordered: bool = True) -> None:
        self.kind = kind
        self.builtin = builtin
        self.ordered = ordered
        self.group = group
        self.error = error
        self._entries: dict[str, T] = {}
        self._loaded = False

    @staticmethod
    def key(name: str) -> str:
        """The canonical form of a name: stripped, lower case, ``-`` for ``_``."""
        return name.strip().lower().replace("_", "-")

    def add(self, name: str, entry: T, *, replace: bool = False) -> None:
        """Register ``entry`` under ``name``; a second, different entry is refused."""
        key = self.key(name)
        old = self._entries.get(key)
        if old is not None and not replace and _identity(old) != _identity(entry):
            raise self.error(f"{self.kind} {key!r} is already registered")
        self._entries[key] = entry

    def _load(self) -> None:
        if self._loaded:
            return
        self._loaded = True
        for module in self.builtin:
            importlib.import_module(module)
        if self.group:
            for point in entry_points(group=self.group):
                try:
                    point.load()
                except Exception as exc:  # a plug-in's own bug: say which plug-in
                    raise self.error(f"plug-in {point.name!r} ({point.value}) of {self.group} "
                                     f"failed to load: {exc}") from exc

    def __contains__(self, name: str) -> bool:
        self._load()
        return self.key(name) in self._entries

    def get(self, name: str) -> T:
        """The entry called ``name``; an unknown name raises with the closest names."""
        self._load()
        key = self.key(name)
        if key in self._entries:
            return self._entries[key]
        close = difflib.get_close_matches(key, list(self._entries), n=3, cutoff=0.5)
        hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        raise self.error(f"unknown {self.kind} {name!r}{hint} (known: {', '.join(self.names())})")

    def names(self, pattern: str = "*") -> list[str]:
        """Registered names matching a shell-style ``pattern``, sorted."""
        self._load()
        keys = sorted(self._entries) if self.ordered else list(self._entries)
        return [k for k in keys if fnmatch.fnmatch(k, pattern)]

    def items(self, pattern: str = "*") -> list[T]:
        """Entries whose names match ``pattern``, sorted by name."""
        return [self._entries[k] for k in self.names(pattern)]


def _identity(entry: object) -> object:
    """What makes two registrations the same (a re-imported module registers again)."""
    inner = getattr(entry, "cls", None) or getattr(entry, "builder", None) or entry
    return getattr(inner, "__qualname__", inner), getattr(inner, "__module__", None)
