"""``hoodwink serve``: the options reach the server (patched), warnings, and no Gradio in
``import hoodwink``."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from hoodwink.cli import app

pytest.importorskip("gradio")


@pytest.mark.slow  # a fresh Python process: seconds of start-up
def test_import_hoodwink_does_not_import_gradio() -> None:
    code = ("import sys, hoodwink, hoodwink.cli, hoodwink.web, hoodwink.web.session; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('gradio', 'gradio_client')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert out.stdout.strip() == "[]"


@pytest.fixture()
def served(monkeypatch: pytest.MonkeyPatch, tiny_model_file: str) -> dict[str, Any]:
    """Patch the server: record what ``hoodwink serve`` asks for, print the URL, return."""
    from hoodwink.web import app as web_app

    calls: dict[str, Any] = {}

    def fake_serve(model: Any, **kwargs: Any) -> None:
        calls.update(kwargs, model=model)
        kwargs["on_ready"]("http://127.0.0.1:7860/")

    monkeypatch.setattr(web_app, "serve", fake_serve)
    calls["file"] = tiny_model_file
    return calls


def test_defaults_are_local_and_capped(served: dict[str, Any]) -> None:
    result = CliRunner().invoke(app, ["serve", "--model", served["file"]])
    assert result.exit_code == 0, result.output
    assert "hoodwink playground on http://127.0.0.1:7860/" in result.stdout
    assert served["host"] == "127.0.0.1" and served["port"] == 7860
    assert served["share"] is False and served["open_browser"] is False
    assert served["limits"].max_steps == 200 and served["limits"].max_eps == pytest.approx(16 / 255)
    assert "warning" not in result.output


def test_options_reach_the_server(served: dict[str, Any], tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["serve", "--model", served["file"], "--port", "8123", "--host", "0.0.0.0",
                                      "--open", "--max-steps", "50", "--max-eps", "4/255", "--time-limit", "30",
                                      "--max-upload-mb", "2", "--photos", str(tmp_path)])
    assert result.exit_code == 0, result.output
    limits = served["limits"]
    assert (served["port"], served["host"], served["open_browser"], served["photos"]) == (8123, "0.0.0.0", True,
                                                                                          tmp_path)
    assert (limits.max_steps, limits.time_limit_s, limits.max_upload_bytes) == (50, 30, 2 * 1024 * 1024)
    assert limits.max_eps == pytest.approx(4 / 255)
    assert "warning: serving on 0.0.0.0: anyone who can reach this address" in result.stderr


def test_digits_files_reach_the_lab(served: dict[str, Any]) -> None:
    result = CliRunner().invoke(app, ["serve", "--model", served["file"], "--digits", served["file"]])
    assert result.exit_code == 0, result.output
    assert served["lab"].files == {"linear": Path(served["file"])}


@pytest.mark.parametrize("args, words", [(["--max-eps", "300/255"], "eps"), (["--max-steps", "0"], "--max-steps"),
                                         (["--photos", "/no/such/folder"], "not a folder"),
                                         (["--digits", "/no/such.safetensors"], "no/such.safetensors")])
def test_bad_options_are_one_line(served: dict[str, Any], args: list[str], words: str) -> None:
    result = CliRunner().invoke(app, ["serve", "--model", served["file"], *args])
    assert result.exit_code in (1, 2) and words in result.output and "Traceback" not in result.output
    assert "host" not in served


def test_a_port_in_use_is_one_line(tiny_model_file: str) -> None:
    import socket

    from hoodwink.errors import HoodwinkError
    from hoodwink.models import load_model
    from hoodwink.web.app import build_app, launch

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        app_ = build_app(load_model(tiny_model_file), photos=None)
        with pytest.raises(HoodwinkError, match=f"cannot serve on 127.0.0.1:{port}"):
            launch(app_, port=port, block=False)
        app_.close()


def test_without_gradio_the_message_says_how_to_get_it(monkeypatch: pytest.MonkeyPatch,
                                                        tiny_model_file: str) -> None:
    monkeypatch.setitem(sys.modules, "gradio", None)  # import gradio -> ImportError
    monkeypatch.delitem(sys.modules, "hoodwink.web.app", raising=False)
    result = CliRunner().invoke(app, ["serve", "--model", tiny_model_file])
    assert result.exit_code == 1 and "needs Gradio, the web extra: pip install gradio" in result.output
    assert "Traceback" not in result.output
