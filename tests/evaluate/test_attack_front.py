"""``hoodwink attack`` as a front over the evaluation code: judged against the true labels
when the file names carry them, rows committed batch by batch to ``attack.sqlite``, and a
killed run finished by the same command with the summary of an uninterrupted one."""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from hoodwink.cli import app
from hoodwink.images import load_image, save_image

runner = CliRunner()

#: ``hoodwink`` with Ctrl-C's default Python handler, even when started from a background job.
HOODWINK = [sys.executable, "-c", ("import signal, sys; signal.signal(signal.SIGINT, "
            "signal.default_int_handler); from hoodwink.cli import main; main(sys.argv[1:])")]


@pytest.fixture(scope="module")
def model_file(tmp_path_factory: pytest.TempPathFactory, linear_model) -> str:  # type: ignore[no-untyped-def]
    from hoodwink.models import save_model

    return str(save_model(linear_model, tmp_path_factory.mktemp("model") / "linear.safetensors"))


@pytest.fixture()
def named(tmp_path: Path, digits: tuple[torch.Tensor, torch.Tensor]) -> Path:
    """Six digits named by class index; the last two are named with a wrong class
    (``9_05.png`` holds a digit the model reads as another class): already wrong."""
    images, labels = digits
    folder = tmp_path / "named"
    folder.mkdir()
    for i in range(6):
        label = int(labels[i]) if i < 4 else (int(labels[i]) + 1) % 10
        save_image(images[i], folder / f"{label}_{i:02d}.png")
    return folder


def _misnamed(name: str) -> bool:
    return name.endswith(("_04.png", "_05.png"))


def attack(*args: str) -> tuple[int, dict, str]:  # type: ignore[type-arg]
    result = runner.invoke(app, ["attack", *args])
    return result.exit_code, json.loads(result.stdout) if result.exit_code == 0 else {}, result.stderr


def test_labels_from_file_names_are_used_and_said(named: Path, model_file: str, linear_model,  # type: ignore[no-untyped-def]
                                                  tmp_path: Path) -> None:
    common = ["--model", model_file, "--attack", "fgsm", "--eps", "0.02", "--json"]
    code, doc, err = attack(str(named), *common, "--out-dir", str(tmp_path / "a"))
    assert code == 0, err
    assert doc["judged_against"] == "true labels (file names)"
    names = [Path(s["image"]).name for s in doc["samples"]]
    assert [s["goal_class"]["index"] for s in doc["samples"]] == [int(n.split("_")[0]) for n in names]
    clean = [s["original"][0]["index"] for s in doc["samples"]]
    misnamed = [_misnamed(n) for n in names]
    assert sum(misnamed) == 2
    assert all((c != s["goal_class"]["index"]) == m for c, s, m in zip(clean, doc["samples"], misnamed))
    # the same images judged against the model's predictions
    code, doc, err = attack(str(named), *common, "--against", "predictions", "--out-dir", str(tmp_path / "p"))
    assert code == 0, err
    assert doc["judged_against"] == "the model's predictions (no labels)"
    assert [s["goal_class"]["index"] for s in doc["samples"]] == clean
    assert doc["already_wrong"] == 0 and not any(s["already_wrong"] for s in doc["samples"])
    # no labels in the names: auto falls back to the predictions; a target is said too
    plain = tmp_path / "plain"
    shutil.copytree(named, plain)
    next(plain.glob("*_01.png")).rename(plain / "one.png")
    code, doc, err = attack(str(plain), *common, "--out-dir", str(tmp_path / "n"))
    assert code == 0 and doc["judged_against"] == "the model's predictions (no labels)", err
    code, doc, err = attack(str(named), *common, "--into", "3", "--out-dir", str(tmp_path / "t"))
    assert code == 0 and doc["judged_against"] == "the target class", err
    assert {s["goal_class"]["index"] for s in doc["samples"]} == {3}


