"""Watch a model being asked: a callback per batch of images judged (progress bars).

The oracle counts queries per sample inside an attack; a progress bar needs the
running total while the attack runs, whatever the attack. :func:`watch_queries`
reports every batch the model itself answers: a forward hook on a PyTorch module,
a wrapped ``fn`` on a :class:`~hoodwink.attacks.QueryModel` (removed afterwards).
For the query-based attacks each image the model answers is one query; gradient
attacks and EOT run more forward passes than they are charged queries.

Example:
    >>> import numpy as np
    >>> from hoodwink.attacks import QueryModel
    >>> from hoodwink.models import Labels
    >>> model = QueryModel(lambda x: np.full((len(x), 2), 0.5), Labels.from_names("ab"),
    ...                    input_size=(4, 4), resize=None)
    >>> seen = []
    >>> with watch_queries(model, seen.append):
    ...     _ = model.ask(np.zeros((3, 4, 4, 3), np.uint8))
    >>> seen
    [3]
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
from torch import nn

from hoodwink.attacks.oracle import QueryModel


@contextmanager
def watch_queries(model: Any, listener: Callable[[int], None]) -> Iterator[None]:
    """Call ``listener(k)`` each time ``model`` answers k images, inside the block.

    ``model`` is a :class:`QueryModel` or an ``nn.Module`` (a hoodwink Classifier, or a
    wrapper such as FullSize whose forward reaches it); anything else is not watched.
    """
    if isinstance(model, QueryModel):
        fn = model.fn

        def counted(pixels: np.ndarray) -> Any:
            answer = fn(pixels)
            listener(int(pixels.shape[0]))
            return answer

        model.fn = counted
        try:
            yield
        finally:
            model.fn = fn
    elif isinstance(model, nn.Module):
        def hook(module: nn.Module, args: tuple[Any, ...], output: Any) -> None:
            shape = getattr(args[0], "shape", None) if args else None
            listener(int(shape[0]) if shape else 1)

        handle = model.register_forward_hook(hook)
        try:
            yield
        finally:
            handle.remove()
    else:
        yield
