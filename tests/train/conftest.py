"""Fixtures for the digits lab: small synthetic "digits" written as MNIST IDX files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from hoodwink.train.data import write_idx

# Each class is a bright 8x8 block at its own place on the 28x28 canvas.
CORNERS = [(2 + 8 * (k // 4), 1 + 6 * (k % 4) + (k // 8) * 3) for k in range(10)]


def make_digits(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``n`` uint8 images (n, 28, 28) of 10 easily separable classes, and their labels."""
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % 10
    rng.shuffle(labels)
    images = rng.uniform(0, 0.25, size=(n, 28, 28))
    for i, k in enumerate(labels):
        top, left = CORNERS[k]
        dy, dx = rng.integers(-1, 2, size=2)
        images[i, max(0, top + dy) : top + dy + 8, max(0, left + dx) : left + dx + 8] = rng.uniform(0.8, 1.0)
    return np.round(images * 255).astype(np.uint8), labels.astype(np.uint8)


def write_mnist(folder: Path, n: int, *, part: str = "t10k", gz: bool = True, seed: int = 0) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    images, labels = make_digits(n, seed)
    suffix = ".gz" if gz else ""
    write_idx(images, folder / f"{part}-images-idx3-ubyte{suffix}")
    write_idx(labels, folder / f"{part}-labels-idx1-ubyte{suffix}")
    return folder


@pytest.fixture(scope="session")
def mnist_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with only MNIST-style test files: 600 synthetic digits."""
    return write_mnist(tmp_path_factory.mktemp("mnist"), 600)


@pytest.fixture(scope="session")
def digits_maker():  # type: ignore[no-untyped-def]
    """:func:`make_digits` (test modules cannot import conftest under --import-mode=importlib)."""
    return make_digits


@pytest.fixture(scope="session")
def mnist_writer():  # type: ignore[no-untyped-def]
    """:func:`write_mnist`."""
    return write_mnist


@pytest.fixture(autouse=True)
def _one_thread():  # type: ignore[no-untyped-def]
    """These models are tiny: one thread is as fast, and immune to a busy machine's stalls."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
