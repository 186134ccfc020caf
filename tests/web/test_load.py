"""A bounded load test on 127.0.0.1: 8 concurrent clients each run a 10-step trick on the tiny
model; all finish, none errors, the model never runs twice at once, and the server's memory
after a second round is within 10% of after the first (flat under repeated use)."""

from __future__ import annotations

import gc
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

pytest.importorskip("gradio")
gradio_client = pytest.importorskip("gradio_client")

from hoodwink.web.app import API_SAMPLE, API_TRICK, build_app, close, launch
from hoodwink.web.limits import Limits

from .conftest import tiny_model
from .test_session import Slow

USERS = 8
STEPS = 10
ROUND_TIMEOUT_S = 240


def rss_bytes() -> int:
    """This process's resident memory (the server runs in it)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    pytest.skip("no /proc/self/status on this system")


def one_user(url: str, image: str) -> list[str]:
    client = gradio_client.Client(url, verbose=False, download_files=False)
    job = client.submit(gradio_client.handle_file(image), "into", "paper towel", "bim", 1, STEPS,
                        api_name=API_TRICK)
    job.result(timeout=ROUND_TIMEOUT_S)
    return [str(out[-1]) for out in job.outputs()]


def load_round(url: str, image: str) -> list[list[str]]:
    with ThreadPoolExecutor(USERS) as pool:
        futures = [pool.submit(one_user, url, image) for _ in range(USERS)]
        return [f.result(timeout=ROUND_TIMEOUT_S) for f in futures]


@pytest.mark.slow
def test_eight_users_at_once(tmp_path: Path) -> None:
    model = tiny_model()
    slow = Slow(model.net, 0.0)
    model.net = slow
    limits = Limits(max_steps=STEPS, queue_size=USERS * 2)
    app = build_app(model, limits, photos=None, workdir=tmp_path / "work")
    url = launch(app, port=None, limits=limits, block=False)
    try:
        image = gradio_client.Client(url, verbose=False, download_files=False).predict(
            "coffee", api_name=API_SAMPLE)["path"]
        start = time.monotonic()
        first = load_round(url, image)
        first_s = time.monotonic() - start
        gc.collect()
        before = rss_bytes()
        second = load_round(url, image)
        gc.collect()
        after = rss_bytes()
    finally:
        close(app)
    for statuses in first + second:
        *steps, last = statuses
        assert [s.split(":")[0] for s in steps] == [f"step {i}" for i in range(len(steps))]
        assert last.startswith(("**tricked**", "**not tricked**")), last
        assert len(steps) == STEPS + 1 or last.startswith("**tricked**")
    assert slow.most_inside == 1  # one model user at a time
    assert abs(after - before) <= 0.10 * before, (before, after)
    print(f"\n{USERS} users x {STEPS} steps: first round {first_s:.1f} s; "
          f"RSS {before / 2**20:.0f} MiB -> {after / 2**20:.0f} MiB")