def test_an_image_already_misclassified_is_already_wrong_with_no_change(named: Path, model_file: str,  # type: ignore[no-untyped-def]
                                                                        linear_model, tmp_path: Path) -> None:
    out = tmp_path / "out"
    code, doc, err = attack(str(named), "--model", model_file, "--attack", "pgd", "--eps", "0.02",
                            "--steps", "5", "--out-dir", str(out), "--json")
    assert code == 0, err
    wrong = [s["already_wrong"] for s in doc["samples"]]
    assert wrong == [_misnamed(s["image"]) for s in doc["samples"]] and doc["already_wrong"] == 2
    for s in doc["samples"]:
        if s["already_wrong"]:
            assert s["success"] and s["linf"] == 0 and s["l0"] == 0 and s["steps"] == 0
            assert s["adversarial"][0]["index"] == s["original"][0]["index"]
            assert torch.equal(load_image(s["out"]), load_image(s["image"]))
            with torch.no_grad():
                seen = int(linear_model(load_image(s["out"])[:1][None]).argmax())
            assert seen != s["goal_class"]["index"]  # judged on the saved file: still wrong
    table = runner.invoke(app, ["attack", str(named), "--model", model_file, "--attack", "pgd", "--eps",
                                "0.02", "--steps", "5", "--out-dir", str(out), "--plot", str(tmp_path / "p.png")])
    assert table.exit_code == 0, table.stderr
    assert (tmp_path / "p.png").read_bytes()[:4] == b"\x89PNG"  # drawn from the rows and files read back
    assert "judged against true labels (file names)" in " ".join(table.stdout.split())
    assert table.stdout.count("already wrong") == 3  # two rows and the summary line
    assert "resumed: 6 of 6 images were already done" in table.stderr


def test_against_labels_without_labels_is_one_line_and_no_work(named: Path, model_file: str,
                                                               tmp_path: Path) -> None:
    next(named.glob("*_03.png")).rename(named / "four.png")
    out = tmp_path / "out"
    result = runner.invoke(app, ["attack", str(named), "--model", model_file, "--against", "labels",
                                 "--out-dir", str(out), "--json"])
    assert result.exit_code == 1 and result.stdout == ""
    assert len(result.stderr.strip().splitlines()) == 1
    assert "four.png: no true label" in result.stderr
    assert not out.exists()
    bad = runner.invoke(app, ["attack", str(named), "--model", model_file, "--against", "truth",
                              "--out-dir", str(out)])
    assert bad.exit_code == 1 and "auto, labels or predictions" in bad.stderr and not out.exists()


