"""``hoodwink transfer``: surrogates loaded by name, the target asked, JSON per image."""

from __future__ import annotations

import json
import statistics
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

import hoodwink.cli.transfer as transfer_cli
from hoodwink.cli import app
from hoodwink.images import load_image, save_image

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
    doc = json.loads(out.stdout)
    assert loaded == ["near0", "near1", "target"]
    assert doc["from"] == ["near0", "near1"] and doc["attack"] == "mifgsm-di"
    assert doc["then"] is None
    assert len(doc["samples"]) == 4 and all(s["queries"] == 2 for s in doc["samples"])
    assert doc["success_rate"] == sum(s["success"] for s in doc["samples"]) / 4
    for s in doc["samples"]:
        assert Path(s["out"]).is_file() and s["image"].endswith(".png")
    assert out.stderr.splitlines() == [f"saved {s['out']}" for s in doc["samples"]]
    plain = runner.invoke(app, ["transfer", str(folder), "--from", "near0", "--to", "target"])
    assert plain.exit_code == 0 and "transfer success" in plain.output


def test_transfer_then_square_reports_the_queries_of_each_image(zoo, images, tmp_path: Path
                                                              ) -> None:
    """--then square: the target's answers on Square's final images (saved at the target's
    input size), the queries per image within --queries, the crafted image's own successes
    at query 2, and the median queries of the fooled."""
    models, _ = zoo
    folder = tmp_path / "in"
    folder.mkdir()
    for i in range(6):
        save_image(images[i], folder / f"p{i}.png")
    args = ["transfer", str(folder), "--from", "near0", "--to", "target", "--eps", "6/255",
            "--then", "square", "--queries", "30"]
    out = runner.invoke(app, [*args, "--out-dir", str(tmp_path / "out"), "--json"])
    assert out.exit_code == 0, out.output
    doc = json.loads(out.stdout)
    assert doc["then"] == "square" and doc["then_params"]["queries"] == 30
    queries = [s["queries"] for s in doc["samples"]]
    assert max(queries) <= 30 and all(q == 30 for q, s in zip(queries, doc["samples"])
                                      if not s["success"])
    assert [s["start_fooled"] for s in doc["samples"]] == [
        s["success"] and s["queries"] == 2 for s in doc["samples"]]
    fooled = sorted(q for q, s in zip(queries, doc["samples"]) if s["success"])
    assert fooled and doc["median_queries"] == statistics.median(fooled)
    target = models["target"]
    for s in doc["samples"]:                # the saved PNG is the image the target judged
        with torch.no_grad():
            top = int(target(load_image(s["out"])[None]).argmax(1))
        assert target.labels.name(top) == s["target_adversarial"]
    table = runner.invoke(app, args)
    assert table.exit_code == 0, table.output
    text = " ".join(table.stdout.split())
    assert f"median queries of the fooled: {doc['median_queries']:g} (budget 30)" in text


def test_then_without_queries_uses_the_documented_default(zoo, images, tmp_path: Path) -> None:
    save_image(images[0], tmp_path / "p0.png")
    out = runner.invoke(app, ["transfer", str(tmp_path / "p0.png"), "--from", "near0", "--to",
                              "target", "--eps", "16/255", "--then", "square", "--json"])
    assert out.exit_code == 0, out.output
    assert json.loads(out.stdout)["then_params"]["queries"] == transfer_cli.THEN_QUERIES == 1000
    bad = runner.invoke(app, ["transfer", str(tmp_path / "p0.png"), "--from", "near0", "--to",
                              "target", "--then", "pgd"])
    assert bad.exit_code == 1 and "takes a start (square)" in bad.stderr
