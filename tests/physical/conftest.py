"""Tiny models for the physical-world tests (no real network, a few milliseconds each)."""

from __future__ import annotations

import pytest
import torch

from hoodwink.models import Classifier, Labels


def tiny_classifier(seed: int = 0, size: int = 16, resize: int | None = 18) -> Classifier:
    torch.manual_seed(seed)
    net = torch.nn.Sequential(
        torch.nn.Conv2d(3, 6, 3, padding=1), torch.nn.ReLU(), torch.nn.AdaptiveAvgPool2d(2),
        torch.nn.Flatten(), torch.nn.Linear(24, 5))
    return Classifier(net, Labels.from_names(["ant", "bee", "cat", "dog", "eel"]),
                      input_size=(size, size), resize=resize, name="tiny")


@pytest.fixture
def tiny() -> Classifier:
    return tiny_classifier()


@pytest.fixture
def make_tiny():  # type: ignore[no-untyped-def]
    return tiny_classifier
