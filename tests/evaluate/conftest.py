"""Fixtures for the evaluation tests: tiny digits, a tiny trained net, a masked one."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from hoodwink.models.classifier import Classifier
from hoodwink.models.labels import Labels

# Each class is a bright 8x8 block at its own place on the 28x28 canvas.
CORNERS = [(2 + 8 * (k // 4), 1 + 6 * (k % 4) + (k // 8) * 3) for k in range(10)]


def make_digits(n: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` images (n, 1, 28, 28) on the 8-bit grid of 10 easily separable classes."""
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % 10
    rng.shuffle(labels)
    images = rng.uniform(0, 0.25, size=(n, 28, 28))
    for i, k in enumerate(labels):
        top, left = CORNERS[k]
        images[i, top:top + 8, left:left + 8] = rng.uniform(0.8, 1.0)
    pixels = torch.from_numpy(np.round(images * 255) / 255).float().unsqueeze(1)
    return pixels, torch.from_numpy(labels).long()


def trained_linear(seed: int = 0, epochs: int = 5) -> Classifier:
    """The registered ``linear`` digits net, trained in a blink on synthetic digits."""
    from hoodwink.train.loop import build

    images, labels = make_digits(400, seed=1)
    model = build("linear", seed=seed)
    params = list(model.net.parameters())
    model.requires_grad_(True)
    for _ in range(epochs):  # plain SGD: torch.optim's first step costs seconds of imports
        for i in range(0, len(images), 50):
            loss = nn.functional.cross_entropy(model(images[i:i + 50]), labels[i:i + 50])
            grads = torch.autograd.grad(loss, params)
            with torch.no_grad():
                for p, g in zip(params, grads):
                    p -= 0.1 * g
    model.requires_grad_(False)
    return model


@pytest.fixture(scope="session")
def digits() -> tuple[torch.Tensor, torch.Tensor]:
    """40 test digits (images, labels)."""
    return make_digits(40, seed=7)


@pytest.fixture(scope="session")
def digits_maker():  # type: ignore[no-untyped-def]
    return make_digits


@pytest.fixture(scope="session")
def linear_model() -> Classifier:
    """A linear digits net trained for a second on the synthetic digits."""
    return trained_linear()


class _Saturated(nn.Module):
    """A linear net ending in a saturated softmax: outputs probabilities, gradients vanish."""

    def __init__(self, inner: nn.Module) -> None:
        super().__init__()
        self.inner = inner
        self.softmax = nn.Softmax(dim=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.softmax(self.inner(x) * 1e4)


@pytest.fixture(scope="session")
def masked_model(linear_model: Classifier) -> Classifier:
    """The trained linear net behind a saturated softmax (false robustness by masking)."""
    return Classifier(_Saturated(linear_model.net), Labels.from_names(str(i) for i in range(10)),
                      input_size=(28, 28), mean=(0.0,), std=(1.0,), resize=None, channels=1,
                      name="masked")


@pytest.fixture(autouse=True)
def _one_thread():  # type: ignore[no-untyped-def]
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture()
def digit_folder(tmp_path: Path, digits: tuple[torch.Tensor, torch.Tensor]) -> Path:
    """The 40 digits as PNGs named by class index (``07_3.png``: image 7, class 3)."""
    from hoodwink.images import save_image

    images, labels = digits
    folder = tmp_path / "digits"
    folder.mkdir()
    for i, (image, label) in enumerate(zip(images, labels)):
        save_image(image, folder / f"{int(label)}_{i:03d}.png")
    return folder


@pytest.fixture(scope="session")
def tiny_suite():  # type: ignore[no-untyped-def]
    """The quick suite, shorter still: a few seconds for all the tests together."""
    from hoodwink.evaluate import Suite, SuiteAttack

    return Suite("tiny", (SuiteAttack("apgd-ce", (("steps", 10),)),
                          SuiteAttack("apgd-t", (("steps", 10), ("restarts", 1))),
                          SuiteAttack("square", (("steps", 10),))))
