"""Progress bars that read their numbers live: the queries an attack has spent.

Rich redraws a bar from its own thread; a :class:`LiveColumn` asks a function for its
text at every redraw, so a :class:`~hoodwink.attacks.watch.QueryMeter` filled by the
attack's oracles shows the queries spent while a batch runs, with no callback in the
attack's loop.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import RenderableType
from rich.progress import Progress, ProgressColumn, Task, TextColumn, TimeElapsedColumn
from rich.progress_bar import ProgressBar
from rich.text import Text

from hoodwink.attacks.watch import QueryMeter
from hoodwink.cli.app import err_console


class LiveColumn(ProgressColumn):
    """A progress-bar column drawn afresh from ``render()`` at every refresh."""

    def __init__(self, render: Callable[[], RenderableType]) -> None:
        super().__init__()
        self.draw = render

    def render(self, task: Task) -> RenderableType:
        return self.draw()


def query_text(spent: int, budget: int) -> str:
    """The bar's words: the queries spent of the budget (never past it)."""
    return f"{min(spent, budget):,}/{budget:,} queries"


@contextmanager
def query_progress(attack: str, budget: int | None) -> Iterator[QueryMeter | None]:
    """A transient bar on stderr of the queries the attacks inside the block spend of
    ``budget`` (nothing without a budget). Yields the meter (or None)."""
    if budget is None:
        yield None
        return
    meter = QueryMeter()
    columns = (TextColumn("{task.description}"),
               LiveColumn(lambda: ProgressBar(total=budget, completed=min(meter.spent(), budget),
                                              width=40)),
               LiveColumn(lambda: Text(query_text(meter.spent(), budget))), TimeElapsedColumn())
    with Progress(*columns, console=err_console, transient=True) as bar, meter:
        bar.add_task(attack, total=budget)
        yield meter


__all__ = ["LiveColumn", "query_progress", "query_text"]
