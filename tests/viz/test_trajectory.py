from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from hoodwink.attacks import Goal, ThreatModel, get_attack, trick
from hoodwink.errors import ParameterError
from hoodwink.models import Classifier
from hoodwink.viz.trajectory import trajectory_figure, trajectory_plot

NAN = math.nan
PANDA = np.array([[0.90, 0.00, 0.10], [0.40, 0.05, 0.55], [0.02, 0.95, 0.03], [NAN, NAN, NAN]])
NAMES = ["giant panda", "vulture", "ostrich"]


def test_one_line_per_class_over_the_steps_with_the_stopped_rows_dropped() -> None:
    fig = trajectory_plot(PANDA, NAMES, title="panda -> vulture", target="vulture")
    (ax,) = fig.axes
    lines = ax.get_lines()
    assert [line.get_label() for line in lines] == NAMES
    for k, line in enumerate(lines):
        np.testing.assert_array_equal(line.get_xdata(), [0, 1, 2])  # the NaN row after the stop is gone
        np.testing.assert_allclose(line.get_ydata(), PANDA[:3, k])
    assert lines[1].get_linewidth() > lines[0].get_linewidth()  # the target stands out
    assert ax.get_title() == "panda -> vulture" and ax.get_xlabel() == "step" and ax.get_ylabel() == "probability"
    labels = {t.get_text() for t in ax.texts}
    assert labels == {"giant panda 90.0%", "vulture 95.0%", "ostrich 55.0%"}  # each labelled at its peak


def test_bad_shapes() -> None:
    with pytest.raises(ParameterError, match="3 classes of probabilities but 2 names"):
        trajectory_plot(PANDA, NAMES[:2])
    with pytest.raises(ParameterError, match="steps"):
        trajectory_plot(PANDA[0], NAMES)
    with pytest.raises(ParameterError, match="no recorded step"):
        trajectory_plot(np.full((2, 3), NAN), NAMES)


def test_trajectory_figure_shows_the_classes_the_attack_passed_through(
        linear_model: Classifier, image: torch.Tensor) -> None:
    result = trick(linear_model, image, into="ostrich", eps=32 / 255, steps=30)
    trajectory = result.trajectory
    assert trajectory is not None
    visited = trajectory.visited(0)
    assert len(visited) >= 2 and visited[-1] == linear_model.labels.find("ostrich")
    fig = trajectory_figure(result)
    lines = fig.axes[0].get_lines()
    names = [line.get_label() for line in lines]
    assert {linear_model.labels.name(c) for c in visited} <= set(names)
    steps = int(result.steps[0])
    for line in lines:
        column = trajectory.probability(linear_model.labels.find(line.get_label()))[: steps + 1, 0]
        np.testing.assert_allclose(line.get_ydata(), column.numpy(), atol=1e-6)
    thick = max(lines, key=lambda line: line.get_linewidth())
    assert thick.get_label() == "ostrich"
    assert "targeted: ostrich" in fig.axes[0].get_title()


def test_trajectory_figure_keeps_only_what_mattered_to_its_sample(
        linear_model: Classifier, image: torch.Tensor) -> None:
    images = torch.stack([image, image.flip(2)])
    result = get_attack("bim", steps=10)(linear_model, images, Goal.targeted((2, 0)), ThreatModel("linf", 16 / 255))
    assert result.trajectory is not None
    for i in range(2):
        names = {line.get_label() for line in trajectory_figure(result, i, min_probability=1.1).axes[0].get_lines()}
        wanted = {linear_model.labels.name(c) for c in result.trajectory.visited(i)}
        wanted.add(linear_model.labels.name(int(result.goal_classes[i])))
        assert names == wanted


def test_trajectory_figure_needs_a_trajectory(linear_model: Classifier, image: torch.Tensor) -> None:
    result = trick(linear_model, image, into="ostrich", eps=8 / 255, steps=2)
    with pytest.raises(ParameterError, match="out of range"):
        trajectory_figure(result, 1)
    from dataclasses import replace

    with pytest.raises(ParameterError, match="no trajectory"):
        trajectory_figure(replace(result, trajectory=None))
