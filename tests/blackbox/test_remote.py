"""A model behind HTTP: the client against a real ``serve-model`` app on 127.0.0.1, and
against a scripted server for the faults (429, 5xx, slow, malformed)."""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import numpy as np
import pytest
import torch

from hoodwink.attacks import Goal, ThreatModel, get_attack
from hoodwink.errors import ModelError, ParameterError
from hoodwink.models.remote import HttpClient, encode_png, load_remote


@contextmanager
def scripted(answers: list[tuple[int, bytes, float]]) -> Iterator[tuple[str, list[str]]]:
    """A stdlib server that answers POSTs with ``answers`` in turn (status, body, delay s);
    the last one repeats. GET answers 404 (no info page, like a third-party API)."""
    seen: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            seen.append(self.rfile.read(length).decode())
            status, body, delay = answers[min(len(seen), len(answers)) - 1]
            time.sleep(delay)
            self.send_response(status)
            if status == 429:
                self.send_header("Retry-After", "0")
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/predict", seen
    finally:
        server.shutdown()
        server.server_close()


def _pixels(n: int = 3, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (n, 8, 8, 3), dtype=np.uint8)


def _torch_probs(model: Any, pixels: np.ndarray) -> torch.Tensor:
    with torch.no_grad():
        return model(torch.from_numpy(pixels).permute(0, 3, 1, 2).float() / 255).softmax(1)


# --- against a real serve-model app -----------------------------------------------------


def test_the_client_gets_the_served_models_answers(served, sharp) -> None:
    pixels = _pixels()
    with served(sharp, top=10) as (url, app):
        model = load_remote(url)
        assert model.labels.names == sharp.labels.names and model.input_size == (8, 8)
        assert model.resize is None and model.output == "probabilities"
        probs = model.ask(pixels)
    assert torch.allclose(probs, _torch_probs(sharp, pixels), atol=1e-6)
    assert app.state.stats.answered == 3


def test_top_k_rounded_and_label_only_answers(served, sharp) -> None:
    pixels = _pixels()
    expected = _torch_probs(sharp, pixels)
    with served(sharp, top=2, digits=2) as (url, _):
        probs = load_remote(url).ask(pixels)
    assert ((probs > 0).sum(1) == 2).all()
    top2 = expected.topk(2, dim=1)
    assert torch.allclose(probs.gather(1, top2.indices), top2.values.round(decimals=2), atol=1e-6)
    with served(sharp, labels_only=True) as (url, _):
        model = load_remote(url)
        assert model.labels_only
        assert model.ask(pixels).tolist() == expected.argmax(1).tolist()


def test_the_same_image_is_never_paid_for_twice(served, sharp) -> None:
    pixels = _pixels(2)
    with served(sharp) as (url, app):
        model = load_remote(url)
        model.ask(pixels)
        model.ask(pixels[::-1].copy())
        model.ask(pixels[:1])
        assert app.state.stats.answered == 2
        client = model.metadata["client"]
        assert (client.stats.requests, client.stats.cached) == (2, 3)


def test_square_tricks_a_served_model_and_the_server_agrees(served, sharp, images) -> None:
    """Budget counted per image; each adversarial image, sent again, is called what the
    result says."""
    with served(sharp, top=5, digits=2) as (url, _):
        model = load_remote(url)
        result = get_attack("square")(model, images[:4], Goal.untargeted(),
                                      ThreatModel("linf", 8 / 255), queries=60)
        assert result.success.any() and int(result.queries.max()) <= 60
        client = model.metadata["client"]
        assert client.stats.requests + client.stats.cached == int(result.queries.sum())
        again = model.ask(np.ascontiguousarray(
            (result.adversarial * 255).round().byte().permute(0, 2, 3, 1).numpy()))
    assert again.argmax(1).tolist() == result.adversarial_probabilities.argmax(1).tolist()
    assert (again.argmax(1)[result.success] != result.goal_classes[result.success]).all()


def test_hopskipjump_against_a_label_only_server(served, sharp, images) -> None:
    with served(sharp, labels_only=True) as (url, _):
        model = load_remote(url)
        result = get_attack("hopskipjump")(model, images[:2], Goal.untargeted(), queries=80)
    assert result.success.all()
    with torch.no_grad():
        assert (sharp(result.adversarial).argmax(1) != result.goal_classes).all()


