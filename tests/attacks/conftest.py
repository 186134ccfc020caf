"""Tiny analytic models for the attack tests (fast, CPU, no downloads)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from hoodwink.models import Classifier, Labels

SIZE = (4, 4)


@pytest.fixture(autouse=True)
def _one_thread():  # type: ignore[no-untyped-def]
    """One thread: tiny models gain nothing from more, and on a busy machine the
    threads of even the real network fight (a 2 s test becomes 45 s)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def linear_classifier(weight: torch.Tensor, bias: torch.Tensor | None = None) -> Classifier:
    """logits = W x + b on images (3, 4, 4): normalisation is the identity."""
    k, d = weight.shape
    layer = nn.Linear(d, k)
    with torch.no_grad():
        layer.weight.copy_(weight)
        layer.bias.copy_(torch.zeros(k) if bias is None else bias)
    net = nn.Sequential(nn.Flatten(), layer)
    return Classifier(net, Labels.from_names([f"class{i}" for i in range(k)]), input_size=SIZE,
                      mean=(0.0, 0.0, 0.0), std=(1.0, 1.0, 1.0), resize=None, name="linear")


@pytest.fixture
def binary_linear() -> Classifier:
    """Two classes; class 1 minus class 0 has weight w with entries of both signs."""
    g = torch.Generator().manual_seed(1)
    w = torch.randn(3 * 16, generator=g)
    return linear_classifier(torch.stack([torch.zeros_like(w), w]))


@pytest.fixture
def mlp() -> Classifier:
    """A small random ReLU network with 10 classes on (3, 4, 4) images."""
    torch.manual_seed(3)
    net = nn.Sequential(nn.Flatten(), nn.Linear(48, 64), nn.ReLU(), nn.Linear(64, 10))
    return Classifier(net, Labels.from_names([f"c{i}" for i in range(10)]), input_size=SIZE,
                      mean=(0.5, 0.5, 0.5), std=(0.25, 0.25, 0.25), resize=None, name="mlp")


@pytest.fixture
def images() -> torch.Tensor:
    """12 images on the 8-bit grid, away from the bounds."""
    g = torch.Generator().manual_seed(7)
    return torch.randint(64, 192, (12, 3, *SIZE), generator=g).float() / 255


class Counting(nn.Module):
    """Counts the rows that go through forward and backward passes of ``inner``."""

    def __init__(self, inner: nn.Module) -> None:
        super().__init__()
        self.inner = inner
        self.forward_rows = 0
        self.backward_rows = 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.forward_rows += x.shape[0]
        return self.inner(_CountGrad.apply(x, self))


class _CountGrad(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, counter):  # type: ignore[no-untyped-def]
        ctx.counter = counter
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad):  # type: ignore[no-untyped-def]
        ctx.counter.backward_rows += grad.shape[0]
        return grad, None


def counting(model: Classifier) -> Classifier:
    """The same classifier with its network wrapped in a pass counter."""
    return Classifier(Counting(model.net), model.labels, input_size=model.input_size,
                      mean=model.mean.flatten().tolist(), std=model.std.flatten().tolist(),
                      resize=None, name=model.name)


@pytest.fixture
def make_linear():  # type: ignore[no-untyped-def]
    """The :func:`linear_classifier` factory."""
    return linear_classifier


@pytest.fixture
def make_counting():  # type: ignore[no-untyped-def]
    """The :func:`counting` wrapper factory."""
    return counting
