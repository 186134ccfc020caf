"""Class labels: names, synonyms and lookup by index, WordNet id or any name.

Example:
    >>> labels = imagenet_labels()
    >>> labels.find("panda"), labels.name(388)
    (388, 'giant panda')
    >>> labels.find("Paper Towel")
    700
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources

from hoodwink.errors import ClassNotFoundError


def _normalise(name: str) -> str:
    return re.sub(r"[\s_]+", " ", name.strip().lower())


@dataclass(frozen=True)
class Labels:
    """The classes of a classifier, in output order.

    Each class has one or more names (synonyms; the first is the display name)
    and optionally an identifier such as a WordNet id (``n01440764``).
    """

    synonyms: tuple[tuple[str, ...], ...]
    ids: tuple[str, ...] = ()
    _index: dict[str, list[tuple[int, int]]] = field(init=False, repr=False, compare=False)
    _spelling: dict[str, str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.synonyms:
            raise ValueError("labels need at least one class")
        index: dict[str, list[tuple[int, int]]] = {}
        spelling: dict[str, str] = {}
        for cls, names in enumerate(self.synonyms):
            for rank, name in enumerate(names):
                index.setdefault(_normalise(name), []).append((rank, cls))
                spelling.setdefault(_normalise(name), name)
        for cls, ident in enumerate(self.ids):
            index.setdefault(_normalise(ident), []).append((-1, cls))
            spelling.setdefault(_normalise(ident), ident)
        for hits in index.values():
            hits.sort()
        object.__setattr__(self, "_index", index)
        object.__setattr__(self, "_spelling", spelling)

    @classmethod
    def from_names(cls, names: Iterable[str]) -> Labels:
        """Labels with one name per class, e.g. ``Labels.from_names("0123456789")``."""
        return cls(tuple((str(n),) for n in names))

    def __len__(self) -> int:
        return len(self.synonyms)

    @property
    def names(self) -> list[str]:
        """The display name of every class, in output order."""
        return [names[0] for names in self.synonyms]

    def name(self, index: int) -> str:
        """Display name of class ``index``."""
        return self.synonyms[self._check_index(index)][0]

    def _check_index(self, index: int) -> int:
        if not 0 <= index < len(self):
            raise ClassNotFoundError(
                f"class index {index} is out of range: this model has classes 0 to {len(self) - 1}"
            )
        return index

    def find(self, query: int | str) -> int:
        """Index of a class named by index (``23``), id (``n01616318``) or any name.

        Names are case-insensitive. When several classes share a name, the one
        for which it is the more prominent synonym wins ("panda" is the giant
        panda, whose second name it is, not the lesser panda, whose third it is);
        ties go to the lower index. An unknown name raises
        :class:`ClassNotFoundError` with "did you mean ...?".
        """
        if isinstance(query, bool):
            raise ClassNotFoundError(f"not a class: {query!r}")
        if isinstance(query, int):
            return self._check_index(query)
        key = _normalise(str(query))
        hits = self._index.get(key)
        if hits:
            return hits[0][1]
        if key.lstrip("-").isdigit():
            return self._check_index(int(key))
        raise ClassNotFoundError(self._unknown_message(str(query)))

    def find_all(self, queries: Sequence[int | str]) -> list[int]:
        return [self.find(q) for q in queries]

    def suggest(self, query: str, n: int = 3) -> list[str]:
        """The closest known names to ``query``, best first."""
        key = _normalise(query)
        keys = list(self._index)
        close = difflib.get_close_matches(key, keys, n=n, cutoff=0.6)
        if len(close) < n:  # a word inside a longer name: "towel" -> "paper towel"
            words = [k for k in keys if key and key in k.split() and k not in close]
            close += sorted(words, key=len)[: n - len(close)]
        return [self._spelling[k] for k in close]

    def _unknown_message(self, query: str) -> str:
        hint = self.suggest(query)
        message = f"unknown class {query!r}"
        if hint:
            message += "; did you mean " + ", ".join(repr(h) for h in hint) + "?"
        return message


@lru_cache(maxsize=1)
def imagenet_labels() -> Labels:
    """The 1000 ImageNet-1k classes with all their WordNet synonyms."""
    text = resources.files("hoodwink.models").joinpath("data/imagenet_classes.txt").read_text("utf-8")
    ids, synonyms = [], []
    for line in text.splitlines():
        if not line.strip():
            continue
        wnid, _, names = line.partition(" ")
        ids.append(wnid)
        synonyms.append(tuple(n.strip() for n in names.split(",") if n.strip()))
    if len(ids) != 1000:
        raise RuntimeError(f"packaged ImageNet labels are damaged: {len(ids)} classes")
    return Labels(tuple(synonyms), tuple(ids))
