"""Fixtures for the figure tests: a tiny linear classifier whose gradients are known in closed form."""

from __future__ import annotations

import pytest
import torch

from hoodwink.models import Classifier, Labels, wrap


@pytest.fixture()
def linear_model() -> Classifier:
    """logits = W x + b on 3x4x4 images in [0, 1] (no normalisation), 4 classes."""
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3 * 4 * 4, 4))
    with torch.no_grad():
        net[1].weight.copy_(torch.randn(4, 48))
        net[1].bias.copy_(torch.tensor([2.0, 0.5, 0.0, -0.5]))
    labels = Labels.from_names(["giant panda", "vulture", "ostrich", "weasel"])
    return wrap(net, labels, input_size=(4, 4), mean=(0.0, 0.0, 0.0), std=(1.0, 1.0, 1.0))


@pytest.fixture()
def image() -> torch.Tensor:
    """A (3, 4, 4) image on the 8-bit grid, away from the bounds."""
    generator = torch.Generator().manual_seed(1)
    return torch.randint(64, 192, (3, 4, 4), generator=generator).float() / 255
