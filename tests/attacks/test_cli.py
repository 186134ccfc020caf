"""``hoodwink trick`` and ``hoodwink attack`` on a tiny model (the model loader is patched)."""

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

runner = CliRunner()


@pytest.fixture
def tiny(monkeypatch: pytest.MonkeyPatch, mlp):  # type: ignore[no-untyped-def]
    calls: list[tuple[object, ...]] = []

    def load(name: str, device: str | None = None, weights: str | None = None):  # type: ignore[no-untyped-def]
        calls.append((name, device, weights))
        return mlp

    monkeypatch.setattr(trick_cli, "load_cli_model", load)
    monkeypatch.setattr(attack_cli, "load_cli_model", load)
    return calls


@pytest.fixture
def photo(tmp_path: Path, images: torch.Tensor) -> Path:
    return save_image(images[0], tmp_path / "photo.png")


def read_back(mlp, path: Path) -> int:  # type: ignore[no-untyped-def]
    with torch.no_grad():
        return int(mlp(load_image(path)[None]).argmax())


def test_trick_json_and_the_saved_png_reads_back_as_the_adversarial_class(tiny, mlp, photo, tmp_path) -> None:
    out = tmp_path / "adv.png"
    result = runner.invoke(app, ["trick", str(photo), "--into", "c7", "--eps", "0.3", "--steps", "40",
                                 "--step-size", "2/255", "--out", str(out), "--json",
                                 "--model", "tiny", "--device", "cpu"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    for key in ("success", "original", "adversarial", "linf", "l2", "steps", "forward", "backward", "out"):
        assert key in doc
    assert doc["success"] is True and doc["out"] == str(out)
    assert doc["adversarial"][0]["name"] == "c7" and doc["linf"] <= 0.3 + 1e-6
    assert doc["forward"] == doc["steps"] + 1 and doc["backward"] == doc["steps"]
    assert read_back(mlp, out) == 7
    assert tiny == [("tiny", "cpu", None)]


@pytest.mark.parametrize("goal", [["--away"], ["--less-like", "c3"], ["--more-like", "c1"]])
def test_trick_other_goals_print_a_table(tiny, photo, goal: list[str]) -> None:
    result = runner.invoke(app, ["trick", str(photo), *goal, "--eps", "0.3", "--steps", "30"])
    assert result.exit_code == 0, result.output
    assert "tricked" in result.stdout and "forward" in result.stdout


@pytest.mark.parametrize("args, message", [
    (["--into", "c77"], "did you mean"),
    (["--into", "c1", "--eps", "abc"], "eps"),
    (["--into", "c1", "--eps", "-1"], "eps"),
    (["--into", "c1", "--eps", "2"], "eps"),
    (["--into", "c1", "--out", "adv.gif"], ".png"),  # .jpg is a JPEG output (tests/physical)
    (["--into", "c1", "--attack", "pgdd"], "did you mean 'pgd'"),
])
def test_trick_bad_input_is_one_line_and_exit_1_and_writes_nothing(
        tiny, photo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, args: list[str], message: str) -> None:
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["trick", str(photo), *args, "--out", "adv.png"]
                           if "--out" not in args else ["trick", str(photo), *args])
    assert result.exit_code == 1
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert result.stdout == ""
    assert sorted(p.name for p in tmp_path.iterdir()) == ["photo.png"]


def test_attack_writes_one_png_per_image_and_a_summary(tiny, mlp, images, tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    for i in range(5):
        save_image(images[i], folder / f"img{i}.png")
    out = tmp_path / "out"
    result = runner.invoke(app, ["attack", str(folder), "--attack", "bim", "--eps", "0.3", "--steps", "40", "--step-size", "2/255",
                                 "--into", "c2", "--batch-size", "2", "--out-dir", str(out), "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc == json.loads((out / "summary.json").read_text())
    assert sorted(p.name for p in out.iterdir()) == ["attack.sqlite"] + [f"img{i}.png" for i in range(5)] + [
        "summary.json"]  # the store of finished batches (a rerun resumes from it), no WAL left
    assert doc["images"] == 5 and doc["attack"] == "bim"
    for sample in doc["samples"]:
        fooled = read_back(mlp, Path(sample["out"])) == 2
        assert fooled == sample["success"]
    assert doc["success_rate"] == 1.0


def test_attack_plot_draws_the_images_and_a_bad_plot_path_stops_before_any_work(
        tiny, images, tmp_path: Path) -> None:
    for i in range(3):
        save_image(images[i], tmp_path / f"img{i}.png")
    plot, out = tmp_path / "grid.png", tmp_path / "out"
    files = [str(tmp_path / f"img{i}.png") for i in range(3)]
    args = ["attack", *files, "--attack", "fgsm", "--eps", "0.1", "--json", "--out-dir", str(out)]
    result = runner.invoke(app, [*args, "--plot", str(plot)])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["plot"] == str(plot)
    assert json.loads((out / "summary.json").read_text()) == json.loads(result.stdout)
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    bad = runner.invoke(app, [*args[:-1], str(tmp_path / "other"), "--plot", str(tmp_path / "grid.jpg")])
    assert bad.exit_code == 1 and ".png" in bad.stderr
    assert not (tmp_path / "other").exists() and not (tmp_path / "grid.jpg").exists()


def test_attack_list_names_every_attack() -> None:
    result = runner.invoke(app, ["attack", "--list", "--json"])
    assert result.exit_code == 0
    names = {a["name"] for a in json.loads(result.stdout)}
    assert {"fgsm", "bim", "pgd", "mifgsm", "apgd-ce", "apgd-dlr", "apgd-t"} <= names
