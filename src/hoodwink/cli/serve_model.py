"""``hoodwink serve-model [--model NAME] [--top K] [--labels-only] [--round DIGITS] --port P``"""

from __future__ import annotations

from typing import Annotated

import typer

from hoodwink.cli.app import DeviceOption, ModelOption, app, err_console, load_cli_model
from hoodwink.models import DEFAULT_MODEL


@app.command("serve-model")
def serve_model(
    model: ModelOption = DEFAULT_MODEL,
    port: Annotated[int, typer.Option("--port", "-p", min=1, max=65535,
                                      help="Port to listen on.")] = 8123,
    host: Annotated[str, typer.Option(help="The address to listen on (loopback by default; "
                                           "0.0.0.0 opens it to the network).")] = "127.0.0.1",
    top: Annotated[int | None, typer.Option("--top", "-k", min=1, show_default="all",
                                            help="Classes in each answer.")] = None,
    labels_only: Annotated[bool, typer.Option("--labels-only",
                                              help="Answer with the top-1 label only.")] = False,
    round_digits: Annotated[int | None, typer.Option("--round", min=0, max=10,
                                                     help="Round probabilities to DIGITS.")] = None,
    max_upload_mb: Annotated[float, typer.Option("--max-upload-mb", min=0.01,
                                                 help="Largest upload, in MB.")] = 8.0,
    concurrency: Annotated[int, typer.Option(min=1, help="Requests served at once; more get "
                                                         "429 (retry later).")] = 4,
    device: DeviceOption = None,
) -> None:
    """Serve a model as an API that can only be asked, for black-box attacks to attack.

    POST /predict {"image": "<base64 PNG>"} answers every class's probability (the top K
    with --top, or the label only); GET /predict says what the model is. Try it with
    hoodwink trick photo.png --away --model http://127.0.0.1:PORT/predict --attack square.
    """
    from hoodwink.models.server import is_local, make_app, serve

    if not is_local(host):
        err_console.print(f"[bold yellow]warning:[/] serving on {host}: anyone who can reach this "
                          "address can ask the model (there is no login)", highlight=False)
    classifier = load_cli_model(model, device)
    server_app = make_app(classifier, top=top, labels_only=labels_only, digits=round_digits,
                          max_bytes=int(max_upload_mb * 1024 * 1024), concurrency=concurrency)
    answers = "labels only" if labels_only else ("all classes" if top is None else f"top {top}") + (
        f", rounded to {round_digits} digits" if round_digits is not None else "")
    err_console.print(f"serving {getattr(classifier, 'name', model)} ({answers}) at "
                      f"http://{host}:{port}/predict  (Ctrl-C stops)")
    serve(server_app, host=host, port=port)
