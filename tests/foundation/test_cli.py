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


@pytest.mark.slow  # a fresh Python process: seconds of start-up
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


# --- the command-line contract: goals, saved files, one meaning per option, help, tables -----------

NAMES = ["giant panda", "vulture", "ostrich", "weasel"]


@pytest.fixture
def linear_cli(monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """``trick``, ``predict`` and ``explain`` on a linear 4-class model of 3x8x8 images (no real network)."""
    import hoodwink.cli.explain as explain_cli
    import hoodwink.cli.predict as predict_cli
    import hoodwink.cli.trick as trick_cli
    from hoodwink.models import Labels, wrap

    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3 * 8 * 8, 4))
    with torch.no_grad():
        net[1].weight.copy_(torch.randn(4, 3 * 8 * 8) * 0.3)
        net[1].bias.copy_(torch.tensor([2.0, 0.5, 0.0, -0.5]))
    model = wrap(net, Labels.from_names(NAMES), input_size=(8, 8), mean=(0.0,) * 3, std=(1.0,) * 3)
    for module in (trick_cli, predict_cli, explain_cli):
        monkeypatch.setattr(module, "load_cli_model", lambda name, device=None, weights=None: model)
    return model


@pytest.mark.parametrize(("goal", "words"), [
    ([], "choose a goal: --into CLASS, --away, --less-like CLASS or --more-like CLASS"),
    (["--into", "vulture", "--away"], "choose one goal, not --into and --away"),
    (["--less-like", "vulture", "--more-like", "weasel"], "not --less-like and --more-like"),
])
def test_a_missing_or_doubled_goal_is_bad_usage_in_command_line_words(
        linear_cli, tmp_path: Path, goal: list[str], words: str) -> None:  # type: ignore[no-untyped-def]
    result = runner.invoke(app, ["trick", "black", *goal, "--out", str(tmp_path / "adv.png")])
    assert result.exit_code == 2 and result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and words in lines[0] and "=" not in lines[0]  # not Python's into=CLASS
    assert list(tmp_path.iterdir()) == []


