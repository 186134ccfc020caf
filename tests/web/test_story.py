"""The Story tab: the demo's sections, computed once (quick settings, tiny model), then kept."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

pytest.importorskip("gradio")
gradio_client = pytest.importorskip("gradio_client")

from hoodwink.demo import DemoSettings
from hoodwink.web.app import build_app, close, launch

from .conftest import tiny_model


@pytest.mark.slow
def test_story_is_told_once_and_kept(tmp_path: Path) -> None:
    app = build_app(tiny_model(), photos=None, workdir=tmp_path / "work", story=DemoSettings.quick())
    url = launch(app, port=None, block=False)
    try:
        client = gradio_client.Client(url, verbose=False, download_files=False)
        job = client.submit(api_name="/story")
        updates = list(job)
        gallery, page, text = updates[-1]
        assert len(updates) >= 2 and "telling the story" in updates[0][2]
        assert "Computed in" in text and "cat becomes a vulture" in text
        assert len(gallery) >= 5 and page["path"].endswith("index.html")
        start = time.monotonic()
        again = client.predict(api_name="/story")
        assert again[2] == text and time.monotonic() - start < 10  # kept, not told again
    finally:
        close(app)
