"""Training curves: the loss and the accuracy of each epoch, and where the test accuracy landed.

For ``hoodwink train --plot FILE`` and a :class:`~hoodwink.train.TrainResult` in
Jupyter. With adversarial training the curves are those of the adversarial
batches the network was trained on, so the title says so.

Example:
    >>> fig = training_plot([1, 2, 3], [0.9, 0.4, 0.3], [0.75, 0.9, 0.93], test_accuracy=0.95)
    >>> [ax.get_title() for ax in fig.axes]
    ['loss', 'accuracy']
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from matplotlib.figure import Figure

from hoodwink.errors import ParameterError
from hoodwink.viz.common import PALETTE, new_figure, percent

if TYPE_CHECKING:
    from hoodwink.train.loop import TrainResult


def training_plot(epochs: Sequence[int], loss: Sequence[float], accuracy: Sequence[float], *,
                  test_accuracy: float | None = None, test_label: str = "test accuracy",
                  title: str | None = None) -> Figure:
    """Two panels: training loss per epoch | training accuracy per epoch (and the test accuracy).

    Args:
        epochs, loss, accuracy: one value per epoch (accuracy in [0, 1]).
        test_accuracy: drawn as a dashed line on the accuracy panel, when given.
        test_label: its legend entry (the percentage is appended).
        title: optional figure title.
    """
    if not (len(epochs) == len(loss) == len(accuracy)) or not epochs:
        raise ParameterError(f"need one loss and one accuracy per epoch, got {len(epochs)} epochs, "
                             f"{len(loss)} losses and {len(accuracy)} accuracies")
    fig = new_figure(9.0, 3.4)
    left, right = fig.subplots(1, 2)
    left.plot(epochs, loss, marker="o", color=PALETTE[0], label="training loss")
    left.set_title("loss")
    left.set_xlabel("epoch")
    right.plot(epochs, accuracy, marker="o", color=PALETTE[1], label="training accuracy")
    if test_accuracy is not None:
        right.axhline(test_accuracy, linestyle="--", color=PALETTE[2],
                      label=f"{test_label} {percent(test_accuracy)}")
    right.set_title("accuracy")
    right.set_xlabel("epoch")
    right.set_ylim(min(min(accuracy), test_accuracy if test_accuracy is not None else 1.0) - 0.05, 1.0)
    right.legend(loc="lower right", fontsize=8)
    for ax in (left, right):
        ax.grid(alpha=0.3)
        ax.set_xticks(list(epochs) if len(epochs) <= 20 else ax.get_xticks())
    if title:
        fig.suptitle(title)
    return fig


def training_figure(result: TrainResult) -> Figure:
    """:func:`training_plot` for a :class:`~hoodwink.train.TrainResult`.

    Example:
        >>> result = train("mlp", split, TrainConfig(epochs=5))        # doctest: +SKIP
        >>> save_figure(training_figure(result), "training.png")      # doctest: +SKIP
    """
    config = result.config
    how = f", {config.adversarial.upper()} adversarial batches (eps {config.eps:g})" if config.adversarial else ""
    history = result.history
    return training_plot([e.epoch for e in history], [e.loss for e in history], [e.accuracy for e in history],
                         test_accuracy=result.test_accuracy,
                         test_label="clean test accuracy" if config.adversarial else "test accuracy",
                         title=f"{result.arch}: {result.train_size:,} training images{how}")
