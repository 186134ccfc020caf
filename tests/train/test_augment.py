"""Random-shift augmentation: real translations, labels and range kept, deterministic for a seed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch
import torch.nn.functional as F

from hoodwink.train import TrainConfig, load_dataset, loop, random_shift, train


def _shifted(image: torch.Tensor, dy: int, dx: int) -> torch.Tensor:
    """``image`` (C, H, W) moved down by dy and right by dx, black where nothing comes in."""
    out = torch.zeros_like(image)
    h, w = image.shape[1:]
    out[:, max(dy, 0):h + min(dy, 0), max(dx, 0):w + min(dx, 0)] = \
        image[:, max(-dy, 0):h - max(dy, 0), max(-dx, 0):w - max(dx, 0)]
    return out


def test_every_image_is_a_translation_within_the_limit() -> None:
    images = torch.rand(64, 1, 12, 12)
    out = random_shift(images, 2, torch.Generator().manual_seed(0))
    assert out.shape == images.shape and out.dtype == images.dtype
    assert float(out.min()) >= 0 and float(out.max()) <= 1
    moves = []
    for image, moved in zip(images, out):
        found = [(dy, dx) for dy in range(-2, 3) for dx in range(-2, 3) if torch.equal(_shifted(image, dy, dx), moved)]
        assert len(found) == 1
        moves.append(found[0])
    assert len(set(moves)) > 10  # the 25 shifts are really drawn, not one for the batch


def test_shifts_are_deterministic_for_a_generator_and_zero_is_identity() -> None:
    images = torch.rand(8, 3, 10, 10)
    a = random_shift(images, 1, torch.Generator().manual_seed(4))
    b = random_shift(images, 1, torch.Generator().manual_seed(4))
    c = random_shift(images, 1, torch.Generator().manual_seed(5))
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert random_shift(images, 0, torch.Generator()) is images


def test_training_sees_shifted_batches_with_their_labels(mnist_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    split = load_dataset(mnist_dir)
    seen: list[tuple[torch.Tensor, torch.Tensor]] = []
    original = random_shift

    def spy(images: torch.Tensor, max_shift: int, generator: torch.Generator) -> torch.Tensor:
        out = original(images, max_shift, generator)
        seen.append((images, out))
        return out

    monkeypatch.setattr(loop, "random_shift", spy)
    labels_seen: list[torch.Tensor] = []
    forward = F.cross_entropy

    def loss(logits: torch.Tensor, labels: torch.Tensor, **kwargs: Any) -> torch.Tensor:
        labels_seen.append(labels)
        return forward(logits, labels, **kwargs)

    monkeypatch.setattr(F, "cross_entropy", loss)  # the module loop.py calls
    train("linear", split, TrainConfig(epochs=1, batch_size=100, augment=2), device="cpu")
    assert len(seen) == 5 and sum(len(labels) for labels in labels_seen) == len(split.train)
    assert all(not torch.equal(before, after) for before, after in seen)
    # the labels are the images' own: each shifted batch is the batch of the same training images
    rows = {tuple(img.flatten().tolist()): int(lab) for img, lab in zip(split.train.images, split.train.labels)}
    for (before, _), labels in zip(seen, labels_seen):
        assert [rows[tuple(img.flatten().tolist())] for img in before] == labels.tolist()


def test_augmented_training_is_deterministic_and_differs_from_plain(mnist_dir: Path) -> None:
    split = load_dataset(mnist_dir)
    config = TrainConfig(epochs=1, batch_size=64, seed=2, augment=2)
    a = train("linear", split, config, device="cpu").model.net.state_dict()
    b = train("linear", split, config, device="cpu").model.net.state_dict()
    plain = train("linear", split, TrainConfig(epochs=1, batch_size=64, seed=2), device="cpu").model.net.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not all(torch.equal(a[k], plain[k]) for k in a)
