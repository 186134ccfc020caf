"""A model behind an HTTP endpoint, spoken to in hoodwink's JSON protocol.

The protocol (what ``hoodwink serve-model`` serves, and what any API can
implement to be attacked by hoodwink):

* ``POST URL`` with ``{"image": "<base64 PNG>"}`` answers
  ``{"predictions": [{"index": 23, "name": "vulture", "probability": 0.91}, ...]}``
  (the top k classes, probabilities possibly rounded) or, from a label-only
  API, ``{"label": {"index": 23, "name": "vulture"}}``.
* ``GET URL`` (optional) answers what the model is:
  ``{"name": ..., "labels": [names...], "input_size": [224, 224], "resize": 256,
  "output": "probabilities" | "labels", "top": 5}``. Without it the client
  assumes ImageNet's 1000 classes at 224 x 224 (shorter side 256, centre crop).

:func:`load_remote` returns a :class:`~hoodwink.attacks.QueryModel` whose every
query is one PNG of 8-bit pixels, sent by an :class:`HttpClient` with a timeout,
retries with exponential back-off on 429 and 5xx answers (``Retry-After`` is
honoured, up to a cap), an optional rate limit, a bounded number of requests
in flight, and a cache keyed by the PNG bytes, so the same image is never paid
for twice. Probabilities the API does not send (outside its top k) are 0.

Example:
    >>> model = load_remote("http://127.0.0.1:8123/predict")            # doctest: +SKIP
    >>> result = get_attack("square")(model, images, queries=1000)       # doctest: +SKIP
"""

from __future__ import annotations

import base64
import hashlib
import http.client
import io
import json
import threading
import time
import urllib.parse
from collections import OrderedDict
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from PIL import Image

from hoodwink.attacks.oracle import QueryModel
from hoodwink.errors import ModelError, ParameterError
from hoodwink.models.labels import Labels, imagenet_labels

#: The most bytes of one answer.
MAX_ANSWER = 4 << 20
#: Longest wait between retries, whatever ``Retry-After`` says.
MAX_BACKOFF = 30.0


def encode_png(pixels: np.ndarray) -> bytes:
    """PNG bytes of one uint8 image (H, W, C) or (H, W); the same pixels give the same bytes."""
    array = pixels[..., 0] if pixels.ndim == 3 and pixels.shape[2] == 1 else pixels
    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(array, dtype=np.uint8)).save(buffer, format="PNG",
                                                                      compress_level=1)
    return buffer.getvalue()


@dataclass
class HttpStats:
    """What a client has done: requests sent, answers taken from the cache, retries."""

    requests: int = 0
    cached: int = 0
    retries: int = 0


