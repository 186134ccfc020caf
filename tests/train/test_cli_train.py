"""``hoodwink train``: trains, saves a file that predict (and trick) use, fails cleanly on bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image
from torch.nn import Sequential
from typer.testing import CliRunner

from hoodwink.cli import app
from hoodwink.models import load_model, read_metadata

runner = CliRunner()


@pytest.fixture(scope="module")
def trained(mnist_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict, str]:
    out = tmp_path_factory.mktemp("cli")
    result = runner.invoke(app, ["train", "mlp", "--data", str(mnist_dir), "--out", str(out / "mlp.safetensors"),
                                 "--epochs", "2", "--samples-dir", str(out / "pngs"), "--sample-count", "6",
                                 "--seed", "1", "--plot", str(out / "curves.png"), "--json"])
    assert result.exit_code == 0, result.stderr
    return out, json.loads(result.stdout), result.stderr


def test_train_json_document_and_saved_file(trained: tuple[Path, dict, str]) -> None:
    out, document, stderr = trained
    assert document["out"] == str(out / "mlp.safetensors") and document["arch"] == "mlp"
    assert document["test_accuracy"] >= 0.9 and document["train_size"] == 480 and document["test_size"] == 120
    assert document["config"]["seed"] == 1 and len(document["history"]) == 2
    assert "only test files found: training on the first 480, testing on the last 120" in " ".join(stderr.split())
    meta = read_metadata(out / "mlp.safetensors")
    assert meta["training"]["test_accuracy"] == document["test_accuracy"]
    assert meta["mean"] == pytest.approx([0.1307]) and meta["labels"][3] == ["3"]
    assert load_model(out / "mlp.safetensors", device="cpu").name == "mlp"
    assert document["plot"] == str(out / "curves.png")
    with Image.open(out / "curves.png") as picture:
        assert picture.format == "PNG"


def test_predict_reads_the_exported_digits(trained: tuple[Path, dict, str]) -> None:
    out, document, _ = trained
    assert len(document["samples"]) == 6
    result = runner.invoke(app, ["predict", *document["samples"], "--model", str(out / "mlp.safetensors"),
                                 "--top", "1", "--json"])
    assert result.exit_code == 0, result.stderr
    predicted = [entry["predictions"][0]["name"] for entry in json.loads(result.stdout)]
    truth = [Path(p).stem.split("-")[1] for p in document["samples"]]
    assert sum(p == t for p, t in zip(predicted, truth)) >= 5


def test_trick_turns_a_digit_into_a_3(trained: tuple[Path, dict, str]) -> None:
    out, document, _ = trained
    model = str(out / "mlp.safetensors")
    source = next(p for p in document["samples"] if not p.endswith("-3.png"))
    # the command as written: BIM's default steps must be able to reach eps 0.3
    result = runner.invoke(app, ["trick", source, "--model", model, "--into", "3", "--eps", "0.3",
                                 "--out", str(out / "adv.png"), "--json"])
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["success"] is True
    read_back = runner.invoke(app, ["predict", str(out / "adv.png"), "--model", model, "--json"])
    assert json.loads(read_back.stdout)[0]["predictions"][0]["name"] == "3"


def test_architecture_and_augmentation_options_reach_the_saved_file(mnist_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "cnn.safetensors"
    result = runner.invoke(app, ["train", "cnn", "--data", str(mnist_dir), "--out", str(out), "--epochs", "1",
                                 "--width", "4", "--hidden", "16", "--augment", "2", "--json"])
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["config"]["augment"] == 2
    meta = read_metadata(out)
    assert meta["options"] == {"width": 4, "hidden": 16} and meta["training"]["config"]["augment"] == 2
    net = load_model(out, device="cpu").net
    assert isinstance(net, Sequential)
    assert net[0].out_channels == 4 and net[-1].in_features == 16


def test_adversarial_training_defaults_to_batch_50_and_plain_to_128(mnist_dir: Path, tmp_path: Path) -> None:
    def config(*extra: str) -> dict:
        result = runner.invoke(app, ["train", "linear", "--data", str(mnist_dir), "--out",
                                     str(tmp_path / "l.safetensors"), "--epochs", "1", *extra, "--json"])
        assert result.exit_code == 0, result.stderr
        return json.loads(result.stdout)["config"]

    assert config()["batch_size"] == 128
    assert config("--adversarial", "fgsm", "--eps", "0.1")["batch_size"] == 50
    assert config("--adversarial", "fgsm", "--eps", "0.1", "--batch-size", "64")["batch_size"] == 64


def test_linear_templates_picture(mnist_dir: Path, tmp_path: Path) -> None:
    result = runner.invoke(app, ["train", "linear", "--data", str(mnist_dir), "--out", str(tmp_path / "l.safetensors"),
                                 "--epochs", "1", "--templates", str(tmp_path / "t.png")])
    assert result.exit_code == 0, result.stderr
    assert "test accuracy" in result.stdout
    with Image.open(tmp_path / "t.png") as picture:
        assert picture.format == "PNG" and picture.width > 400


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["mpl"], "did you mean 'mlp'"),
        (["mlp", "--out-suffix", ".pt"], "must be a .safetensors file"),
        (["mlp", "--data-missing"], "no such folder"),
        (["mlp", "--adversarial", "cw"], "unknown adversarial training 'cw'"),
        (["mlp", "--eps", "abc"], "eps must be a number"),
        (["mlp", "--split", "10-5"], "--split must look like 8000/2000"),
        (["cnn", "--templates", "t.png"], "weight templates of a linear classifier, not of 'cnn'"),
        (["mlp", "--width", "8"], "--width is an option of the cnn, not of 'mlp'"),
        (["linear", "--hidden", "8"], "--hidden is an option of mlp and cnn, not of 'linear'"),
        (["mlp", "--plot", "curves.jpg"], "figures are saved as .png"),
        (["linear", "--templates", "missing/t.png"], "missing does not exist"),
    ],
)
def test_bad_input_is_one_line_and_exit_1(mnist_dir: Path, tmp_path: Path, args: list[str], message: str) -> None:
    arch, *rest = args
    out = tmp_path / ("m.pt" if "--out-suffix" in rest else "m.safetensors")
    data = tmp_path / "absent" if "--data-missing" in rest else mnist_dir
    rest = [a for a in rest if a not in ("--out-suffix", ".pt", "--data-missing")]
    rest = [str(tmp_path / a) if a.endswith(".png") else a for a in rest]
    result = runner.invoke(app, ["train", arch, "--data", str(data), "--out", str(out), "--epochs", "1", *rest])
    assert result.exit_code == 1, result.output
    assert message in " ".join(result.stderr.split())
    assert "Traceback" not in result.stderr
    assert not out.exists()
