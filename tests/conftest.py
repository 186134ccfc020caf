"""Shared fixtures. Tests run offline on the CPU and never need ../shared."""

from __future__ import annotations

import os

import pytest
import torch

os.environ.setdefault("MPLBACKEND", "Agg")


@pytest.fixture(scope="session")
def imagenet_model():
    """The real EfficientNet-Lite0 (bundled weights), loaded once per session."""
    from hoodwink.models import load_model

    return load_model("efficientnet-lite0", device="cpu")


@pytest.fixture(autouse=True)
def _seed() -> None:
    torch.manual_seed(0)
