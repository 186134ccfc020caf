"""The page's API through gradio_client, against the app launched on 127.0.0.1 with a tiny model."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

gr = pytest.importorskip("gradio")
gradio_client = pytest.importorskip("gradio_client")

import hoodwink
from hoodwink.web.app import API_PREDICT, API_SAMPLE, API_STOP, API_TRICK, build_app, close, launch
from hoodwink.web.limits import Limits

from .conftest import BAD_UPLOAD_WORDS, tiny_model
from .test_session import Slow

LIMITS = Limits(max_steps=200, time_limit_s=60)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Any]]:
    model = tiny_model()
    model.net = Slow(model.net, 0.01)  # a stop must come before 200 steps are over
    app = build_app(model, LIMITS, photos=None, workdir=tmp_path_factory.mktemp("web"))
    url = launch(app, host="127.0.0.1", port=None, limits=LIMITS, block=False)
    try:
        yield url, app
    finally:
        close(app)


@pytest.fixture()
def client(server: tuple[str, Any], tmp_path: Path) -> Any:
    return gradio_client.Client(server[0], verbose=False, download_files=str(tmp_path))


def test_served_on_loopback_only(server: tuple[str, Any]) -> None:
    assert server[0].startswith("http://127.0.0.1:")
    assert server[1].share_url is None


def test_samples_and_top5(client: Any) -> None:
    path = client.predict("chelsea", api_name=API_SAMPLE)
    bars, message = client.predict(gradio_client.handle_file(path), api_name=API_PREDICT)
    assert message == "" and len(bars["confidences"]) == 5
    model = tiny_model()
    assert bars["label"] == hoodwink.predict(model, "chelsea")[0].top1.name


def test_trick_streams_one_update_per_step_and_the_png_is_the_target(client: Any) -> None:
    path = client.predict("chelsea", api_name=API_SAMPLE)
    job = client.submit(gradio_client.handle_file(path), "into", "vulture", "bim", 8, 10, api_name=API_TRICK)
    updates = list(job)
    job.result()
    assert len(updates) == len(job.outputs())
    *steps, last = updates
    shown, change, _plot, now, png, seen, status = last
    # the tiny model needs 5 steps: the start and 5 steps stream, then the answer
    assert len(steps) == 6
    assert [s[6].split(":")[0] for s in steps] == [f"step {i}" for i in range(6)]
    plots = [s[2].get("value", s[2]) for s in steps]  # an update with the data and the colours
    assert [max(r[0] for r in p["data"]) for p in plots] == list(range(6))  # the plot grows
    assert steps[-1][2]["caption"].startswith("red: vulture")  # the goal's curve, named
    assert all(s[4] is None for s in steps) and status.startswith("**tricked**")
    assert now["label"] == "vulture" and "**vulture**" in seen
    # the downloaded PNG is read back as the target, as `hoodwink predict` reads a file
    assert Path(png).suffix == ".png"
    assert hoodwink.predict(tiny_model(), png)[0].top1.name == "vulture"
    # the last image streamed is that PNG (the answer does not send it again)
    assert shown == {"__type__": "update"} and change == {"__type__": "update"}
    assert (hoodwink.load_image(png) == hoodwink.load_image(steps[-1][0])).all()
    assert hoodwink.load_image(png).shape == (3, 32, 32)


@pytest.mark.parametrize("kind", sorted(BAD_UPLOAD_WORDS))
def test_bad_uploads_get_a_message(client: Any, bad_uploads: dict[str, Path], kind: str) -> None:
    upload = gradio_client.handle_file(str(bad_uploads[kind]))
    _bars, message = client.predict(upload, api_name=API_PREDICT)
    assert message.startswith("**Cannot do that:**") and BAD_UPLOAD_WORDS[kind] in message
    assert "Traceback" not in message and str(bad_uploads[kind].parent) not in message
    *_, png, _seen, status = client.predict(upload, "into", "vulture", "bim", 8, 3, api_name=API_TRICK)
    assert png is None and BAD_UPLOAD_WORDS[kind] in status


def test_bad_requests_get_a_message(client: Any) -> None:
    path = gradio_client.handle_file(client.predict("coffee", api_name=API_SAMPLE))
    status = client.predict(path, "into", "vultur", "bim", 8, 3, api_name=API_TRICK)[-1]
    assert "did you mean 'vulture'" in status
    with pytest.raises(gradio_client.exceptions.AppError, match="not in the list of choices"):
        client.predict(path, "into", "vulture", "deepfool", 8, 3, api_name=API_TRICK)
    with pytest.raises(gradio_client.exceptions.AppError, match="maximum"):
        client.predict(path, "into", "vulture", "bim", 8, 201, api_name=API_TRICK)  # over --max-steps


def test_stop(server: tuple[str, Any]) -> None:
    client = gradio_client.Client(server[0], verbose=False, download_files=False)
    path = gradio_client.handle_file(client.predict("black", api_name=API_SAMPLE)["path"])
    job = client.submit(path, "into", "paper towel", "bim", 1, 200, api_name=API_TRICK)
    for seen, _update in enumerate(job, 1):
        if seen == 2:
            assert client.predict(api_name=API_STOP) == "stopping..."
    *_, png, seen_as, status = job.outputs()[-1]
    assert status.startswith("**stopped**"), status
    assert len(job.outputs()) < 100 and png is not None and "read back as" in seen_as
    assert client.predict(api_name=API_STOP) == ""  # nothing left to stop


def test_explain_and_the_random_baseline(client: Any) -> None:
    path = gradio_client.handle_file(client.predict("chelsea", api_name=API_SAMPLE))
    picture, curves, text = client.predict(path, "saliency", "", api_name="/explain")
    assert Path(picture).suffix == ".png" and "deletion AUC" in text and "random" in text
    assert "Colours" in text
    labels = {row[2] for row in curves["data"]}
    assert labels == {"deletion, map", "insertion, map", "deletion, random", "insertion, random"}
    _, _, text = client.predict(path, "saliency", "vultur", api_name="/explain")
    assert "did you mean 'vulture'" in text


def test_clean_vs_adversarial_after_a_trick(client: Any) -> None:
    picture, text = client.predict("saliency", api_name="/explain_pair")
    assert picture is None and "trick an image first" in text
    path = gradio_client.handle_file(client.predict("chelsea", api_name=API_SAMPLE))
    client.predict(path, "into", "vulture", "bim", 8, 10, api_name=API_TRICK)
    picture, text = client.predict("saliency", api_name="/explain_pair")
    assert Path(picture).suffix == ".png" and "adversarial: **vulture**" in text, text


@pytest.mark.slow
def test_done_when_a_panda_becomes_a_vulture_that_hoodwink_predict_agrees_with(
        imagenet_model: Any, tmp_path: Path) -> None:
    """The issue's "done when", on the real network: the photo of a panda (the shared one, else
    chelsea), "vulture", start; the downloaded PNG is a vulture to ``hoodwink predict``."""
    from typer.testing import CliRunner

    from hoodwink.cli import app as cli
    from hoodwink.web.samples import SHARED_PHOTOS

    app = build_app(imagenet_model, LIMITS, workdir=tmp_path / "work")
    url = launch(app, port=None, limits=LIMITS, block=False)
    try:
        client = gradio_client.Client(url, verbose=False, download_files=str(tmp_path))
        sample = "photo: giant panda" if SHARED_PHOTOS.is_dir() else "chelsea"
        path = gradio_client.handle_file(client.predict(sample, api_name=API_SAMPLE))
        job = client.submit(path, "into", "vulture", "bim", 8, 40, api_name=API_TRICK)
        updates = list(job)
        png, status = updates[-1][4], updates[-1][6]
        assert status.startswith("**tricked**") and len(updates) >= 3, status
        result = CliRunner().invoke(cli, ["predict", png, "--top", "1", "--json"])
        assert result.exit_code == 0 and '"name": "vulture"' in result.stdout, result.output
    finally:
        close(app)


def test_uploads_over_the_cap_are_refused_before_they_reach_hoodwink(tmp_path: Path) -> None:
    import torch

    from hoodwink import save_image

    limits = Limits(max_upload_bytes=4096)
    app = build_app(tiny_model(), limits, photos=None, workdir=tmp_path / "work")
    url = launch(app, port=None, limits=limits, block=False)
    try:
        client = gradio_client.Client(url, verbose=False)
        big = save_image(torch.rand(3, 64, 64), tmp_path / "noise.png")  # about 12 KB of noise
        assert big.stat().st_size > 4096
        with pytest.raises(Exception, match="(?i)size|large|413"):
            client.predict(gradio_client.handle_file(str(big)), api_name=API_PREDICT)
        small = save_image(torch.zeros(3, 8, 8), tmp_path / "black.png")
        _bars, message = client.predict(gradio_client.handle_file(str(small)), api_name=API_PREDICT)
        assert message == ""
    finally:
        close(app)
