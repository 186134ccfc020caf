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


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A test that asks for the real network is slow, whether or not it says so."""
    for item in items:
        if "imagenet_model" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.slow)


@pytest.fixture(autouse=True)
def _real_model_only_when_slow(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Outside ``slow`` tests, loading the real ImageNet weights fails the test: mark it
    ``@pytest.mark.slow`` or give it a tiny model, so ``pytest -m "not slow"`` stays fast."""
    if request.node.get_closest_marker("slow") is not None:
        return
    from hoodwink.models import efficientnet

    def refuse(name: str) -> None:
        raise RuntimeError(f"this test loads the real {name} weights: mark it @pytest.mark.slow "
                           "or give it a tiny model")

    monkeypatch.setattr(efficientnet, "_weights_path", refuse)


@pytest.fixture(scope="session")
def tiny_model_file(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A saved (untrained, seeded) ``linear`` digits network: ``--model FILE`` without the real network."""
    from hoodwink.models import save_model
    from hoodwink.train.loop import build

    path = tmp_path_factory.mktemp("tiny") / "linear.safetensors"
    return str(save_model(build("linear", seed=0), path))
