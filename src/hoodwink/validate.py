"""One parameter validation for every hyperparameter in hoodwink.

Attacks, explanation methods and training configs are frozen dataclasses;
their ``__post_init__`` calls these checks, which raise
:class:`~hoodwink.errors.ParameterError` with one line naming the parameter.
``True`` is not an integer here (``batch_size=True`` is refused), NaN and
infinities are not numbers.

Example:
    >>> check_int("steps", 10)
    10
    >>> check_int("batch_size", True)
    Traceback (most recent call last):
    ...
    hoodwink.errors.ParameterError: batch_size must be an integer >= 1, not True
    >>> check_float("confidence", 0.5, low=0.0, high=1.0, high_open=True)
    0.5
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from hoodwink.errors import ParameterError


def check_int(name: str, value: Any, *, low: int = 1, high: int | None = None) -> int:
    """``value`` as an int in [low, high]; bools and floats are refused."""
    ok = isinstance(value, int) and not isinstance(value, bool)
    if ok and value >= low and (high is None or value <= high):
        return int(value)
    span = f">= {low}" if high is None else f"in [{low}, {high}]"
    raise ParameterError(f"{name} must be an integer {span}, not {value!r}")


def check_float(name: str, value: Any, *, low: float | None = None, high: float | None = None,
                low_open: bool = False, high_open: bool = False) -> float:
    """``value`` as a finite float inside the interval; bools and strings are refused."""
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if ok:
        v = float(value)
        above = low is None or (v > low if low_open else v >= low)
        below = high is None or (v < high if high_open else v <= high)
        if above and below:
            return v
    raise ParameterError(f"{name} must be {_interval(low, high, low_open, high_open)}, not {value!r}")


def check_choice(name: str, value: Any, choices: Iterable[str]) -> str:
    """``value`` as one of ``choices``."""
    options = list(choices)
    if isinstance(value, str) and value in options:
        return value
    raise ParameterError(f"{name} must be one of {', '.join(options)}, not {value!r}")


def check_bool(name: str, value: Any) -> bool:
    """``value`` as a bool (only True or False)."""
    if isinstance(value, bool):
        return value
    raise ParameterError(f"{name} must be True or False, not {value!r}")


def _interval(low: float | None, high: float | None, low_open: bool, high_open: bool) -> str:
    if low is None and high is None:
        return "a finite number"
    if high is None:
        return f"a number {'>' if low_open else '>='} {low:g}"
    if low is None:
        return f"a number {'<' if high_open else '<='} {high:g}"
    return f"a number in {'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"
