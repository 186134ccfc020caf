"""The ``hoodwink`` command line (Typer + Rich).

Each command lives in its own module here and registers itself on
:data:`hoodwink.cli.app.app` when imported; the import order is the order of
``hoodwink --help``. Commands import their heavy dependencies (Captum, the
attacks, matplotlib) inside the function, so ``hoodwink predict`` starts fast.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from hoodwink.cli.app import app

# isort: off
from hoodwink.cli import predict, models, trick, attack, explain, train, demo  # noqa: F401
from hoodwink.cli import inside  # noqa: F401
from hoodwink.cli import evaluate  # noqa: F401
from hoodwink.cli import serve  # noqa: F401
from hoodwink.cli import serve_model  # noqa: F401
from hoodwink.cli import transfer  # noqa: F401
# isort: on


def main(argv: Sequence[str] | None = None) -> None:
    """Console entry point. ``--debug`` is accepted anywhere on the line."""
    args = list(sys.argv[1:] if argv is None else argv)
    if "--debug" in args[1:]:
        args.remove("--debug")
        args.insert(0, "--debug")
    app(args=args, prog_name="hoodwink")


__all__ = ["app", "main"]
