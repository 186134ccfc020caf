"""``hoodwink explain``: the JSON contract, the plot, errors; one real end-to-end run."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from hoodwink.cli import app

from .conftest import small_cnn


@pytest.fixture
def tiny_cli(monkeypatch):
    model = small_cnn(size=32)
    monkeypatch.setattr("hoodwink.cli.explain.load_cli_model", lambda name, device, weights: model)
    return model


def test_json_entry_per_image(tiny_cli, tmp_path):
    runner = CliRunner()
    result = runner.invoke(app, ["explain", "chelsea", "coffee", "--method", "saliency", "--target",
                                 "class2", "--curve-points", "4", "--plot", str(tmp_path / "m.png"), "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert [d["image"] for d in doc] == ["chelsea", "coffee"]
    for d in doc:
        assert d["method"] == "saliency" and d["target"] == "class2" and d["target_index"] == 2
        assert 0 <= d["deletion_auc"] <= 1 and 0 <= d["insertion_auc"] <= 1
    assert (tmp_path / "m.png").read_bytes().startswith(b"\x89PNG")


def test_versus_and_sanity(tiny_cli, tmp_path):
    from hoodwink.images import load_image, save_image

    adv = tmp_path / "adv.png"
    save_image(load_image("noise", size=(32, 32)), adv)
    runner = CliRunner()
    result = runner.invoke(app, ["explain", "chelsea", "--versus", str(adv), "--method", "gradcam",
                                 "--plot", str(tmp_path / "pair.png"), "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc[0]["clean"]["target"] == doc[0]["adversarial"]["target"]
    assert (tmp_path / "pair.png").exists()
    result = runner.invoke(app, ["explain", "chelsea", "--method", "random", "--sanity", "--curve-points", "2",
                                 "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)[0]["sanity"]["passed"] is False


def test_unknown_method_and_class_are_one_line_errors(tiny_cli):
    runner = CliRunner()
    result = runner.invoke(app, ["explain", "chelsea", "--method", "gradcm"])
    assert result.exit_code == 1
    assert "did you mean 'gradcam'" in result.stderr
    result = runner.invoke(app, ["explain", "chelsea", "--target", "zebra"])
    assert result.exit_code == 1 and "zebra" in result.stderr


def test_real_model_gradcam_end_to_end(imagenet_model, monkeypatch, tmp_path):
    # the command from the issue, on the bundled EfficientNet-Lite0 (loaded once per session)
    monkeypatch.setattr("hoodwink.cli.explain.load_cli_model", lambda name, device, weights: imagenet_model)
    runner = CliRunner()
    plot = tmp_path / "map.png"
    result = runner.invoke(app, ["explain", "chelsea", "--method", "gradcam", "--plot", str(plot),
                                 "--curve-points", "8", "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc[0]["target"] == "tiger cat" and doc[0]["method"] == "gradcam"
    assert 0 < doc[0]["deletion_auc"] < 1 and 0 < doc[0]["insertion_auc"] < 1
    assert doc[0]["parameters"] == {"batch_size": 16, "layer": None, "relu": True}
    assert plot.read_bytes().startswith(b"\x89PNG")
