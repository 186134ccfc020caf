"""The Typer application and the rules every command shares.

Commands live in their own modules (``predict.py``, ``trick.py``, ...) and
register themselves on :data:`app`. A :class:`~hoodwink.HoodwinkError` (bad
input) becomes one line on stderr and exit code 1; usage errors exit 2; a
traceback only with ``--debug``.
"""

from __future__ import annotations

import json
import signal
import sys
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from typer.core import TyperGroup

from hoodwink.errors import HoodwinkError

#: Tables and pictures go to stdout; progress, notes and errors go to stderr.
# no emoji codes: a path or a transform like "rotate:abc:" must print as it is
console = Console(emoji=False)
err_console = Console(stderr=True, emoji=False)


#: Help's words for value types (instead of Python's ``<str>``, ``<list[str]>``).
_TYPE_WORDS = {"str": "TEXT", "int": "INTEGER", "int range": "INTEGER", "float": "NUMBER",
               "float range": "NUMBER", "path": "PATH", "Path": "PATH"}


def plain_help(command: Any, ctx: Any) -> None:
    """Help in command-line words: flags show no type, values TEXT, INTEGER, NUMBER, PATH, lists end in ``...``."""
    for param in command.get_params(ctx):
        if getattr(param, "_plain_help", False):
            continue
        if getattr(param, "is_flag", False) or getattr(param, "count", False):
            label = ""
        elif getattr(param, "metavar", None):
            label = str(param.metavar)
        else:
            raw = str(type(param).display_type_rich(param, ctx) or "").strip("<>")
            inner = raw[5:-1] if raw.startswith("list[") else raw
            label = _TYPE_WORDS.get(inner, inner.upper()) + ("..." if raw != inner or param.nargs != 1 else "")
        param.display_type_rich = lambda ctx, label=label: label
        param._plain_help = True


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised in the main thread like Ctrl-C, so every ``finally`` and temporary-file
    cleanup runs (``kill PID`` leaves no ``.tmp`` behind)."""


def _terminate(signum: int, frame: Any) -> None:
    raise Terminated


def handle_termination() -> None:
    """Treat SIGTERM like SIGINT from now on (main thread only; elsewhere a no-op)."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _terminate)


class _HoodwinkGroup(TyperGroup):
    """Turn domain errors into one clear line and exit code 1; help in command-line words."""

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        command = super().get_command(ctx, cmd_name)
        if command is not None:
            plain_help(command, ctx)
        return command

    def format_help(self, ctx: Any, formatter: Any) -> None:
        plain_help(self, ctx)
        super().format_help(ctx, formatter)

    def invoke(self, ctx: Any) -> Any:
        debug = bool(ctx.params.get("debug"))
        handle_termination()
        try:
            return super().invoke(ctx)
        except HoodwinkError as exc:
            if debug:
                raise
            fail(str(exc))
        except Terminated:
            fail("terminated (SIGTERM); nothing half-written was left", code=143)
        except KeyboardInterrupt:
            fail("interrupted", code=130)
        except (typer.Exit, typer.Abort, SystemExit):
            raise
        except Exception as exc:  # a bug: still one line, the traceback with --debug
            if debug or type(exc).__module__.startswith(("click", "typer")):
                raise
            fail(f"unexpected {type(exc).__name__}: {exc} (rerun with --debug for the traceback)")


@contextmanager
def resumable(database: object) -> Iterator[None]:
    """Ctrl-C or SIGTERM inside the block: one line saying the finished batches are in
    ``database`` and the same command resumes (exit 130 or 143)."""
    try:
        yield
    except Terminated:
        fail(f"terminated (SIGTERM); finished batches are in {database}: run the same command "
             "to resume", code=143)
    except KeyboardInterrupt:
        fail(f"interrupted; finished batches are in {database}: run the same command to resume",
             code=130)


def fail(message: str, code: int = 1) -> None:
    """Print one line on stderr and exit with ``code``."""
    err_console.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


app = typer.Typer(
    cls=_HoodwinkGroup,
    name="hoodwink",
    help="Trick an image classifier, show the trick in pictures, and explain why it worked.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        from hoodwink import __version__

        typer.echo(f"hoodwink {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    version: Annotated[
        bool | None,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit."),
    ] = None,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks instead of one-line errors.")] = False,
) -> None:
    """hoodwink: download a real classifier, ask it "is this a cat?", trick it, see why."""


ModelOption = Annotated[
    str,
    typer.Option("--model", "-m", help="Registered model name, timm:NAME, or a .safetensors file."),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout and nothing else.")]
DeviceOption = Annotated[
    str | None, typer.Option("--device", help="cpu or cuda (default: cuda when available).")
]


def print_json(document: Any) -> None:
    """Write exactly one JSON document to stdout."""
    sys.stdout.write(json.dumps(document, indent=2) + "\n")
    sys.stdout.flush()


def load_cli_model(name: str, device: str | None = None, weights: str | None = None) -> Any:
    """Load a model for a command, with a status line on stderr while it loads."""
    from hoodwink.models import load_model

    return load_model(name, weights=weights, device=device)


def print_saved(path: object) -> None:
    """The one ``saved FILE`` line of an ``--out``/``--plot`` file, on stderr (stdout keeps tables or JSON)."""
    err_console.print(f"saved {path}", highlight=False, markup=False, soft_wrap=True)


def print_heading(text: str) -> None:
    """A table's heading on its own line, never wrapped (a long path stays one piece)."""
    console.print(text, highlight=False, markup=False, soft_wrap=True, style="bold")


OverwriteOption = Annotated[bool, typer.Option(
    "--overwrite", help="Allow an output file to be one of the input images.")]
StrictOption = Annotated[bool, typer.Option(
    "--strict", help="Stop at the first image that cannot be read (default: go on, report it at the end).")]


def report_failures(failed: Sequence[Exception], total: int, done: str) -> None:
    """One line per image that could not be read, then exit 1 (``done`` says what
    happened to the others, e.g. "the others were attacked")."""
    if not failed:
        return
    for exc in failed:
        err_console.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True)
    fail(f"{len(failed)} of {total} images could not be read (listed above); {done}")
