from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from hoodwink import __version__
from hoodwink.cli import app
from hoodwink.images import save_image

runner = CliRunner()


def test_version() -> None:
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0 and result.stdout.strip() == f"hoodwink {__version__}"


def test_predict_json_is_one_document_with_the_contract_shape(tmp_path: Path, tiny_model_file: str) -> None:
    save_image(torch.zeros(3, 224, 224), tmp_path / "black.png")
    result = runner.invoke(app, ["predict", "chelsea", str(tmp_path / "black.png"), "--top", "3", "--json",
                                 "--model", tiny_model_file])
    assert result.exit_code == 0, result.stderr
    document = json.loads(result.stdout)  # stdout holds exactly one JSON document
    assert [entry["image"] for entry in document] == ["chelsea", str(tmp_path / "black.png")]
    for entry in document:
        assert set(entry) == {"image", "predictions"} and len(entry["predictions"]) == 3
        for p in entry["predictions"]:
            assert set(p) == {"index", "name", "probability"}
            assert isinstance(p["index"], int) and isinstance(p["name"], str) and 0 <= p["probability"] <= 1
        probs = [p["probability"] for p in entry["predictions"]]
        assert probs == sorted(probs, reverse=True)


@pytest.mark.slow
def test_predict_on_the_real_network_sees_the_cat_and_the_espresso() -> None:
    result = runner.invoke(app, ["predict", "chelsea", "coffee", "--top", "2", "--json"])
    assert result.exit_code == 0, result.stderr
    cat, coffee = json.loads(result.stdout)
    assert 281 <= cat["predictions"][0]["index"] <= 285
    assert coffee["predictions"][0]["name"] == "espresso"
    table = runner.invoke(app, ["predict", "coffee", "--top", "2"])
    assert table.exit_code == 0 and "espresso" in table.stdout


def test_predict_table(tiny_model_file: str) -> None:
    result = runner.invoke(app, ["predict", "black", "--top", "2", "--model", tiny_model_file])
    assert result.exit_code == 0 and "black" in result.stdout and "probability" in result.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["predict", "nope.png"], "nope.png: no such file"),
        (["predict", "chelsea", "--model", "efficientnet-lite9"], "unknown model"),
        (["predict", "chelsea", "--model", "missing.safetensors"], "missing.safetensors"),
        (["predict", "chelsea", "--device", "tpu9", "--model", "TINY"], "device"),
    ],
)
def test_bad_input_is_one_line_and_exit_1(args: list[str], message: str, tiny_model_file: str) -> None:
    result = runner.invoke(app, [tiny_model_file if a == "TINY" else a for a in args])
    assert result.exit_code == 1
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and message in lines[0]


def test_corrupt_file_is_exit_1(tmp_path: Path) -> None:
    path = tmp_path / "broken.png"
    path.write_bytes(b"\x89PNG\r\n\x1a\n broken")
    result = runner.invoke(app, ["predict", str(path), "--json"])
    assert result.exit_code == 1 and result.stdout == "" and "broken.png" in result.stderr


@pytest.mark.parametrize("args", [["predict"], ["predict", "chelsea", "--top", "0"], ["predict", "--bogus"], ["frobnicate"]])
def test_usage_errors_exit_2(args: list[str]) -> None:
    assert runner.invoke(app, args).exit_code == 2


def test_entry_point_has_no_traceback_unless_debug() -> None:
    command = [sys.executable, "-c", "from hoodwink.cli import main; main()", "predict", "nope.png"]
    quiet = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert quiet.returncode == 1 and "Traceback" not in quiet.stderr
    assert quiet.stderr.strip().startswith("error: nope.png")
    loud = subprocess.run(command + ["--debug"], capture_output=True, text=True, timeout=120, check=False)
    assert loud.returncode == 1 and "Traceback" in loud.stderr and "ImageError" in loud.stderr


def test_models_lists_the_default_with_its_weights() -> None:
    result = runner.invoke(app, ["models", "efficientnet-lite0", "--json"])
    assert result.exit_code == 0
    (row,) = json.loads(result.stdout)
    assert row["name"] == "efficientnet-lite0" and row["input_size"] == [224, 224]
    assert row["classes"] == 1000 and row["weights"] == "bundled"
