"""The web playground of ``hoodwink serve`` (Gradio; ``pip install "hoodwink[web]"``).

Importing :mod:`hoodwink` never imports this package, and this package imports Gradio
only in :mod:`hoodwink.web.app`: :mod:`~hoodwink.web.limits` and
:mod:`~hoodwink.web.session` (the caps and the streamed trick) work without it.

Example:
    >>> from hoodwink.web.app import build_app, launch                       # doctest: +SKIP
    >>> url = launch(build_app(hoodwink.load_model()), block=False)            # doctest: +SKIP
"""

from __future__ import annotations

from hoodwink.web.limits import Limits

__all__ = ["Limits"]
