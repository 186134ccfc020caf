"""``hoodwink serve-model``: options reach the app; the app answers in the protocol."""

from __future__ import annotations

import base64
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

from hoodwink.cli import app
from hoodwink.models.remote import encode_png

pytest.importorskip("fastapi", reason="hoodwink[serve] (FastAPI) is not installed")
pytest.importorskip("uvicorn", reason="hoodwink[serve] (uvicorn) is not installed")
pytest.importorskip("httpx", reason="FastAPI's TestClient needs httpx")

import hoodwink.cli.serve_model as serve_cli
from hoodwink.models import server

runner = CliRunner()


@pytest.fixture
def launched(monkeypatch: pytest.MonkeyPatch, sharp) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    seen: dict[str, Any] = {}

    def load(name: str, device: str | None = None, weights: str | None = None) -> Any:
        seen["model"] = name
        return sharp

    def serve(server_app: Any, *, host: str, port: int) -> None:
        seen.update(app=server_app, host=host, port=port)

    monkeypatch.setattr(serve_cli, "load_cli_model", load)
    monkeypatch.setattr(server, "serve", serve)
    return seen


def _ask(client: Any, pixels: np.ndarray) -> Any:
    body = {"image": base64.b64encode(encode_png(pixels)).decode()}
    return client.post("/predict", json=body)


def test_serve_model_passes_its_options_to_the_app(launched) -> None:
    from fastapi.testclient import TestClient

    out = runner.invoke(app, ["serve-model", "--model", "tiny", "--port", "8199", "--top", "3",
                              "--round", "2"])
    assert out.exit_code == 0, out.output
    assert (launched["model"], launched["host"], launched["port"]) == ("tiny", "127.0.0.1", 8199)
    client = TestClient(launched["app"])
    info = client.get("/predict").json()
    assert info["top"] == 3 and info["round"] == 2 and info["output"] == "probabilities"
    pixels = np.random.default_rng(0).integers(0, 256, (8, 8, 3), dtype=np.uint8)
    answer = _ask(client, pixels).json()["predictions"]
    assert len(answer) == 3
    assert all(p["probability"] == round(p["probability"], 2) for p in answer)


def test_labels_only_answers_a_label(launched) -> None:
    from fastapi.testclient import TestClient

    out = runner.invoke(app, ["serve-model", "--labels-only"])
    assert out.exit_code == 0, out.output
    client = TestClient(launched["app"])
    pixels = np.zeros((8, 8, 3), dtype=np.uint8)
    answer = _ask(client, pixels).json()
    assert set(answer) == {"label"} and set(answer["label"]) == {"index", "name"}
    assert client.post("/predict", content=b"not json").status_code == 400


def test_a_public_host_is_warned_about(launched) -> None:
    out = runner.invoke(app, ["serve-model", "--host", "0.0.0.0"])
    assert out.exit_code == 0 and "no login" in out.output


def test_by_default_every_class_is_answered(launched, sharp) -> None:
    from fastapi.testclient import TestClient

    out = runner.invoke(app, ["serve-model"])
    assert out.exit_code == 0, out.output
    assert "all classes" in out.output
    client = TestClient(launched["app"])
    answer = _ask(client, np.zeros((8, 8, 3), dtype=np.uint8)).json()["predictions"]
    assert len(answer) == len(sharp.labels) > 5
    assert abs(sum(p["probability"] for p in answer) - 1) < 1e-4