def _trick_json(*args: str) -> dict:  # type: ignore[type-arg]
    result = runner.invoke(app, ["trick", "gray", *args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)  # type: ignore[no-any-return]


def test_less_like_lowers_and_more_like_raises_the_class(linear_cli) -> None:  # type: ignore[no-untyped-def]
    # ostrich is the top class of the gray image (93%), vulture the second (5.6%)
    less = _trick_json("--less-like", "ostrich", "--steps", "1")
    more = _trick_json("--more-like", "vulture", "--steps", "1")
    assert less["goal"]["kind"] == "less_like" and less["goal_class"]["name"] == "ostrich"
    assert more["goal"]["kind"] == "more_like" and more["goal_class"]["name"] == "vulture"
    assert less["goal_probability"]["after"] < less["goal_probability"]["before"]
    assert more["goal_probability"]["after"] > more["goal_probability"]["before"]
    assert less["linf_255"] == more["linf_255"] == pytest.approx(1.0)  # one step of 1/255


def test_trick_json_has_the_trajectory_of_the_goal_class(linear_cli) -> None:  # type: ignore[no-untyped-def]
    doc = _trick_json("--into", "ostrich", "--steps", "5", "--eps", "16/255")
    trajectory = doc["trajectory"]
    assert trajectory["class"] == {"index": 2, "name": "ostrich"}
    assert len(trajectory["probability"]) == doc["steps"] + 1 == len(trajectory["top1"])
    assert trajectory["probability"][0] == pytest.approx(doc["goal_probability"]["before"], abs=1e-6)
    assert trajectory["probability"][-1] == pytest.approx(doc["goal_probability"]["after"], abs=1e-6)
    assert trajectory["top1"][0] == doc["original"][0]["name"]


def test_one_step_is_one_step_of_step_size_and_is_reported_even_when_it_fails(
        linear_cli) -> None:  # type: ignore[no-untyped-def]
    doc = _trick_json("--into", "weasel", "--steps", "1", "--step-size", "1/255")
    assert doc["steps"] == 1 and doc["linf_255"] == pytest.approx(1.0)
    assert not doc["success"]
    table = runner.invoke(app, ["trick", "gray", "--into", "weasel", "--steps", "1"])
    assert table.exit_code == 0, table.output
    before, after = doc["goal_probability"]["before"], doc["goal_probability"]["after"]
    assert f"not tricked: p(weasel) went from {before:.3f} to {after:.3f}" in table.stdout


def test_every_out_and_plot_prints_one_saved_line_and_json_stays_alone_on_stdout(
        linear_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    out, plot = tmp_path / "adv.png", tmp_path / "trick.png"
    for extra in ([], ["--json"]):
        result = runner.invoke(app, ["trick", "gray", "--into", "vulture", "--out", str(out), "--plot", str(plot),
                                     *extra])
        assert result.exit_code == 0, result.output
        saved = [line for line in (result.stdout + result.stderr).splitlines() if line.startswith("saved ")]
        assert saved == [f"saved {out}", f"saved {plot}"]
        assert [line for line in result.stderr.splitlines() if line.startswith("saved ")] == saved
        if extra:
            json.loads(result.stdout)
    bars = tmp_path / "bars.png"
    result = runner.invoke(app, ["predict", "gray", "--plot", str(bars), "--json"])
    assert result.exit_code == 0 and json.loads(result.stdout)
    assert result.stderr.strip().splitlines() == [f"saved {bars}"]
    heat = tmp_path / "map.png"
    result = runner.invoke(app, ["explain", "gray", "black", "--method", "saliency", "--curve-points", "2",
                                 "--plot", str(heat)])
    assert result.exit_code == 0, result.output
    assert [line for line in result.stderr.splitlines() if line.startswith("saved ")] == [f"saved {heat}"]


def _help_pages() -> list[tuple[str, str]]:
    names = ["predict", "trick", "attack", "explain", "train", "models", "demo"]
    pages = [("hoodwink", runner.invoke(app, ["--help"]).stdout)]
    return pages + [(name, runner.invoke(app, [name, "--help"]).stdout) for name in names]


def test_help_speaks_command_line_not_python() -> None:
    for name, page in _help_pages():
        assert "--help" in page, name
        for python in ("<bool>", "<list[", "<str>", "<int", "<float", "<path>"):
            assert python not in page, (name, python)


def test_an_option_means_one_thing_in_every_command() -> None:
    """--samples is a count (explain), --steps attack steps (trick, attack): the other meanings have their own names."""
    pages = dict(_help_pages())
    assert "--samples " in pages["explain"] and "--samples-dir" in pages["train"]
    assert "--curve-points" in pages["explain"] and "--attack-steps" in pages["train"]
    for name, page in pages.items():
        if name not in ("trick", "attack"):
            assert "--steps " not in page, name
        if name != "explain":
            assert "--samples " not in page, name


def test_models_never_cuts_a_name(monkeypatch: pytest.MonkeyPatch) -> None:
    from hoodwink.cli.app import console
    from hoodwink.models import list_models

    monkeypatch.setattr(console, "_width", 64)
    result = runner.invoke(app, ["models"])
    assert result.exit_code == 0
    assert "…" not in result.stdout
    for info in list_models():
        assert info.name in result.stdout


def test_table_headings_keep_paths_in_one_piece(linear_cli, tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    from hoodwink.cli.app import console

    folder = tmp_path / ("a-long-folder-name-" * 3)
    folder.mkdir()
    photo = save_image(torch.rand(3, 8, 8), folder / "photo.png")
    monkeypatch.setattr(console, "_width", 50)
    for args in (["trick", str(photo), "--into", "vulture"], ["predict", str(photo)],
                 ["explain", str(photo), "--method", "saliency", "--curve-points", "2"]):
        result = runner.invoke(app, args)
        assert result.exit_code == 0, result.output
        assert str(photo) in result.stdout, args


def test_predict_goes_on_past_a_bad_image_and_reports_it(tmp_path: Path, tiny_model_file: str) -> None:
    from hoodwink.images import save_image

    folder = tmp_path / "photos"
    folder.mkdir()
    save_image(torch.zeros(3, 28, 28), folder / "a.png")
    (folder / "b.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    save_image(torch.ones(3, 28, 28), folder / "c.png")
    done = runner.invoke(app, ["predict", str(folder), "--json", "--model", tiny_model_file])
    assert done.exit_code == 1
    doc = json.loads(done.stdout)
    assert [d["image"] for d in doc[:2]] == [str(folder / "a.png"), str(folder / "c.png")]
    assert "b.png" in doc[2]["error"] and "b.png" in done.stderr
    assert "1 of 3 images could not be read" in done.stderr
    strict = runner.invoke(app, ["predict", str(folder), "--strict", "--model", tiny_model_file])
    assert strict.exit_code == 1 and "a.png" not in strict.stdout  # stopped before predicting


def test_a_plot_never_overwrites_an_input_unless_asked(tmp_path: Path, tiny_model_file: str) -> None:
    image = tmp_path / "digit.png"
    save_image(torch.zeros(3, 28, 28), image)
    before = image.read_bytes()
    for command in (["predict"], ["explain", "--method", "saliency"]):
        done = runner.invoke(app, [*command, str(image), "--plot", str(image), "--model", tiny_model_file])
        assert done.exit_code == 1 and "refusing to overwrite" in done.stderr
        assert image.read_bytes() == before
    done = runner.invoke(app, ["predict", str(image), "--plot", str(image), "--overwrite",
                               "--model", tiny_model_file])
    assert done.exit_code == 0 and image.read_bytes() != before


def test_trick_never_overwrites_its_input_unless_asked(tmp_path: Path, tiny_model_file: str) -> None:
    image = tmp_path / "digit.png"
    save_image(torch.zeros(3, 28, 28), image)
    before = image.read_bytes()
    args = ["trick", str(image), "--into", "3", "--steps", "2", "--model", tiny_model_file]
    for out in (["--out", str(image)], ["--plot", str(image)]):
        done = runner.invoke(app, [*args, *out])
        assert done.exit_code == 1 and "refusing to overwrite" in done.stderr
        assert image.read_bytes() == before
    done = runner.invoke(app, [*args, "--out", str(image), "--overwrite"])
    assert done.exit_code == 0, done.output


def test_an_error_prints_its_text_as_it_is(tmp_path: Path) -> None:
    """No emoji codes and no markup in one-line errors: "rotate:abc:" and "[red]" stay text."""
    done = runner.invoke(app, ["trick", "chelsea", "--into", "vulture", "--robust-to", "rotate:abc"])
    assert done.exit_code == 1 and "rotate:abc:" in done.stderr
    odd = tmp_path / "[red]x.png"
    done = runner.invoke(app, ["predict", str(odd)])
    assert done.exit_code == 1 and "[red]x.png" in done.stderr
