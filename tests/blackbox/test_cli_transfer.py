"""``hoodwink transfer``: surrogates loaded by name, the target asked, JSON per image."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

import hoodwink.cli.transfer as transfer_cli
from hoodwink.cli import app
from hoodwink.images import save_image

runner = CliRunner()


@pytest.fixture
def zoo(monkeypatch: pytest.MonkeyPatch, make_linear):  # type: ignore[no-untyped-def]
    g = torch.Generator().manual_seed(0)
    w = torch.randn(10, 192, generator=g)
    models = {"target": make_linear(w, torch.zeros(10)),
              "near0": make_linear(w + 0.3 * torch.randn(10, 192, generator=g), torch.zeros(10)),
              "near1": make_linear(w + 0.3 * torch.randn(10, 192, generator=g), torch.zeros(10))}
    loaded: list[str] = []

    def load(name: str, device: str | None = None, weights: str | None = None):  # type: ignore[no-untyped-def]
        loaded.append(name)
        return models[name]

    monkeypatch.setattr(transfer_cli, "load_cli_model", load)
    return models, loaded


def test_transfer_from_an_ensemble_to_a_target(zoo, images, tmp_path: Path) -> None:
    _, loaded = zoo
    folder = tmp_path / "in"
    folder.mkdir()
    for i in range(4):
        save_image(images[i], folder / f"p{i}.png")
    out = runner.invoke(app, ["transfer", str(folder), "--from", "near0,near1", "--to", "target",
                              "--eps", "16/255", "--out-dir", str(tmp_path / "out"), "--json"])
    assert out.exit_code == 0, out.output
    doc = json.loads(out.output)
    assert loaded == ["near0", "near1", "target"]
    assert doc["from"] == ["near0", "near1"] and doc["attack"] == "mifgsm-di"
    assert len(doc["samples"]) == 4 and all(s["queries"] == 2 for s in doc["samples"])
    assert doc["success_rate"] == sum(s["success"] for s in doc["samples"]) / 4
    for s in doc["samples"]:
        assert Path(s["out"]).is_file() and s["image"].endswith(".png")
    plain = runner.invoke(app, ["transfer", str(folder), "--from", "near0", "--to", "target"])
    assert plain.exit_code == 0 and "transfer success" in plain.output
