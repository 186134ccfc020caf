"""The talk on the real EfficientNet-Lite0: success read back from the saved PNG."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from hoodwink.attacks import trick
from hoodwink.cli import app
from hoodwink.images import load_image, save_image
from hoodwink.predict import predict

pytestmark = pytest.mark.slow


def test_black_becomes_paper_towel_on_disk(imagenet_model, tmp_path: Path) -> None:
    result = trick(imagenet_model, "black", into="paper towel", eps="8/255", steps=8)
    assert bool(result.success) and result.adversarial_predictions[0][0].name == "paper towel"
    assert float(result.linf) <= 8 / 255 + 1e-6
    path = save_image(result.adversarial[0], tmp_path / "towel.png")
    pixels = load_image(path)
    assert torch.equal(pixels, result.adversarial[0].cpu())  # exactly the judged image
    assert predict(imagenet_model, path, top=1)[0].top1.name == "paper towel"
    trajectory = result.trajectory
    assert trajectory is not None and 700 in trajectory.classes
    assert trajectory.probability(700)[int(result.steps)] > trajectory.probability(700)[0]


def test_chelsea_becomes_a_vulture_through_the_command_line(tmp_path: Path) -> None:
    runner = CliRunner()
    out = tmp_path / "adv.png"
    done = runner.invoke(app, ["trick", "chelsea", "--into", "vulture", "--eps", "8/255", "--steps", "8",
                               "--out", str(out), "--json", "--device", "cpu"])
    assert done.exit_code == 0, done.output
    doc = json.loads(done.stdout)
    assert doc["success"] and doc["adversarial"][0]["name"] == "vulture" and doc["out"] == str(out)
    assert doc["linf"] <= 8 / 255 + 1e-6
    read = runner.invoke(app, ["predict", str(out), "--top", "1", "--json", "--device", "cpu"])
    assert read.exit_code == 0, read.output
    assert json.loads(read.stdout)[0]["predictions"][0]["name"] == "vulture"


def test_predict_trick_and_explain_ask_about_one_image() -> None:
    """A photo not at the input size: predict, trick and explain report the same clean
    probabilities to the last digit (all ask about the 8-bit image at 224x224)."""
    runner = CliRunner()
    args = ["--json", "--device", "cpu"]
    told = runner.invoke(app, ["predict", "rocket", "--top", "1", *args])
    tricked = runner.invoke(app, ["trick", "rocket", "--into", "vulture", "--steps", "1", *args])
    explained = runner.invoke(app, ["explain", "rocket", "--method", "saliency", *args])
    for done in (told, tricked, explained):
        assert done.exit_code == 0, done.output
    p = json.loads(told.stdout)[0]["predictions"][0]
    before = json.loads(tricked.stdout)["original"][0]
    assert load_image("rocket").shape[1:] != (224, 224)
    assert (p["name"], p["probability"]) == (before["name"], before["probability"])
    assert p["probability"] in _numbers(json.loads(explained.stdout))


def _numbers(doc: object) -> list[float]:
    if isinstance(doc, dict):
        return [x for v in doc.values() for x in _numbers(v)]
    if isinstance(doc, list):
        return [x for v in doc for x in _numbers(v)]
    return [doc] if isinstance(doc, float) else []
