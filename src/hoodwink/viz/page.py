"""One self-contained HTML page: sections with headings, pictures as base64 data URIs.

The page needs nothing but itself (inline CSS, no scripts, no external assets),
so it opens offline in any browser and can be mailed as one file. Text between
backticks in a section's text is shown as code.

Example:
    >>> png = b"\\x89PNG\\r\\n\\x1a\\n"  # any PNG bytes
    >>> page = Page("hoodwink", "A talk, retold.", (
    ...     Section("is this a cat?", "The network's top guesses.",
    ...             (Picture(png, "prediction bars", "Top-5 classes of each photo."),)),))
    >>> html = render_page(page)
    >>> html.count("data:image/png;base64,"), "<h2" in html
    (1, True)
"""

from __future__ import annotations

import base64
import html
import os
from dataclasses import dataclass
from pathlib import Path

from hoodwink.errors import ParameterError
from hoodwink.viz.common import write_atomic

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

_CSS = """
body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; color: #222;
       max-width: 1180px; margin: 2rem auto; padding: 0 1rem; line-height: 1.5; }
header { border-bottom: 1px solid #ddd; margin-bottom: 1.5rem; }
h1 { font-size: 2rem; margin-bottom: 0.2rem; }
h2 { margin-top: 2.5rem; border-bottom: 1px solid #eee; padding-bottom: 0.2rem; }
section p { max-width: 52rem; }
figure { margin: 1rem 0 1.8rem 0; }
figure img { max-width: 100%; height: auto; border: 1px solid #eee; }
figcaption { color: #555; font-size: 0.95rem; max-width: 52rem; }
nav ol { columns: 2; }
footer { margin-top: 3rem; color: #777; font-size: 0.85rem; border-top: 1px solid #ddd; }
code { background: #f4f4f4; padding: 0 0.2rem; }
"""


@dataclass(frozen=True)
class Picture:
    """A PNG (bytes), its alt text, and the one line of text shown under it."""

    png: bytes
    alt: str
    caption: str
    name: str = ""  #: file name it was saved under, if any (e.g. ``"01-predictions.png"``)


@dataclass(frozen=True)
class Section:
    """A heading, a paragraph of text, and pictures, in the page's order."""

    title: str
    text: str
    pictures: tuple[Picture, ...] = ()
    anchor: str = ""


@dataclass(frozen=True)
class Page:
    """A whole page: title, introduction, sections, and a footer line."""

    title: str
    intro: str
    sections: tuple[Section, ...]
    footer: str = ""


def render_page(page: Page) -> str:
    """The page as one HTML document (UTF-8 text); every picture is embedded.

    Raises:
        ParameterError: when a picture is not PNG data.
    """
    esc = html.escape
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{esc(page.title)}</title><style>{_CSS}</style></head><body>",
        f"<header><h1>{esc(page.title)}</h1><p>{esc(page.intro)}</p></header>",
    ]
    anchors = [s.anchor or f"section-{i + 1}" for i, s in enumerate(page.sections)]
    if len(page.sections) > 1:
        items = "".join(f'<li><a href="#{a}">{esc(s.title)}</a></li>' for a, s in zip(anchors, page.sections))
        parts.append(f"<nav><ol>{items}</ol></nav>")
    for anchor, section in zip(anchors, page.sections):
        parts.append(f'<section id="{esc(anchor)}"><h2>{esc(section.title)}</h2>')
        if section.text:
            parts.append(f"<p>{inline(section.text)}</p>")
        for picture in section.pictures:
            parts.append(
                f'<figure><img src="{data_uri(picture.png)}" alt="{esc(picture.alt)}">'
                f"<figcaption>{esc(picture.caption)}</figcaption></figure>"
            )
        parts.append("</section>")
    if page.footer:
        parts.append(f"<footer><p>{inline(page.footer)}</p></footer>")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def inline(text: str) -> str:
    """Escape ``text`` for HTML; spans between backticks become ``<code>``."""
    pieces = text.split("`")
    if len(pieces) % 2 == 0:  # an unmatched backtick stays a backtick
        pieces[-2:] = [pieces[-2] + "`" + pieces[-1]]
    return "".join(f"<code>{html.escape(p)}</code>" if i % 2 else html.escape(p) for i, p in enumerate(pieces))


def data_uri(png: bytes) -> str:
    """``data:image/png;base64,...`` for PNG bytes."""
    if not png.startswith(PNG_SIGNATURE):
        raise ParameterError("a page picture must be PNG data")
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def write_page(page: Page, path: str | os.PathLike[str]) -> Path:
    """Render ``page`` and write it atomically to ``path`` (``.html``); returns the path."""
    path = Path(path)
    if path.suffix.lower() not in (".html", ".htm"):
        raise ParameterError(f"{path}: a page is saved as .html, not {path.suffix or 'no suffix'}")
    if not path.parent.is_dir():
        raise ParameterError(f"{path}: directory {path.parent} does not exist")
    write_atomic(path, render_page(page).encode("utf-8"))
    return path
