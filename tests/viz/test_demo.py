from __future__ import annotations

import base64
import json
import re
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from hoodwink.cli import app
from hoodwink.demo import CHAPTERS, DemoReport, DemoSettings, run_demo
from hoodwink.errors import ParameterError
from hoodwink.models import Classifier
from hoodwink.predict import predict


@pytest.mark.slow
def test_demo_tells_the_whole_story_on_the_real_network(imagenet_model: Classifier, tmp_path: Path) -> None:
    calls: list[tuple[int, int, str]] = []
    report = run_demo(tmp_path / "demo", model=imagenet_model, settings=DemoSettings.quick(),
                      progress=lambda done, total, title: calls.append((done, total, title)))
    titles = [title for title, _ in CHAPTERS]
    assert [c[0] for c in calls] == list(range(len(CHAPTERS) + 1))
    assert [c[2] for c in calls[:-1]] == titles and report.sections == tuple(titles)

    page = report.page.read_text(encoding="utf-8")
    assert report.page == tmp_path / "demo" / "index.html"
    assert re.findall(r"<h2>(.*?)</h2>", page) == [t.replace("'", "&#x27;") for t in titles]
    embedded = [base64.b64decode(s) for s in re.findall(r'src="data:image/png;base64,([^"]+)"', page)]
    assert len(report.figures) >= 8 and embedded == [p.read_bytes() for p in report.figures]
    assert len(re.findall(r"<figcaption>", page)) == len(report.figures)
    for words in ("is this a cat?", "x50", "less like", "paper towel", "vulture", "Goodfellow"):
        assert words.lower() in page.lower()

    # 8-bit honest: the saved adversarial PNGs, read back from disk, are what the page says
    images = {p.name: p for p in report.images}
    towel = predict(imagenet_model, images["black-paper-towel.png"], top=1)[0].top1
    vulture = predict(imagenet_model, images["chelsea-vulture.png"], top=1)[0].top1
    assert towel.name == "paper towel" and towel.probability >= 0.9
    assert vulture.name == "vulture" and vulture.probability >= 0.9
    assert "Read back from black-paper-towel.png: paper towel" in page
    # you only get to ask: the counts on the page agree (client's requests = server's answers)
    sent = re.search(r"the client sent (\d+) HTTP requests.*?the server answered (\d+) requests", page)
    assert sent is not None and sent.group(1) == sent.group(2) and "chelsea-ask-square.png" in images
    less = predict(imagenet_model, images["chelsea-less-like-tiger-cat.png"], top=1)[0].top1
    assert less.name != "tiger cat" and f"chelsea-less-like-tiger-cat.png: {less.name}" in page


def test_demo_refuses_a_file_as_its_folder(tmp_path: Path) -> None:
    (tmp_path / "page").write_text("x")
    with pytest.raises(ParameterError, match="not a directory"):
        run_demo(tmp_path / "page", model=object(), settings=DemoSettings.quick())  # type: ignore[arg-type]


def test_settings_are_checked() -> None:
    with pytest.raises(ParameterError, match="black_steps"):
        DemoSettings(black_steps=0)
    with pytest.raises(ParameterError, match="confidence"):
        DemoSettings(confidence=1.0)


runner = CliRunner()


@pytest.fixture()
def fake_demo(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> list[dict[str, Any]]:
    """Patch the expensive parts: the CLI's model load and run_demo (record their arguments)."""
    import hoodwink.demo
    import hoodwink.models

    calls: list[dict[str, Any]] = []

    def fake_run(out: Any, *, model: Any, settings: DemoSettings, progress: Any) -> DemoReport:
        calls.append({"out": out, "model": model, "settings": settings})
        for done, (title, _) in enumerate(CHAPTERS):
            progress(done, len(CHAPTERS), title)
        page = Path(out) / "index.html"
        page.write_text("<html></html>")
        return DemoReport(page, (Path(out) / "01-predictions.png",), (), ("Is this a cat?",), 1.5, "fake")

    monkeypatch.setattr(hoodwink.demo, "run_demo", fake_run)
    monkeypatch.setattr(hoodwink.models, "load_model", lambda name, device=None: f"model:{name}:{device}")
    return calls


def test_cli_demo_passes_its_options_and_prints_one_json_document(
        fake_demo: list[dict[str, Any]], tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = runner.invoke(app, ["demo", "--out", str(out), "--quick", "--json", "--device", "cpu"])
    assert result.exit_code == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["page"] == str(out / "index.html") and document["seconds"] == 1.5
    (call,) = fake_demo
    assert call["out"] == str(out) and call["model"] == "model:efficientnet-lite0:cpu"
    assert call["settings"] == DemoSettings.quick()


def test_cli_demo_open_uses_the_browser(fake_demo: list[dict[str, Any]], tmp_path: Path,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    import webbrowser

    opened: list[str] = []
    monkeypatch.setattr(webbrowser, "open", lambda url: opened.append(url) or True)
    result = runner.invoke(app, ["demo", "--out", str(tmp_path), "--open"])
    assert result.exit_code == 0, result.stderr
    assert fake_demo[0]["settings"] == DemoSettings()
    assert opened == [(tmp_path / "index.html").resolve().as_uri()]
    assert "index.html" in result.stdout


def test_cli_demo_bad_out_is_one_line_and_exit_1(fake_demo: list[dict[str, Any]], tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    result = runner.invoke(app, ["demo", "--out", str(tmp_path / "file")])
    assert result.exit_code == 1 and fake_demo == []
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "not a directory" in lines[0]
