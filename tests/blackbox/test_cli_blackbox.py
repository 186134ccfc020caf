"""``hoodwink trick --model http://... --attack square --queries N`` and ``hoodwink attack DIR
--attack hopskipjump --model onnx:... --queries N``: real query-only models, a budget per
image, and JSON that reports success, queries, norms and the budget."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from hoodwink.cli import app
from hoodwink.images import load_image, save_image

runner = CliRunner()


@pytest.fixture
def photo(tmp_path: Path, images: torch.Tensor) -> Path:
    return save_image(images[0], tmp_path / "photo.png")


def _json(output: str) -> dict:  # type: ignore[type-arg]
    return json.loads(output[output.index("{"):])


def test_trick_a_served_model_with_square_and_the_server_agrees(served, sharp, photo, tmp_path
                                                               ) -> None:
    from hoodwink.models.remote import load_remote

    out_png = tmp_path / "adv.png"
    with served(sharp, top=5, digits=2) as (url, _):
        result = runner.invoke(app, ["trick", str(photo), "--away", "--model", url, "--attack",
                                     "square", "--queries", "200", "--out", str(out_png),
                                     "--json"])
        assert result.exit_code == 0, result.output
        doc = _json(result.output)
        assert doc["success"] and 1 <= doc["queries"] <= 200
        assert doc["params"]["queries"] == 200 and doc["threat"]["norm"] == "linf"
        assert doc["threat"]["eps"] == pytest.approx(8 / 255) and doc["linf_255"] <= 8
        pixels = (load_image(out_png) * 255).round().byte().permute(1, 2, 0).numpy()[None]
        again = load_remote(url).ask(np.ascontiguousarray(pixels))   # the server, asked again
    assert int(again.argmax()) == doc["adversarial"][0]["index"] != doc["original"][0]["index"]


def test_trick_a_label_only_server_with_hopskipjump_reports_its_l2(served, sharp, photo
                                                                   ) -> None:
    with served(sharp, labels_only=True) as (url, app_):
        result = runner.invoke(app, ["trick", str(photo), "--away", "--model", url, "--attack",
                                     "hopskipjump", "--queries", "150", "--json"])
    assert result.exit_code == 0, result.output
    doc = _json(result.output)
    assert doc["success"] and doc["queries"] <= 150 and doc["l2"] > 0
    assert doc["threat"]["norm"] == "l2" and doc["threat"]["eps"] > 10   # no bound but the box
    assert app_.state.stats.answered <= 150


def test_the_plain_output_says_how_many_queries_it_took(served, sharp, photo) -> None:
    with served(sharp) as (url, _):
        result = runner.invoke(app, ["trick", str(photo), "--away", "--model", url, "--attack",
                                     "square", "--queries", "100"])
    assert result.exit_code == 0, result.output
    assert "of 100 queries" in result.output


def test_attack_a_folder_with_hopskipjump_on_an_onnx_model(sharp, images, tmp_path) -> None:
    pytest.importorskip("onnxruntime", reason="hoodwink[onnx] is not installed")
    pytest.importorskip("onnx", reason="hoodwink[onnx] is not installed")
    from hoodwink.models.onnx import export_onnx

    model_file = export_onnx(sharp, tmp_path / "sharp.onnx")
    folder = tmp_path / "in"
    folder.mkdir()
    for i in range(3):
        save_image(images[i], folder / f"img{i}.png")
    result = runner.invoke(app, ["attack", str(folder), "--attack", "hopskipjump", "--model",
                                 f"onnx:{model_file}", "--queries", "120", "--out-dir",
                                 str(tmp_path / "out"), "--json"])
    assert result.exit_code == 0, result.output
    doc = _json(result.output)
    assert doc["params"]["queries"] == 120 and doc["images"] == 3
    assert all(s["queries"] <= 120 and s["success"] for s in doc["samples"])
    assert doc["queries"] == sum(s["queries"] for s in doc["samples"])
    with torch.no_grad():
        for s in doc["samples"]:
            assert int(sharp(load_image(s["out"])[None]).argmax()) != s["goal_class"]["index"]


def test_a_gradient_attack_on_a_query_only_model_is_one_clear_line(served, sharp, photo) -> None:
    with served(sharp) as (url, _):
        result = runner.invoke(app, ["trick", str(photo), "--away", "--model", url])
    assert result.exit_code == 1
    assert "can only be queried" in result.output and "Traceback" not in result.output
