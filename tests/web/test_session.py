"""The streamed trick behind the page (no Gradio): one update per step, stop, time limit,
one model user at a time, and a PNG that reads back as the class it reports."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
import torch
from torch import nn

import hoodwink
from hoodwink.errors import ClassNotFoundError, ParameterError
from hoodwink.web.limits import Limits
from hoodwink.web.session import Playground, TrickRequest, TrickUpdate

from .conftest import tiny_model


@pytest.fixture()
def play(tiny: nn.Module, tmp_path: Path) -> Playground:
    return Playground(tiny, Limits(max_steps=50), tmp_path)  # type: ignore[arg-type]


def run(play: Playground, request: TrickRequest, **kwargs: object) -> list[TrickUpdate]:
    return list(play.trick(hoodwink.load_image("chelsea"), request, **kwargs))  # type: ignore[arg-type]


def test_one_update_per_step_then_the_png(play: Playground) -> None:
    updates = run(play, TrickRequest("into", "vulture", steps=10))
    *steps, last = updates
    assert [u.row for u in steps] == list(range(len(steps)))  # the start, then every step
    assert not any(u.done for u in steps) and last.done and last.status == "tricked"
    assert last.row == steps[-1].row and 2 <= len(steps) <= 11
    assert steps[-1].top1_name == "vulture" and steps[0].top1_name != "vulture"
    # the trajectory grows by one row per step and starts with the goal's class
    assert [u.trajectory.shape[0] for u in steps] == [u.row + 1 for u in steps]
    assert last.classes[0] == play.model.labels.find("vulture")
    # every streamed image is on the 8-bit grid within eps of the start
    for u in steps:
        assert torch.equal(u.image * 255, (u.image * 255).round())
        assert (u.image - u.clean).abs().max() <= 8 / 255 + 1e-6
    # the PNG is the last image, and hoodwink.predict reads it back as the target
    assert last.png is not None and last.png.suffix == ".png"
    assert torch.equal(hoodwink.load_image(last.png), last.image)
    assert hoodwink.predict(play.model, last.png)[0].top1.name == "vulture"  # type: ignore[arg-type]
    assert last.read_back is not None and last.read_back.top1.name == "vulture"


@pytest.mark.parametrize("goal, target", [("away", None), ("less like", "sax"), ("more like", "vulture")])
def test_every_goal_streams(play: Playground, goal: str, target: str | None) -> None:
    last = run(play, TrickRequest(goal, target, steps=3))[-1]
    assert last.done and last.status in ("tricked", "not tricked") and last.png is not None


def test_bad_requests_raise_before_anything_runs(play: Playground) -> None:
    with pytest.raises(ClassNotFoundError, match="did you mean 'vulture'"):
        run(play, TrickRequest("into", "vultur"))
    with pytest.raises(ParameterError, match="choose a class"):
        run(play, TrickRequest("into", ""))
    with pytest.raises(ParameterError, match="between 1 and 50"):
        run(play, TrickRequest("into", "vulture", steps=51))
    with pytest.raises(ParameterError, match="16/255"):
        run(play, TrickRequest("into", "vulture", eps=17))
    with pytest.raises(ParameterError, match="unknown attack"):
        run(play, TrickRequest("into", "vulture", attack="deepfool"))
    with pytest.raises(ParameterError, match="unknown goal"):
        run(play, TrickRequest("sideways", "vulture"))


class Slow(nn.Module):
    """A net that sleeps in every forward pass and notes how many passes overlap."""

    def __init__(self, net: nn.Module, delay: float) -> None:
        super().__init__()
        self.net, self.delay = net, delay
        self.inside = 0
        self.most_inside = 0
        self.guard = threading.Lock()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        with self.guard:
            self.inside += 1
            self.most_inside = max(self.most_inside, self.inside)
        time.sleep(self.delay)
        try:
            return self.net(x)  # type: ignore[no-any-return]
        finally:
            with self.guard:
                self.inside -= 1


def slow_model(delay: float) -> tuple[nn.Module, Slow]:
    model = tiny_model()
    slow = Slow(model.net, delay)
    model.net = slow
    return model, slow


def test_stop_ends_the_attack_and_keeps_what_it_has(tmp_path: Path) -> None:
    model, _ = slow_model(0.01)
    play = Playground(model, Limits(), tmp_path)  # type: ignore[arg-type]
    stop = threading.Event()
    updates = []
    for update in play.trick(hoodwink.load_image("black"), TrickRequest("into", "vulture", eps=1, steps=200),
                             stop):
        updates.append(update)
        if update.row == 3:
            stop.set()
    last = updates[-1]
    assert last.done and last.status == "stopped" and last.row < 10
    assert last.png is not None and torch.equal(hoodwink.load_image(last.png), updates[-2].image)


def test_time_limit(tmp_path: Path) -> None:
    model, _ = slow_model(0.05)
    play = Playground(model, Limits(time_limit_s=0.5), tmp_path)  # type: ignore[arg-type]
    start = time.monotonic()
    last = run(play, TrickRequest("into", "vulture", eps=1, steps=200))[-1]
    assert last.status == "time limit" and "0.5 s" in last.message
    assert time.monotonic() - start < 5


def test_closing_the_stream_stops_the_worker(tmp_path: Path) -> None:
    model, slow = slow_model(0.01)
    play = Playground(model, Limits(), tmp_path)  # type: ignore[arg-type]
    before = {t.ident for t in threading.enumerate()}
    stream = play.trick(hoodwink.load_image("black"), TrickRequest("into", "vulture", eps=1, steps=200))
    for update in stream:
        if update.row == 2:
            break
    stream.close()
    assert {t.ident for t in threading.enumerate()} == before and slow.inside == 0
    assert not play.lock.locked()


def test_a_stream_closed_with_a_full_queue_leaves_no_thread(tmp_path: Path) -> None:
    model, _ = slow_model(0.0)
    play = Playground(model, Limits(), tmp_path)  # type: ignore[arg-type]
    before = {t.ident for t in threading.enumerate()}
    stream = play.trick(hoodwink.load_image("black"), TrickRequest("into", "vulture", eps=1, steps=200))
    next(stream)
    time.sleep(0.5)  # the worker fills the queue and waits
    stream.close()
    assert {t.ident for t in threading.enumerate()} == before and not play.lock.locked()


def test_the_model_never_runs_twice_at_once(tmp_path: Path) -> None:
    model, slow = slow_model(0.002)
    play = Playground(model, Limits(), tmp_path)  # type: ignore[arg-type]
    errors: list[BaseException] = []

    def user(i: int) -> None:
        try:
            run(play, TrickRequest("into", "vulture", steps=5))
            play.predict(hoodwink.load_image("coffee"))
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=user, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors and slow.most_inside == 1


def test_written_pngs_are_bounded(play: Playground, monkeypatch: pytest.MonkeyPatch) -> None:
    from hoodwink.web import session

    monkeypatch.setattr(session, "KEEP_FILES", 2)
    for _ in range(4):
        run(play, TrickRequest("into", "vulture", steps=1))
    assert len(list(play.workdir.glob("*.png"))) == 2
