"""The page in headless Chromium (Debian's, driven by Playwright through its executable path):
pick a sample, type "vulture", start, wait for the stream to end, read the class shown.

Screenshots are test artefacts: in ``$HOODWINK_ARTIFACTS`` (default: the test's tmp_path);
``HOODWINK_SCREENSHOTS=docs/img`` also writes the README's ``serve-*.png`` from the real model.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("gradio")
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install playwright)")

from hoodwink.web.app import build_app, close, launch
from hoodwink.web.limits import Limits
from hoodwink.web.samples import SHARED_PHOTOS

from .conftest import tiny_model

CHROMIUM = os.environ.get("HOODWINK_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not Path(CHROMIUM).is_file(),
                       reason=f"no Chromium at {CHROMIUM} (apt-get install chromium, or set HOODWINK_CHROMIUM)"),
]


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with sync_api.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


def artefacts(tmp_path: Path) -> Path:
    folder = Path(os.environ.get("HOODWINK_ARTIFACTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def choose(page: Any, elem_id: str, text: str) -> None:
    """Type ``text`` into the dropdown ``#elem_id`` and click the option that is exactly it."""
    box = page.locator(f"#{elem_id} input")
    box.click()
    box.fill("")
    box.press_sequentially(text)
    page.locator(f'#{elem_id} [role=option][aria-label="{text}"]').first.click()


def trick_in_page(page: Any, url: str, sample: str, target: str, steps: int, timeout_s: float) -> str:
    """Drive the Trick tab like a person; return the read-back line."""
    page.goto(url)
    page.locator("#start").wait_for()
    choose(page, "sample", sample)
    page.locator("#top5").get_by_text("%").first.wait_for(timeout=timeout_s * 1000)
    choose(page, "target", target)
    steps_box = page.locator("#steps input[type=number]")
    steps_box.fill(str(steps))
    steps_box.press("Enter")
    page.locator("#start").click()
    read_back = page.locator("#read-back")
    read_back.get_by_text("read back as").wait_for(timeout=timeout_s * 1000)
    return str(read_back.inner_text())


def test_pick_a_sample_type_vulture_start_read_the_class(browser: Any, tmp_path: Path) -> None:
    limits = Limits(max_steps=50)
    app = build_app(tiny_model(), limits, photos=None, workdir=tmp_path / "work")
    url = launch(app, port=None, limits=limits, block=False)
    page = browser.new_page(viewport={"width": 1280, "height": 1000})
    try:
        text = trick_in_page(page, url, "chelsea", "vulture", 10, timeout_s=60)
        assert "read back as vulture" in text
        assert "tricked" in page.locator("#status").inner_text()
        assert "vulture" in page.locator("#now").inner_text()
        assert page.locator("#png a").count() >= 1  # the PNG to download
        page.screenshot(path=str(artefacts(tmp_path) / "serve-trick-tiny.png"), full_page=True)
    finally:
        page.close()
        close(app)


def test_bad_upload_shows_a_message(browser: Any, tmp_path: Path) -> None:
    limits = Limits()
    app = build_app(tiny_model(), limits, photos=None, workdir=tmp_path / "work")
    url = launch(app, port=None, limits=limits, block=False)
    page = browser.new_page()
    try:
        page.goto(url)
        bad = tmp_path / "cat.jpg"
        bad.write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
        page.locator("#image input[type=file]").set_input_files(str(bad))
        page.locator("#status").get_by_text("Cannot do that").wait_for(timeout=30_000)
        assert "cat.jpg" in page.locator("#status").inner_text()
    finally:
        page.close()
        close(app)


@pytest.mark.skipif(not os.environ.get("HOODWINK_SCREENSHOTS"),
                    reason="set HOODWINK_SCREENSHOTS=docs/img to make the README's screenshots")
def test_readme_screenshots(browser: Any, imagenet_model: Any, tmp_path: Path) -> None:
    """One screenshot per tab, from the real network (the Story with the demo's quick settings)."""
    from hoodwink.demo import DemoSettings

    out = Path(os.environ["HOODWINK_SCREENSHOTS"])
    out.mkdir(parents=True, exist_ok=True)
    limits = Limits()
    app = build_app(imagenet_model, limits, workdir=tmp_path / "work", story=DemoSettings.quick())
    url = launch(app, port=None, limits=limits, block=False)
    page = browser.new_page(viewport={"width": 1280, "height": 1100})
    sample = "photo: giant panda" if SHARED_PHOTOS.is_dir() else "chelsea"
    try:
        text = trick_in_page(page, url, sample, "vulture", 30, timeout_s=300)
        assert "read back as vulture" in text
        page.screenshot(path=str(out / "serve-trick.png"), full_page=True)

        page.get_by_role("tab", name="Explain").click()
        page.locator("#explain").click()
        page.locator("#explain-status").get_by_text("deletion AUC").wait_for(timeout=300_000)
        page.locator("#pair").click()
        page.locator("#pair-status").get_by_text("adversarial:").wait_for(timeout=300_000)
        page.screenshot(path=str(out / "serve-explain.png"), full_page=True)

        page.get_by_role("tab", name="Digits").click()
        page.locator('#pad button[aria-label="Brush"]').first.click()
        canvas = page.locator("#pad canvas").last
        canvas.wait_for()
        box = canvas.bounding_box()
        assert box is not None
        x0, y0 = box["x"] + box["width"] * 0.3, box["y"] + box["height"] * 0.2
        page.mouse.move(x0, y0)
        page.mouse.down()
        for dx, dy in ((0.4, 0.0), (0.1, 0.3), (0.3, 0.35), (0.15, 0.6), (0.4, 0.6)):  # a "7"-ish "3"
            page.mouse.move(box["x"] + box["width"] * (0.3 + dx * 0.9), y0 + box["height"] * dy, steps=8)
        page.mouse.up()
        page.locator("#digits-status").get_by_text("right on its test images").wait_for(timeout=300_000)
        page.locator("#digit-trick").click()
        page.locator("#digit-trick-status").get_by_text("now sees").wait_for(timeout=300_000)
        page.locator("#templates").click()
        page.locator("#templates-image img").wait_for(timeout=300_000)
        page.screenshot(path=str(out / "serve-digits.png"), full_page=True)

        page.get_by_role("tab", name="Story").click()
        page.locator("#story").click()
        page.locator("#story-status").get_by_text("Computed in").wait_for(timeout=600_000)
        page.screenshot(path=str(out / "serve-story.png"), full_page=True)
    finally:
        page.close()
        close(app)
