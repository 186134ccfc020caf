"""Tiny models for the explanation tests (the real network only where a test says so)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from hoodwink.models import Classifier, wrap


def small_cnn(size: int = 16, classes: int = 3, seed: int = 0) -> Classifier:
    """conv-relu-conv-relu-pool-linear on size x size RGB images, seeded weights."""
    torch.manual_seed(seed)
    net = nn.Sequential(
        nn.Conv2d(3, 6, 3, padding=1), nn.ReLU(),
        nn.Conv2d(6, 8, 3, padding=1), nn.ReLU(),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, classes),
    )
    return wrap(net, [f"class{i}" for i in range(classes)], input_size=(size, size),
                mean=(0.5,) * 3, std=(0.5,) * 3, device="cpu")


class LinearLogits(nn.Module):
    """logit_0 = sum(w * x_normalised), logit_1 = 0: p(class 0) = sigmoid(w . x)."""

    def __init__(self, weight: torch.Tensor) -> None:
        super().__init__()
        self.weight = nn.Parameter(weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        score = (x * self.weight).flatten(1).sum(1)
        return torch.stack([score, torch.zeros_like(score)], 1)


def linear_model(weight: torch.Tensor) -> Classifier:
    """A classifier whose class-0 logit is linear in the pixels (mean 0, std 1: no normalisation)."""
    return wrap(LinearLogits(weight), ["yes", "no"], input_size=tuple(weight.shape[-2:]),
                mean=(0.0,) * 3, std=(1.0,) * 3, device="cpu")


@pytest.fixture
def cnn() -> Classifier:
    return small_cnn()


@pytest.fixture
def images() -> torch.Tensor:
    """Four 16x16 images on the 8-bit grid (the images the model is asked about)."""
    return torch.randint(0, 256, (4, 3, 16, 16), generator=torch.Generator().manual_seed(1)).float() / 255
