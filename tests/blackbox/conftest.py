"""Tiny models for the black-box tests: white-box ones, and the same behind query-only doors."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import pytest
import torch
from torch import nn

from hoodwink.attacks import QueryModel
from hoodwink.models import Classifier, Labels

SIZE = (8, 8)


@pytest.fixture(autouse=True)
def _one_thread():  # type: ignore[no-untyped-def]
    """One thread: tiny models gain nothing from more threads on a shared machine."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def linear_classifier(weight: torch.Tensor, bias: torch.Tensor, size: tuple[int, int] = SIZE
                      ) -> Classifier:
    """logits = W x + b on images (3, *size); normalisation is the identity."""
    k, d = weight.shape
    layer = nn.Linear(d, k)
    with torch.no_grad():
        layer.weight.copy_(weight)
        layer.bias.copy_(bias)
    return Classifier(nn.Sequential(nn.Flatten(), layer),
                      Labels.from_names([f"class{i}" for i in range(k)]), input_size=size,
                      mean=(0.0, 0.0, 0.0), std=(1.0, 1.0, 1.0), resize=None, name="linear")


@pytest.fixture
def mlp() -> Classifier:
    """A small random ReLU network with 10 classes on (3, 8, 8) images."""
    torch.manual_seed(3)
    net = nn.Sequential(nn.Flatten(), nn.Linear(3 * 64, 64), nn.ReLU(), nn.Linear(64, 10))
    return Classifier(net, Labels.from_names([f"c{i}" for i in range(10)]), input_size=SIZE,
                      mean=(0.5, 0.5, 0.5), std=(0.25, 0.25, 0.25), resize=None, name="mlp")


@pytest.fixture
def sharp(mlp: Classifier) -> Classifier:
    """The same network with its logits times 8: top probabilities 0.2 to 0.4, not ~0.11
    (rounded to 2 digits, the plain mlp's answers are nearly all ties)."""
    with torch.no_grad():
        mlp.net[3].weight.mul_(8)
        mlp.net[3].bias.mul_(8)
    return mlp


@pytest.fixture
def images() -> torch.Tensor:
    """12 images (3, 8, 8) on the 8-bit grid, away from the bounds."""
    g = torch.Generator().manual_seed(7)
    return torch.randint(64, 192, (12, 3, *SIZE), generator=g).float() / 255


class Asked:
    """A query-only door to a torch classifier that keeps every batch it was asked."""

    def __init__(self, model: Classifier, *, output: str = "probabilities", top: int | None = None,
                 digits: int | None = None) -> None:
        self.model, self.output, self.top, self.digits = model, output, top, digits
        self.seen: list[np.ndarray] = []
        self.scores_asked = 0

    def __call__(self, pixels: np.ndarray) -> np.ndarray:
        self.seen.append(pixels.copy())
        x = torch.from_numpy(pixels).permute(0, 3, 1, 2).float() / 255
        with torch.no_grad():
            probs = self.model(x).softmax(1)
        if self.output == "labels":
            return probs.argmax(1).numpy()
        self.scores_asked += 1
        if self.top is not None:
            keep = probs.topk(self.top, dim=1).indices
            probs = torch.zeros_like(probs).scatter(1, keep, probs.gather(1, keep))
        out = probs.numpy()
        return np.round(out, self.digits) if self.digits is not None else out

    @property
    def rows(self) -> int:
        return sum(len(s) for s in self.seen)

    def query_model(self) -> QueryModel:
        return QueryModel(self, self.model.labels, output=self.output,
                          input_size=self.model.input_size, resize=None, name="asked")


@pytest.fixture
def asked() -> Callable[..., Asked]:
    """The :class:`Asked` factory."""
    return Asked


@pytest.fixture
def make_linear():  # type: ignore[no-untyped-def]
    """The :func:`linear_classifier` factory."""
    return linear_classifier


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def _served(model: Any, **options: Any) -> Iterator[tuple[str, Any]]:
    """A real uvicorn server for ``model`` on 127.0.0.1, stopped afterwards."""
    import uvicorn

    from hoodwink.models.server import make_app

    app = make_app(model, **options)
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the test server did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}/predict", app
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture
def served() -> Callable[..., Any]:
    """The :func:`_served` context manager: a real ``serve-model`` app on 127.0.0.1."""
    pytest.importorskip("uvicorn", reason="hoodwink[serve] (uvicorn) is not installed")
    pytest.importorskip("fastapi", reason="hoodwink[serve] (FastAPI) is not installed")
    return _served


@pytest.fixture
def free_port() -> Callable[[], int]:
    return _free_port
