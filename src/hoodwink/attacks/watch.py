"""Watch queries being spent while an attack runs (progress bars).

The oracle counts queries per sample inside an attack call; a progress bar needs the
running total while the call runs, whatever the attack and whatever wraps the model
(EOT, FullSize, a remote API). A :class:`QueryMeter` is told of every oracle the
attack template makes inside its ``with`` block and sums their counters, so it
reports exactly what the attacks are charged: a gradient attack's extra forward
passes or EOT's K samples are not queries, and are not counted.

The meter may be read from another thread (Rich's refresh thread) while the attack
runs: it only reads counters.

Example:
    >>> import torch
    >>> from hoodwink.attacks import Goal, ThreatModel, get_attack
    >>> net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(12, 3))
    >>> with QueryMeter() as meter:
    ...     result = get_attack("square", seed=0)(net, torch.rand(2, 3, 2, 2), Goal.untargeted(),
    ...                                           ThreatModel("linf", 0.1), queries=5)
    >>> meter.spent() == int(result.queries.sum())
    True
"""

from __future__ import annotations

import contextvars

from hoodwink.attacks.oracle import Oracle

#: The meters open in this context (the attack template tells each of them its oracles).
_METERS: contextvars.ContextVar[tuple[QueryMeter, ...]] = contextvars.ContextVar(
    "hoodwink_query_meters", default=())


class QueryMeter:
    """Queries spent by the attacks called inside ``with meter:``, read live.

    Args:
        settled: queries already spent before the block (e.g. by a resumed run's rows).
    """

    def __init__(self, settled: int = 0) -> None:
        self.settled = settled
        self._oracles: list[Oracle] = []
        self._tokens: list[contextvars.Token[tuple[QueryMeter, ...]]] = []

    def __enter__(self) -> QueryMeter:  # noqa: PYI034
        self._tokens.append(_METERS.set((*_METERS.get(), self)))
        return self

    def __exit__(self, *exc: object) -> None:
        _METERS.reset(self._tokens.pop())

    def spent(self) -> int:
        """The settled queries and those charged so far to the oracles of the block."""
        return self.settled + sum(int(o.queries.sum()) for o in list(self._oracles))

    def settle(self, spent: int) -> None:
        """Forget the oracles seen so far: ``spent`` queries in all until now."""
        self._oracles = []
        self.settled = spent


def announce(oracle: Oracle) -> Oracle:
    """Tell the open meters of an oracle the attack template made (returns it)."""
    for meter in _METERS.get():
        meter._oracles.append(oracle)
    return oracle


__all__ = ["QueryMeter", "announce"]