@dataclass
class HttpClient:
    """Posts JSON to one URL, politely and with a cache.

    Args:
        url: the endpoint (http or https).
        timeout: seconds for one request (connect and answer).
        retries: tries after the first on 429, 5xx and failed connections.
        backoff: the first wait in seconds, doubled after each retry.
        rate: the most requests per second (None: no limit).
        concurrency: requests in flight at once.
        cache_size: answers kept (by the bytes of the request); 0 keeps none.
    """

    url: str
    timeout: float = 30.0
    retries: int = 4
    backoff: float = 0.5
    rate: float | None = None
    concurrency: int = 4
    cache_size: int = 100_000
    stats: HttpStats = field(default_factory=HttpStats)

    def __post_init__(self) -> None:
        parts = urllib.parse.urlsplit(self.url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ParameterError(f"{self.url}: a model endpoint must be an http(s) URL with a host")
        for name in ("timeout", "backoff"):
            if not getattr(self, name) > 0:
                raise ParameterError(f"{name} must be positive, not {getattr(self, name)!r}")
        if self.rate is not None and not self.rate > 0:
            raise ParameterError(f"rate must be positive (requests per second), not {self.rate!r}")
        if self.retries < 0 or self.concurrency < 1 or self.cache_size < 0:
            raise ParameterError("retries and cache_size must be >= 0, concurrency >= 1")
        self._parts = parts
        self._cache: OrderedDict[bytes, Any] = OrderedDict()
        self._lock = threading.Lock()
        self._next = 0.0

    # --- one request -------------------------------------------------------------------

    def _wait_turn(self) -> None:
        if self.rate is None:
            return
        with self._lock:
            now = time.monotonic()
            start = max(now, self._next)
            self._next = start + 1.0 / self.rate
        if start > now:
            time.sleep(start - now)

    def _once(self, method: str, body: bytes | None) -> tuple[int, dict[str, str], bytes]:
        parts = self._parts
        cls = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
        connection = cls(parts.hostname or "", parts.port, timeout=self.timeout)
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        headers = {"User-Agent": "hoodwink", "Accept": "application/json"}
        if body is not None:
            headers["Content-Type"] = "application/json"
        try:
            connection.request(method, target, body=body, headers=headers)
            response = connection.getresponse()
            data = response.read(MAX_ANSWER + 1)
            if len(data) > MAX_ANSWER:
                raise ModelError(f"{self.url}: answer too large (over {MAX_ANSWER} bytes)")
            return response.status, {k.lower(): v for k, v in response.getheaders()}, data
        finally:
            connection.close()

    def request(self, method: str, payload: Any | None = None) -> Any:
        """The JSON answer to one request, with retries; one clear :class:`ModelError`."""
        body = None if payload is None else json.dumps(payload).encode()
        delay = self.backoff
        last = ""
        for attempt in range(self.retries + 1):
            if attempt:
                self.stats.retries += 1
            self._wait_turn()
            try:
                with self._lock:
                    self.stats.requests += 1
                status, headers, data = self._once(method, body)
            except (OSError, http.client.HTTPException) as exc:
                last = f"could not connect ({type(exc).__name__}: {exc})".replace(": )", ")")
                if isinstance(exc, TimeoutError) or "timed out" in str(exc):
                    last = f"no answer within {self.timeout:g} s"
                status, headers, data = 0, {}, b""
            if status == 429 or status >= 500 or status == 0:
                if status:
                    last = f"HTTP {status}"
                if attempt < self.retries:
                    time.sleep(min(MAX_BACKOFF, max(delay, _retry_after(headers))))
                    delay *= 2
                continue
            if status >= 400:
                detail = data[:200].decode("utf-8", "replace").strip()
                raise ModelError(f"{self.url}: HTTP {status}" + (f" ({detail})" if detail else ""))
            try:
                return json.loads(data)
            except ValueError:
                raise ModelError(f"{self.url}: malformed answer (not JSON)") from None
        tries = self.retries + 1
        raise ModelError(f"{self.url}: gave up after {tries} {'try' if tries == 1 else 'tries'} "
                         f"({last})")

    def post_cached(self, body_key: bytes, payload: Any) -> Any:
        """:meth:`request` POST, unless an answer for ``body_key`` is in the cache."""
        key = hashlib.sha256(body_key).digest()
        with self._lock:
            if key in self._cache:
                self._cache.move_to_end(key)
                self.stats.cached += 1
                return self._cache[key]
        answer = self.request("POST", payload)
        if self.cache_size:
            with self._lock:
                self._cache[key] = answer
                while len(self._cache) > self.cache_size:
                    self._cache.popitem(last=False)
        return answer

    def map(self, images: Sequence[bytes]) -> list[Any]:
        """The answers for several PNGs, at most ``concurrency`` requests at a time."""
        def one(png: bytes) -> Any:
            return self.post_cached(png, {"image": base64.b64encode(png).decode("ascii")})

        if self.concurrency == 1 or len(images) <= 1:
            return [one(p) for p in images]
        with ThreadPoolExecutor(max_workers=min(self.concurrency, len(images))) as pool:
            return list(pool.map(one, images))


def _retry_after(headers: dict[str, str]) -> float:
    value = headers.get("retry-after", "")
    try:
        return max(0.0, float(value))
    except ValueError:
        return 0.0


def _answer(url: str, answer: Any, num_classes: int, labels_only: bool) -> np.ndarray | int:
    """Probabilities (num_classes,) or one label from one JSON answer, checked."""
    if not isinstance(answer, dict):
        raise ModelError(f"{url}: malformed answer (expected a JSON object)")
    if labels_only:
        label = answer.get("label")
        if not isinstance(label, dict) or not _is_index(label.get("index"), num_classes):
            raise ModelError(f"{url}: malformed answer (expected \"label\": {{\"index\", "
                             f"\"name\"}} with an index in 0..{num_classes - 1})")
        return int(label["index"])
    predictions = answer.get("predictions")
    if not isinstance(predictions, list) or not predictions:
        hint = " (it answers with a label only: use a decision-based attack such as " \
            "hopskipjump)" if "label" in answer else ""
        raise ModelError(f"{url}: malformed answer (expected a list of \"predictions\"){hint}")
    out = np.zeros(num_classes, dtype=np.float32)
    for p in predictions:
        if not isinstance(p, dict) or not _is_index(p.get("index"), num_classes):
            raise ModelError(f"{url}: malformed answer (a prediction without an index in "
                             f"0..{num_classes - 1})")
        prob = p.get("probability")
        if isinstance(prob, bool) or not isinstance(prob, (int, float)) or not 0 <= prob <= 1:
            raise ModelError(f"{url}: malformed answer (a probability that is not in [0, 1])")
        out[int(p["index"])] = float(prob)
    return out


def _is_index(value: Any, n: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value < n


def load_remote(url: str, *, timeout: float = 30.0, retries: int = 4, backoff: float = 0.5,
                rate: float | None = None, concurrency: int = 4,
                labels: Labels | Sequence[str] | None = None,
                input_size: tuple[int, int] | None = None, resize: int | None | str = "auto",
                output: str | None = None) -> QueryModel:
    """A query-only model for an endpoint that speaks hoodwink's protocol.

    What the model is comes from ``GET url`` when the server answers it
    (``hoodwink serve-model`` does); the arguments override it. Raises
    :class:`ModelError` with one line when the server cannot be reached.
    """
    client = HttpClient(url, timeout=timeout, retries=retries, backoff=backoff, rate=rate,
                        concurrency=concurrency)
    try:
        info = client.request("GET")
    except ModelError as exc:
        if "HTTP 4" not in str(exc):     # unreachable, not just without an info page
            raise
        info = {}
    if not isinstance(info, dict):
        info = {}
    client.stats.requests = 0             # the budget's count starts with the first image
    names = labels if labels is not None else info.get("labels")
    if isinstance(names, Labels):
        chosen = names
    elif isinstance(names, list) and names and all(isinstance(n, str) for n in names):
        chosen = imagenet_labels() if len(names) == 1000 and labels is None \
            and names == imagenet_labels().names else Labels.from_names(names)
    else:
        chosen = imagenet_labels()
    size = input_size or tuple(info.get("input_size") or (224, 224))
    if resize == "auto":
        resize = info.get("resize", 256 if tuple(size) == (224, 224) else None)
    kind = output or info.get("output") or "probabilities"
    if kind not in ("probabilities", "labels"):
        raise ModelError(f"{url}: unknown output {kind!r} (probabilities or labels)")
    num_classes = len(chosen)

    def ask(pixels: np.ndarray) -> np.ndarray:
        answers = client.map([encode_png(p) for p in pixels])
        parsed = [_answer(url, a, num_classes, kind == "labels") for a in answers]
        if kind == "labels":
            return np.asarray(parsed, dtype=np.int64)
        return np.stack([np.asarray(p) for p in parsed]) if parsed else \
            np.zeros((0, num_classes), np.float32)

    model = QueryModel(ask, chosen, output=kind, input_size=(int(size[0]), int(size[1])),
                       resize=None if resize is None else int(resize),
                       name=str(info.get("name") or url),
                       metadata={"url": url, "top": info.get("top"), "client": client})
    return model
