from __future__ import annotations

import base64
import re
from pathlib import Path

import pytest

from hoodwink.errors import ParameterError
from hoodwink.viz.common import figure_png, new_figure
from hoodwink.viz.page import Page, Picture, Section, inline, render_page, write_page


def _png(width: float) -> bytes:
    fig = new_figure(width, 1.0)
    fig.add_subplot().plot([0, 1])
    return figure_png(fig)


def _page() -> Page:
    first, second, third = _png(1.0), _png(2.0), _png(3.0)
    return Page("How to trick a neural network", "A talk, retold <live>.", (
        Section("Is this a cat?", "Ask the network.", (Picture(first, "bars", "tiger cat 39.1% & more"),)),
        Section("Trick it", "Run `hoodwink trick black --into 'paper towel'`.",
                (Picture(second, "panel", "x50"), Picture(third, "trajectory", "9 steps"))),
        Section("What next", "Try it."),
    ), footer="made by `hoodwink demo`")


def test_every_section_and_picture_is_in_the_page_in_order() -> None:
    page = _page()
    text = render_page(page)
    assert re.findall(r"<h2>(.*?)</h2>", text) == ["Is this a cat?", "Trick it", "What next"]
    sources = re.findall(r'<img src="data:image/png;base64,([^"]+)"', text)
    expected = [p.png for s in page.sections for p in s.pictures]
    assert [base64.b64decode(s) for s in sources] == expected  # the exact PNG bytes, embedded
    assert re.findall(r"<figcaption>(.*?)</figcaption>", text) == ["tiger cat 39.1% &amp; more", "x50", "9 steps"]
    assert re.findall(r'<a href="#([^"]+)">', text) == re.findall(r'<section id="([^"]+)">', text)


def test_the_page_is_self_contained_and_escaped() -> None:
    text = render_page(_page())
    assert "<script" not in text and "http://" not in text and "https://" not in text
    assert re.findall(r'(?:src|href)="(?!data:|#)', text) == []  # no external asset, no link out
    assert "A talk, retold &lt;live&gt;." in text
    assert "<code>hoodwink trick black --into &#x27;paper towel&#x27;</code>" in text
    assert "<style>" in text and text.startswith("<!DOCTYPE html>")


def test_inline_code_spans() -> None:
    assert inline("a `b<c>` d") == "a <code>b&lt;c&gt;</code> d"
    assert inline("one ` only") == "one ` only"


def test_write_page_is_atomic_and_html_only(tmp_path: Path) -> None:
    path = write_page(_page(), tmp_path / "index.html")
    assert path.read_text(encoding="utf-8") == render_page(_page())
    assert [p.name for p in tmp_path.iterdir()] == ["index.html"]
    with pytest.raises(ParameterError, match=r"\.html"):
        write_page(_page(), tmp_path / "index.txt")
    with pytest.raises(ParameterError, match="does not exist"):
        write_page(_page(), tmp_path / "no" / "index.html")


def test_pictures_must_be_png() -> None:
    page = Page("t", "i", (Section("s", "t", (Picture(b"GIF89a...", "gif", "not a png"),)),))
    with pytest.raises(ParameterError, match="PNG"):
        render_page(page)
