"""``--robust-to``, ``--eot-samples``, ``--verify``, ``--full-size`` and ``--quality`` on a tiny model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

import hoodwink.cli.attack as attack_cli
import hoodwink.cli.trick as trick_cli
from hoodwink.cli import app
from hoodwink.images import load_image, save_image
from hoodwink.models.classifier import model_input

runner = CliRunner()


@pytest.fixture
def model(monkeypatch: pytest.MonkeyPatch, tiny):  # type: ignore[no-untyped-def]
    def load(name: str, device: str | None = None, weights: str | None = None):  # type: ignore[no-untyped-def]
        return tiny

    monkeypatch.setattr(trick_cli, "load_cli_model", load)
    monkeypatch.setattr(attack_cli, "load_cli_model", load)
    return tiny


@pytest.fixture
def photo(tmp_path: Path) -> Path:
    torch.manual_seed(1)
    return save_image(torch.rand(3, 30, 40), tmp_path / "photo.png")


def run(*args: str) -> dict:  # type: ignore[type-arg]
    result = runner.invoke(app, [*args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)  # type: ignore[no-any-return]


def test_trick_jpeg_full_size_robust_and_verified(model, photo, tmp_path) -> None:
    out = tmp_path / "adv.jpg"
    doc = run("trick", str(photo), "--into", "bee", "--eps", "16/255", "--steps", "4",
              "--robust-to", "rotate:10,jpeg:80-90", "--eot-samples", "2", "--full-size",
              "--out", str(out), "--quality", "85", "--verify", "6")
    back = load_image(out)
    assert back.shape == (3, 30, 40) and doc["size"] == [30, 40]  # the photo's own size
    with torch.no_grad():
        seen = int(model(model_input(model, back)).argmax())
    assert doc["jpeg"]["quality"] == 85
    assert doc["success"] == doc["jpeg"]["success"] == (seen == 1)  # judged on the file
    assert doc["adversarial"][0]["name"] == model.labels.name(seen)
    assert doc["verify"]["transformations"] == 6 and doc["verify"]["seed"] == 1
    assert doc["robust_to"] == "rotate:10,jpeg:80-90"
    assert doc["backward"] == 2 * 4  # EOT spends every step: K=2 backward passes each


def test_a_failed_jpeg_is_not_called_a_success(model, photo, tmp_path, monkeypatch) -> None:
    from hoodwink.physical import outputs

    real = outputs.judge_jpeg

    def spoil(m, result, quality):  # type: ignore[no-untyped-def]
        judged = real(m, result, quality)
        return type(judged).build(
            attack=judged.attack, params=judged.params, threat=judged.threat, goal=judged.goal,
            names=judged.names, original=judged.original, adversarial=judged.adversarial,
            goal_classes=judged.goal_classes, success=torch.zeros_like(judged.success),
            clean_probabilities=judged.clean_probabilities,
            adversarial_probabilities=judged.adversarial_probabilities, forward=judged.forward,
            backward=judged.backward, steps=judged.steps)

    monkeypatch.setattr(outputs, "judge_jpeg", spoil)
    result = runner.invoke(app, ["trick", str(photo), "--into", "bee", "--eps", "16/255",
                                 "--out", str(tmp_path / "adv.jpg")])
    assert result.exit_code == 0, result.output
    assert "not tricked" in result.output and "read back" in result.output


@pytest.mark.parametrize("args, words", [
    (["--out", "x.png", "--quality", "80"], "--quality is for a JPEG --out"),
    (["--out", "x.gif"], "saved as .png"),
    (["--robust-to", "spin:3"], "unknown transformation 'spin'"),
])
def test_bad_options_are_one_line(model, photo, tmp_path, args, words) -> None:
    args = [str(tmp_path / a) if a.startswith("x.") else a for a in args]
    result = runner.invoke(app, ["trick", str(photo), "--into", "bee", *args])
    assert result.exit_code == 1 and words in result.output
    assert "Traceback" not in result.output


def test_attack_writes_jpegs_and_full_size_photos(model, tmp_path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    save_image(torch.rand(3, 30, 40), folder / "a.png")
    save_image(torch.rand(3, 24, 20), folder / "b.png")
    out = tmp_path / "out"
    doc = run("attack", str(folder), "--out-dir", str(out), "--into", "cat", "--steps", "3",
              "--full-size", "--quality", "90", "--verify", "3", "--robust-to", "noise:0.02",
              "--eot-samples", "2")
    assert sorted(p.name for p in out.glob("*.jpg")) == ["a.jpg", "b.jpg"]
    assert load_image(out / "b.jpg").shape == (3, 24, 20)
    for sample in doc["samples"]:
        assert sample["jpeg"]["quality"] == 90 and sample["verify"]["transformations"] == 3
