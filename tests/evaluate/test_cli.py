"""``hoodwink evaluate``: the table, --json, --report, the store, one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from hoodwink.cli import app


@pytest.fixture(scope="module")
def model_file(linear_model, tmp_path_factory) -> str:  # type: ignore[no-untyped-def]
    from hoodwink.models import save_model

    return str(save_model(linear_model, tmp_path_factory.mktemp("m") / "linear.safetensors"))


@pytest.fixture()
def tiny(monkeypatch: pytest.MonkeyPatch, tiny_suite) -> None:  # type: ignore[no-untyped-def]
    """Every suite name gives the tiny suite (the CLI's wiring is under test, not the attacks)."""
    from hoodwink import evaluate

    monkeypatch.setattr(evaluate, "get_suite", lambda name="standard": tiny_suite)


def test_table_flags_and_report(model_file: str, digit_folder: Path, tmp_path: Path, tiny) -> None:  # type: ignore[no-untyped-def]
    report = tmp_path / "report"
    result = CliRunner().invoke(app, ["evaluate", str(digit_folder), "--model", model_file,
                                      "--eps", "0.3,0.35", "--report", str(report),
                                      "--batch-size", "20", "--limit", "10"])
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "judged against the true labels" in out
    assert "after apgd-ce" in out and "76.5/255" in out and "89.25/255" in out
    assert "ok   zero-gradient" in out
    saved = [line[6:] for line in result.stderr.splitlines() if line.startswith("saved ")]
    assert {Path(p).name for p in saved} >= {"report.json", "index.html", "curve.png", "broken.png"}
    assert all(Path(p).is_file() for p in saved)
    assert (report / "evaluate.sqlite").is_file()
    doc = json.loads((report / "report.json").read_text())
    assert doc["judged_against"] == "true labels" and doc["images"] == 10
    page = (report / "index.html").read_text()
    assert "true labels" in page and "Checks against false robustness" in page
    broken = [r for r in doc["samples"][1]["rows"] if r["correct"] and not r["robust"]]
    assert broken and all(Path(r["png"]).is_file() for r in broken)
    # the same command resumes: every row comes from the store
    again = CliRunner().invoke(app, ["evaluate", str(digit_folder), "--model", model_file,
                                     "--eps", "0.3,0.35", "--report", str(report), "--json",
                                     "--limit", "10"])
    assert again.exit_code == 0, again.output
    resumed = json.loads(again.stdout)
    assert resumed["resumed_rows"] == 30  # two budgets and the smallest-perturbation pass
    assert resumed["minimal"]["broken"] > 0
    assert resumed["evaluations"] == doc["evaluations"]


def test_json_is_one_document(model_file: str, digit_folder: Path, tmp_path: Path, tiny) -> None:  # type: ignore[no-untyped-def]
    result = CliRunner().invoke(app, ["evaluate", str(digit_folder), "--model", model_file,
                                      "--eps", "0.35", "--json", "--limit", "6", "--no-checks",
                                      "--no-minimal",
                                      "--store", str(tmp_path / "s.sqlite")])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["images"] == 6 and doc["flags"] == [] and doc["store"].endswith("s.sqlite")
    assert doc["minimal"] is None
    assert [a["after"] for a in doc["evaluations"][0]["accuracy_after"]] == [
        "clean", "apgd-ce", "apgd-t", "square"]


@pytest.mark.parametrize(("args", "message"), [
    (["no/such/folder"], "no/such/folder: no such file or folder"),
    (["{folder}", "--eps", "2/0"], "eps must be a number"),
    (["{folder}", "--suite", "strongest"], "unknown suite"),
])
def test_errors_are_one_line(model_file: str, digit_folder: Path, tmp_path: Path, args: list[str],
                             message: str) -> None:
    args = [a.replace("{folder}", str(digit_folder)) for a in args]
    result = CliRunner().invoke(app, ["evaluate", *args, "--model", model_file,
                                      "--store", str(tmp_path / "s.sqlite")])
    assert result.exit_code == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], result.stderr
