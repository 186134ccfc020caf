"""``hoodwink serve [--port 7860] [--model NAME] [--host H] [--open] [--max-steps N] [--max-eps E]``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from hoodwink.cli.app import DeviceOption, ModelOption, app, console, err_console, load_cli_model
from hoodwink.errors import HoodwinkError
from hoodwink.models import DEFAULT_MODEL

#: What a missing Gradio says.
NEEDS_WEB = "hoodwink serve needs Gradio, the web extra: pip install gradio"


@app.command()
def serve(
    port: Annotated[int, typer.Option("--port", "-p", min=1, max=65535, help="Port to listen on.")] = 7860,
    host: Annotated[str, typer.Option(
        "--host", help="Address to listen on. The default lets only this machine in; another address "
                       "lets anyone who can reach it use the model (no login).")] = "127.0.0.1",
    open_browser: Annotated[bool, typer.Option("--open", help="Open the page in a web browser.")] = False,
    share: Annotated[bool, typer.Option(
        "--share", help="Ask Gradio for a public share link (off unless given).")] = False,
    max_steps: Annotated[int, typer.Option("--max-steps", min=1, max=10_000,
                                           help="Most attack steps one request may ask for.")] = 200,
    max_eps: Annotated[str, typer.Option("--max-eps", help="Largest eps a request may ask for, "
                                                          "e.g. 16/255.")] = "16/255",
    time_limit: Annotated[float, typer.Option("--time-limit", min=1.0,
                                              help="Seconds one request may run.")] = 120.0,
    max_upload_mb: Annotated[float, typer.Option("--max-upload-mb", min=0.01,
                                                 help="Largest upload, in MB.")] = 10.0,
    photos: Annotated[Path | None, typer.Option(
        "--photos", help="A folder of photos to offer as samples (default: "
                         "../shared/data/imagenet-samples/images when it exists).")] = None,
    digits: Annotated[list[Path] | None, typer.Option(
        "--digits", metavar="FILE", help="A digits net from `hoodwink train` for the Digits tab "
                                         "(linear, mlp or cnn; repeat for several). Default: "
                                         "trained on first use.")] = None,
    model: ModelOption = DEFAULT_MODEL,
    device: DeviceOption = None,
) -> None:
    """Play with the neural network in a browser: trick it step by step, see why."""
    import os

    from hoodwink.attacks.threat import parse_eps
    from hoodwink.web.limits import Limits, is_local

    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    limits = Limits(max_steps=max_steps, max_eps=parse_eps(max_eps), time_limit_s=time_limit,
                    max_upload_bytes=int(max_upload_mb * 1024 * 1024))
    try:
        from hoodwink.web.app import serve as serve_app
        from hoodwink.web.samples import SHARED_PHOTOS
    except ImportError as exc:
        raise HoodwinkError(f"{NEEDS_WEB} ({exc})") from None
    if photos is not None and not photos.is_dir():
        raise HoodwinkError(f"--photos {photos}: not a folder")
    from hoodwink.web.digits import SHARED_MNIST, DigitsLab, digits_files

    lab = DigitsLab(SHARED_MNIST, digits_files(list(digits or [])))
    if not is_local(host):
        err_console.print(f"[bold yellow]warning:[/] serving on {host}: anyone who can reach this "
                          "address can use the model (there is no login)", highlight=False)
    if share:
        err_console.print("[bold yellow]warning:[/] --share asks Gradio for a public link: anyone "
                          "with it can use the model", highlight=False)
    classifier = load_cli_model(model, device)

    def ready(url: str) -> None:
        console.print(f"hoodwink playground on {url} (Ctrl-C to stop)", highlight=False, soft_wrap=True)

    serve_app(classifier, host=host, port=port, share=share, open_browser=open_browser, limits=limits,
              photos=photos if photos is not None else SHARED_PHOTOS, lab=lab, on_ready=ready)
