"""Serve any hoodwink model over HTTP in hoodwink's JSON protocol (``hoodwink serve-model``).

The server answers ``POST /predict`` with ``{"image": "<base64 PNG>"}`` by the
top-k predictions (probabilities optionally rounded) or by the label only, and
``GET /predict`` by what the model is (see :mod:`hoodwink.models.remote` for the
protocol), so users and tests have a real API to attack. It listens on
127.0.0.1 unless told otherwise, refuses uploads over ``max_bytes`` (413),
answers 429 with ``Retry-After`` when ``concurrency`` requests are already being
served, and runs the model for one request at a time. Needs the optional extra
``serve`` (FastAPI and uvicorn).

Example:
    >>> app = make_app(load_model("efficientnet-lite0"), top=5, digits=2)   # doctest: +SKIP
    >>> serve(app, port=8123)                                               # doctest: +SKIP
"""

# No ``from __future__ import annotations`` here: FastAPI reads the type of the endpoint's
# ``request`` argument, a class imported inside make_app (FastAPI is an optional extra).
import base64
import binascii
import ipaddress
import json
import threading
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from hoodwink.attacks.oracle import QueryModel, to_uint8
from hoodwink.errors import HoodwinkError, ModelError, ParameterError
from hoodwink.images import load_image
from hoodwink.models.classifier import model_input

#: The largest upload by default (bytes of the JSON body).
MAX_UPLOAD = 8 << 20
#: The most pixels of a decoded upload.
MAX_PIXELS = 16_000_000


@dataclass
class ServerStats:
    """Requests answered, refused as too large or as too many at once, and bad ones."""

    answered: int = 0
    too_large: int = 0
    busy: int = 0
    bad: int = 0


def _fastapi() -> Any:
    try:
        import fastapi
        import uvicorn  # noqa: F401
    except ImportError as exc:
        raise ModelError("serving a model needs FastAPI and uvicorn: "
                         "pip install 'hoodwink[serve]'") from exc
    return fastapi


def make_app(model: nn.Module | QueryModel, *, top: int | None = 5, labels_only: bool = False,
             digits: int | None = None, max_bytes: int = MAX_UPLOAD, concurrency: int = 4,
             path: str = "/predict") -> Any:
    """A FastAPI app that answers for ``model`` (a hoodwink Classifier or a QueryModel).

    Args:
        top: classes in each answer (None, or more than the model has: all of them).
        labels_only: answer with the top-1 label only, like a label-only API.
        digits: round probabilities to this many decimal digits.
        max_bytes: the largest request body; larger ones get 413.
        concurrency: requests served at once; more get 429 with ``Retry-After: 1``.
    """
    fastapi = _fastapi()
    from fastapi import Request
    from fastapi.responses import JSONResponse
    from starlette.concurrency import run_in_threadpool

    labels = getattr(model, "labels", None)
    if labels is None:
        raise ParameterError("serve a hoodwink model (with labels): load_model() or hoodwink.wrap()")
    if top is not None and (isinstance(top, bool) or not isinstance(top, int) or top < 1):
        raise ParameterError(f"top must be a positive integer, not {top!r}")
    if digits is not None and (isinstance(digits, bool) or not 0 <= digits <= 10):
        raise ParameterError(f"round must be a number of digits in 0..10, not {digits!r}")
    if concurrency < 1 or max_bytes < 1:
        raise ParameterError("concurrency and the upload cap must be positive")
    if isinstance(model, QueryModel) and model.labels_only and not labels_only:
        raise ParameterError(f"{model.name} answers with labels only: serve it --labels-only")
    gate = threading.BoundedSemaphore(concurrency)
    one_model = threading.Lock()
    stats = ServerStats()
    app = fastapi.FastAPI(title="hoodwink model", docs_url=None, redoc_url=None,
                          openapi_url=None)
    app.state.stats = stats
    k = len(labels) if top is None else min(top, len(labels))

    def describe() -> dict[str, Any]:
        size = getattr(model, "input_size", (224, 224))
        return {"name": str(getattr(model, "name", "model")), "labels": labels.names,
                "input_size": list(size), "resize": getattr(model, "resize", None),
                "output": "labels" if labels_only else "probabilities",
                "top": None if labels_only else k, "round": digits}

    def answer(png: bytes) -> dict[str, Any]:
        image = load_image(png, max_pixels=MAX_PIXELS)
        x = model_input(model, image.unsqueeze(0))       # the model's 8-bit input image
        with one_model, torch.no_grad():
            if isinstance(model, QueryModel):
                out = model.ask(to_uint8(x))
                if model.labels_only:
                    index = int(out[0])
                    return {"label": {"index": index, "name": labels.name(index)}}
                probs = out[0].float()
            else:
                probs = model(x)[0].float().softmax(0)
        if labels_only:
            index = int(probs.argmax())
            return {"label": {"index": index, "name": labels.name(index)}}
        values, indices = probs.topk(k)
        predictions = []
        for v, i in zip(values.tolist(), indices.tolist()):
            p = round(v, digits) if digits is not None else v
            predictions.append({"index": int(i), "name": labels.name(int(i)), "probability": p})
        return {"predictions": predictions}

    def error(status: int, message: str, **headers: str) -> Any:
        return JSONResponse({"error": message}, status_code=status, headers=headers or None)

    @app.get(path)  # type: ignore[untyped-decorator]
    def info() -> dict[str, Any]:
        return describe()

    @app.post(path)  # type: ignore[untyped-decorator]
    async def predict(request: Request) -> Any:
        length = request.headers.get("content-length", "")
        if length.isdigit() and int(length) > max_bytes:
            stats.too_large += 1
            return error(413, f"upload over {max_bytes} bytes")
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > max_bytes:
                stats.too_large += 1
                return error(413, f"upload over {max_bytes} bytes")
        if not gate.acquire(blocking=False):
            stats.busy += 1
            return error(429, "busy: too many requests at once", **{"Retry-After": "1"})
        try:
            try:
                payload = json.loads(bytes(body))
                png = base64.b64decode(payload["image"], validate=True)
            except (ValueError, KeyError, TypeError, binascii.Error):
                stats.bad += 1
                return error(400, 'expected JSON {"image": "<base64 PNG>"}')
            try:
                result = await run_in_threadpool(answer, png)
            except HoodwinkError as exc:
                stats.bad += 1
                return error(400, str(exc))
            stats.answered += 1
            return result
        finally:
            gate.release()

    return app


def is_local(host: str) -> bool:
    """True when only this machine can reach ``host`` (a loopback address or localhost)."""
    if host.strip("[]").lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def serve(app: Any, *, host: str = "127.0.0.1", port: int = 8123) -> None:
    """Run ``app`` with uvicorn until interrupted."""
    _fastapi()
    import uvicorn

    uvicorn.run(app, host=host, port=port, log_level="warning")