def test_uploads_over_the_cap_are_refused(served, sharp) -> None:
    with served(sharp, max_bytes=2000) as (url, app):
        big = np.random.default_rng(1).integers(0, 256, (1, 64, 64, 3), dtype=np.uint8)
        client = HttpClient(url, retries=0)
        with pytest.raises(ModelError, match="HTTP 413"):
            client.request("POST", {"image": base64.b64encode(encode_png(big[0])).decode()})
        with pytest.raises(ModelError, match="HTTP 400"):
            client.request("POST", {"picture": "nothing"})
        assert app.state.stats.too_large == 1 and app.state.stats.bad == 1


def test_the_server_refuses_more_requests_at_once_than_its_cap(served, sharp, monkeypatch) -> None:
    """A third request while two are in flight gets 429; the client backs off and retries.
    The two in flight hold their slots until the server has refused one (not for a fixed
    time, which a loaded machine can outlast before the third request arrives)."""
    import hoodwink.models.server as server_module

    original = server_module.load_image
    holder: dict[str, Any] = {}

    def slow_load(*args: Any, **kwargs: Any) -> Any:
        deadline = time.monotonic() + 10
        while holder["app"].state.stats.busy < 1 and time.monotonic() < deadline:
            time.sleep(0.01)
        return original(*args, **kwargs)

    monkeypatch.setattr(server_module, "load_image", slow_load)
    with served(sharp, concurrency=2) as (url, app):
        holder["app"] = app
        model = load_remote(url, concurrency=3, backoff=0.05)
        model.ask(_pixels(3))
        assert app.state.stats.busy >= 1 and app.state.stats.answered == 3
        assert model.metadata["client"].stats.retries >= 1


# --- faults, from a scripted server -----------------------------------------------------

_OK = json.dumps({"predictions": [{"index": 1, "name": "b", "probability": 0.75},
                                  {"index": 0, "name": "a", "probability": 0.25}]}).encode()


def test_429_and_5xx_are_retried_with_back_off() -> None:
    answers = [(429, b"{}", 0.0), (503, b"{}", 0.0), (200, _OK, 0.0)]
    with scripted(answers) as (url, seen):
        model = load_remote(url, labels=["a", "b"], input_size=(8, 8), backoff=0.05)
        start = time.monotonic()
        probs = model.ask(_pixels(1))
        waited = time.monotonic() - start
    assert probs.tolist() == [[0.25, 0.75]]
    assert len(seen) == 3 and waited >= 0.05 + 0.1            # 0.05 s, then 0.1 s
    assert json.loads(seen[0])["image"] == base64.b64encode(encode_png(_pixels(1)[0])).decode()


def test_a_server_that_keeps_failing_gives_one_clear_error() -> None:
    with scripted([(500, b"{}", 0.0)]) as (url, seen):
        model = load_remote(url, labels=["a", "b"], input_size=(8, 8), retries=2, backoff=0.01)
        with pytest.raises(ModelError, match=r"gave up after 3 tries \(HTTP 500\)"):
            model.ask(_pixels(1))
    assert len(seen) == 3


def test_a_slow_server_times_out() -> None:
    with scripted([(200, _OK, 1.0)]) as (url, _):
        model = load_remote(url, labels=["a", "b"], input_size=(8, 8), timeout=0.2, retries=0)
        with pytest.raises(ModelError, match="no answer within 0.2 s"):
            model.ask(_pixels(1))


@pytest.mark.parametrize("body,message", [
    (b"<html>oops</html>", "not JSON"),
    (b'{"predictions": [{"index": 7, "probability": 0.5}]}', "an index in 0..1"),
    (b'{"predictions": [{"index": 0, "probability": 1.5}]}', "not in \\[0, 1\\]"),
    (b'{"label": {"index": 1, "name": "b"}}', "label only"),
    (b"[1, 2]", "a JSON object"),
])
def test_a_malformed_answer_is_one_clear_error(body: bytes, message: str) -> None:
    with scripted([(200, body, 0.0)]) as (url, _):
        model = load_remote(url, labels=["a", "b"], input_size=(8, 8), retries=0)
        with pytest.raises(ModelError, match=message):
            model.ask(_pixels(1))


def test_the_rate_limit_spaces_requests() -> None:
    with scripted([(200, _OK, 0.0)]) as (url, seen):
        model = load_remote(url, labels=["a", "b"], input_size=(8, 8), rate=20.0, concurrency=1)
        start = time.monotonic()
        model.ask(_pixels(5, seed=3))
        assert time.monotonic() - start >= 4 / 20 - 0.01 and len(seen) == 5


def test_an_unreachable_endpoint_and_a_bad_url_are_clear_errors(free_port) -> None:
    with pytest.raises(ModelError, match="gave up after 1 try "):
        load_remote(f"http://127.0.0.1:{free_port()}/predict", retries=0)
    with pytest.raises(ParameterError, match="http"):
        HttpClient("ftp://example.com/predict")
