"""Goals: which way to move, the loss to maximise, and when a goal is reached."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from hoodwink.attacks import Goal
from hoodwink.errors import ParameterError

LOGITS = torch.tensor([[3.0, 1.0, 0.0], [0.0, 1.0, 3.0], [1.0, 1.2, 1.1]])


def test_untargeted_without_labels_moves_away_from_the_prediction() -> None:
    goal = Goal.untargeted()
    assert goal.labels(LOGITS).tolist() == [0, 2, 1]
    assert not goal.reached(LOGITS).any()  # every sample is still its own prediction
    assert Goal.untargeted([1, 2, 1]).reached(LOGITS).tolist() == [True, False, False]


def test_targeted_and_single_class_moves() -> None:
    assert Goal.targeted(2).reached(LOGITS).tolist() == [False, True, False]
    assert Goal.more_like(0).reached(LOGITS).tolist() == [True, False, False]
    assert Goal.less_like(0).reached(LOGITS).tolist() == [False, True, True]
    assert Goal.targeted([0, 0, 1]).reached(LOGITS).tolist() == [True, False, True]


def test_confidence_asks_for_the_winning_probability() -> None:
    p = LOGITS.softmax(1)
    goal = Goal.targeted(2)
    assert goal.reached(LOGITS, confidence=float(p[1, 2]) - 1e-4)[1]
    assert not goal.reached(LOGITS, confidence=float(p[1, 2]) + 1e-4)[1]
    away = Goal.untargeted([0, 0, 0])
    assert away.reached(LOGITS, confidence=0.5).tolist() == [False, True, False]


def test_loss_is_cross_entropy_away_and_minus_cross_entropy_toward() -> None:
    labels = torch.tensor([1, 1, 1])
    ce = F.cross_entropy(LOGITS, labels, reduction="none")
    assert torch.allclose(Goal.untargeted(1).loss(LOGITS), ce)
    assert torch.allclose(Goal.targeted(1).loss(LOGITS), -ce)


def test_bad_goals_are_refused() -> None:
    with pytest.raises(ParameterError):
        Goal.targeted(-1)
    with pytest.raises(ParameterError):
        Goal.targeted([])
    with pytest.raises(ParameterError, match="out of range"):
        Goal.targeted(5).labels(LOGITS)
    with pytest.raises(ParameterError, match="2 classes for 3"):
        Goal.targeted([0, 1]).labels(LOGITS)