def test_the_queries_spent_can_be_read_while_a_batch_runs(digits, linear_model) -> None:  # type: ignore[no-untyped-def]
    from hoodwink.attacks import ThreatModel, get_attack
    from hoodwink.attacks.watch import QueryMeter
    from hoodwink.evaluate import Store
    from hoodwink.evaluate.attack_run import attack_images
    from hoodwink.images import NamedImage
    from hoodwink.models.classifier import Classifier

    read: list[int] = []  # what a progress bar would show, read at every forward pass

    class Spy(torch.nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            read.append(meter.spent())
            return linear_model.net(x)  # type: ignore[no-any-return]

    model = Classifier(Spy(), linear_model.labels, input_size=(28, 28), mean=(0.0,), std=(1.0,),
                       resize=None, channels=1, name="spy")
    meter = QueryMeter()
    images = [NamedImage(f"#{i}", digits[0][i].expand(3, -1, -1)) for i in range(4)]
    ends: list[tuple[int, int]] = []
    with Store(None) as store:
        run = attack_images(model, get_attack("square", steps=50), images,
                            [Path(f"/nonexistent/{i}.png") for i in range(4)], ThreatModel("linf", 0.01),
                            store=store, key="k", finish=lambda r, p: (r, [{} for _ in p]),
                            queries=40, batch_size=2, progress=lambda d, q: ends.append((d, q)),
                            meter=meter)
    spent = sum(r["sample"]["queries"] for r in run.rows)
    assert ends == [(0, 0), (2, ends[1][1]), (4, spent)] and 0 < ends[1][1] < spent <= 4 * 40
    assert meter.spent() == spent
    first = [q for q in read if q < ends[1][1]]
    assert len(set(first)) > 10 and read == sorted(read)  # it moved while the first batch ran


def _rows(store: Path) -> dict[int, dict]:  # type: ignore[type-arg]
    try:
        with sqlite3.connect(store) as db:
            return {int(i): json.loads(d) for i, d in db.execute("SELECT idx, doc FROM documents")}
    except sqlite3.OperationalError:
        return {}


def _same(doc: dict, out: Path) -> dict:  # type: ignore[type-arg]
    """A summary without what legitimately differs between two runs: the folder and 'resumed'."""
    text = json.dumps({k: v for k, v in doc.items() if k != "resumed"}, sort_keys=True)
    return json.loads(text.replace(str(out), "OUT"))


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory: pytest.TempPathFactory, model_file: str,  # type: ignore[no-untyped-def]
                  digits: tuple[torch.Tensor, torch.Tensor]) -> tuple[list[str], Path, dict]:  # type: ignore[type-arg]
    """Ten labelled digits, the arguments of a black-box attack on them in five batches,
    and the summary of a run that nothing stopped."""
    root = tmp_path_factory.mktemp("resume")
    folder = root / "digits"
    folder.mkdir()
    for i in range(10):
        save_image(digits[0][i], folder / f"{int(digits[1][i])}_{i:02d}.png")
    args = [str(folder), "--model", model_file, "--attack", "square", "--eps", "0.02",
            "--queries", "150", "--batch-size", "2", "--seed", "3", "--json"]
    torch.set_num_threads(1)
    done, reference, err = attack(*args, "--out-dir", str(root / "whole"))
    assert done == 0, err
    assert reference["judged_against"] == "true labels (file names)" and reference["resumed"] == 0
    assert reference["success_rate"] < 1  # every image is attacked for a while
    return args, root / "whole", reference


@pytest.mark.parametrize(("sig", "code"), [
    (signal.SIGTERM, 143),
    pytest.param(signal.SIGINT, 130, marks=pytest.mark.slow),  # a second CLI start-up (~5 s)
])
def test_a_killed_attack_resumes_to_the_uninterrupted_summary(uninterrupted, tmp_path: Path,  # type: ignore[no-untyped-def]
                                                              sig: int, code: int) -> None:
    args, whole, reference = uninterrupted
    out = tmp_path / "killed"
    process = subprocess.Popen([*HOODWINK, "attack", *args, "--out-dir", str(out)],
                               env={**os.environ, "OMP_NUM_THREADS": "1"},
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while process.poll() is None and time.monotonic() < deadline and not _rows(out / "attack.sqlite"):
        time.sleep(0.02)  # until its first batch is committed
    process.send_signal(sig)
    stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == code, stderr
    assert "run the same command to resume" in stderr.strip().splitlines()[-1] and stdout == ""
    assert "Traceback" not in stderr
    assert [p.name for p in out.iterdir() if p.name.endswith(".tmp")] == []
    kept = _rows(out / "attack.sqlite")
    assert 2 <= len(kept) < 10
    files = {i: os.stat(row["sample"]["out"]) for i, row in kept.items()}

    result = runner.invoke(app, ["attack", *args, "--out-dir", str(out)])
    assert result.exit_code == 0, result.stderr
    assert f"resumed: {len(kept)} of 10 images were already done ({out / 'attack.sqlite'})" in result.stderr
    doc = json.loads(result.stdout)
    assert doc["resumed"] == len(kept)
    for i, before in files.items():  # the finished images were not attacked again
        after = os.stat(kept[i]["sample"]["out"])
        assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
        assert doc["samples"][i] == {**kept[i]["sample"], "image": doc["samples"][i]["image"]}
    assert _same(doc, out) == _same(reference, whole)
    assert _same(json.loads((out / "summary.json").read_text()), out) == _same(reference, whole)
    assert [p.name for p in out.iterdir() if p.name.endswith(".tmp")] == []
