"""The ``hoodwink`` command line (Typer + Rich).

Each command lives in its own module here and registers itself on
:data:`hoodwink.cli.app.app`; this package imports the ones that exist.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from collections.abc import Sequence

from hoodwink.cli.app import app

COMMANDS = ("predict", "models", "trick", "attack", "explain", "train", "evaluate", "demo", "serve")

for _command in COMMANDS:
    if importlib.util.find_spec(f"hoodwink.cli.{_command}") is not None:
        importlib.import_module(f"hoodwink.cli.{_command}")


def main(argv: Sequence[str] | None = None) -> None:
    """Console entry point. ``--debug`` is accepted anywhere on the line."""
    args = list(sys.argv[1:] if argv is None else argv)
    if "--debug" in args[1:]:
        args.remove("--debug")
        args.insert(0, "--debug")
    app(args=args, prog_name="hoodwink")


__all__ = ["app", "main"]
