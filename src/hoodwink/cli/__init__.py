"""The ``hoodwink`` command line (Typer + Rich)."""

from __future__ import annotations

import sys
from typing import Sequence

from hoodwink.cli.app import app

# Each module registers its command on ``app``.
from hoodwink.cli import predict as _predict  # noqa: E402,F401


def main(argv: Sequence[str] | None = None) -> None:
    """Console entry point. ``--debug`` is accepted anywhere on the line."""
    args = list(sys.argv[1:] if argv is None else argv)
    if "--debug" in args[1:]:
        args.remove("--debug")
        args.insert(0, "--debug")
    app(args=args, prog_name="hoodwink")


__all__ = ["app", "main"]
