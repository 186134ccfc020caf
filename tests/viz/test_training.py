"""The training-curve figure: its lines are the history, its title says what was trained on."""

from __future__ import annotations

import numpy as np
import pytest

from hoodwink import viz
from hoodwink.errors import ParameterError
from hoodwink.train.loop import EpochStats, TrainConfig, TrainResult
from hoodwink.viz.common import percent
from hoodwink.viz.training import training_figure, training_plot


def test_lines_are_the_history_and_the_test_accuracy_is_a_dashed_line() -> None:
    fig = training_plot([1, 2, 3], [0.9, 0.4, 0.3], [0.70, 0.90, 0.93], test_accuracy=0.95, title="mlp")
    loss, accuracy = fig.axes
    assert (loss.get_title(), accuracy.get_title(), fig.get_suptitle()) == ("loss", "accuracy", "mlp")
    np.testing.assert_allclose(loss.lines[0].get_ydata(), [0.9, 0.4, 0.3])
    np.testing.assert_allclose(accuracy.lines[0].get_ydata(), [0.70, 0.90, 0.93])
    test_line = accuracy.lines[1]
    assert test_line.get_linestyle() == "--"
    np.testing.assert_allclose(test_line.get_ydata(), [0.95, 0.95])
    assert f"test accuracy {percent(0.95)}" in [t.get_text() for t in accuracy.get_legend().get_texts()]


def test_mismatched_or_empty_history_is_refused() -> None:
    with pytest.raises(ParameterError, match="one loss and one accuracy per epoch"):
        training_plot([1, 2], [0.5], [0.8, 0.9])
    with pytest.raises(ParameterError):
        training_plot([], [], [])


def test_figure_of_a_result_names_the_network_and_adversarial_batches() -> None:
    history = tuple(EpochStats(e, 1.0 / e, 0.5 + 0.1 * e, 1.0) for e in (1, 2))
    result = TrainResult(model=None, arch="cnn", config=TrainConfig(epochs=2, adversarial="pgd", eps=0.3),  # type: ignore[arg-type]
                         history=history, test_accuracy=0.8, train_seconds=2.0, train_size=8000, test_size=2000)
    fig = training_figure(result)
    assert fig.get_suptitle() == "cnn: 8,000 training images, PGD adversarial batches (eps 0.3)"
    legend = [t.get_text() for t in fig.axes[1].get_legend().get_texts()]
    assert f"clean test accuracy {percent(0.8)}" in legend
    np.testing.assert_allclose(fig.axes[0].lines[0].get_ydata(), [1.0, 0.5])
    assert viz.png(result)[:8] == b"\x89PNG\r\n\x1a\n"
