"""The playground's model door and its streamed trick (no Gradio here).

:class:`Playground` holds the one shared model behind a lock, so that however the
server is driven (the page, the API, a second tab) the model never runs twice at
once. :meth:`Playground.trick` runs an attack from the public API
(:func:`hoodwink.attacks.get_attack` with the streaming ``on_step`` callback) in a
worker thread and yields one :class:`TrickUpdate` per step: the 8-bit image judged
at that step, its probabilities and the trajectory of the classes that matter. The
last update carries the PNG that was written and the class it is read back as
(:func:`hoodwink.predict` on the file, as ``hoodwink predict`` would read it).

The worker waits for the page (a queue of two steps), so a slow browser slows the
attack instead of piling up images; a stop, a closed page or the time limit make the
callback raise, which ends the attack at its next step.

Example:
    >>> play = Playground(hoodwink.load_model(), Limits())                  # doctest: +SKIP
    >>> for update in play.trick(load_image("chelsea"), TrickRequest("into", "vulture", steps=30)):
    ...     print(update.row, update.top1_name)                                  # doctest: +SKIP
"""

from __future__ import annotations

import itertools
import queue
import tempfile
import threading
import time
from collections import deque
from collections.abc import Generator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from hoodwink.attacks import ThreatModel, get_attack, list_attacks
from hoodwink.attacks.engine import Step
from hoodwink.attacks.result import AttackResult
from hoodwink.attacks.trick import make_goal, usual_step_size
from hoodwink.errors import HoodwinkError, ParameterError
from hoodwink.images import save_image
from hoodwink.models.classifier import Classifier, model_input
from hoodwink.predict import ImagePredictions, Prediction, predict, top_predictions
from hoodwink.web.limits import Limits

#: The goals, as the page names them.
GOALS = ("into", "away", "less like", "more like")
#: Attacks offered on the page, in this order, when registered (white-box, eps-bounded).
ATTACK_CHOICES = ("bim", "pgd", "mifgsm", "fgsm", "apgd-ce")
#: At most this many classes are drawn on the trajectory plot.
MAX_TRACKED = 6
#: Written PNGs kept on disk (older ones are deleted; Gradio serves its own copy).
KEEP_FILES = 64


def attack_choices() -> list[str]:
    """The attack names the page offers (those of :data:`ATTACK_CHOICES` that are registered)."""
    known = {a.name for a in list_attacks()}
    return [name for name in ATTACK_CHOICES if name in known]


@dataclass(frozen=True)
class TrickRequest:
    """What one trick asks for (checked against the server's :class:`Limits`).

    Attributes:
        goal: one of :data:`GOALS`.
        target: the class (any name, synonym or index) for ``into``, ``less like`` and
            ``more like``; ignored for ``away``.
        attack: an attack name from :func:`attack_choices`.
        eps: the Linf radius in 8-bit levels (8 means 8/255).
        steps: attack steps.
    """

    goal: str
    target: str | None = None
    attack: str = "bim"
    eps: float = 8
    steps: int = 10


@dataclass(frozen=True)
class TrickUpdate:
    """One streamed step, or the end of the stream (``done``).

    Attributes:
        row: the step (0 is the start image).
        image: (C, H, W) the 8-bit image judged at this step, at the model's input size.
        clean: (C, H, W) the start image the model was asked about.
        probabilities: (classes,) the model's probabilities for ``image``.
        classes: the classes drawn on the trajectory (goal, start class, every top-1 visited).
        trajectory: (row + 1, len(classes)) their probabilities at every step so far.
        goal_class: the goal's class (for ``away``: the start class).
        done: the last update; ``status`` says how it ended.
        status: "running", "tricked", "not tricked", "stopped", "time limit" or "error".
        message: one line for the page.
        png: the written 8-bit PNG (on the last update).
        read_back: the top classes of that PNG read back from the file (on the last update).
        top: the top-5 classes at this step.
    """

    row: int
    image: torch.Tensor
    clean: torch.Tensor
    probabilities: torch.Tensor
    classes: tuple[int, ...]
    trajectory: torch.Tensor
    goal_class: int
    done: bool = False
    status: str = "running"
    message: str = ""
    png: Path | None = None
    read_back: ImagePredictions | None = None

    top: tuple[Prediction, ...] = ()

    @property
    def top1_name(self) -> str:
        """The class the model sees at this step."""
        return self.top[0].name if self.top else ""

    @property
    def perturbation(self) -> torch.Tensor:
        """(C, H, W) the change, times 50, around mid-gray (the talk's "x50" picture)."""
        return ((self.image - self.clean) * 50 + 0.5).clamp(0, 1)


class Interrupted(Exception):
    """Raised inside the attack's ``on_step`` to end it (stop, closed page, time limit)."""

    def __init__(self, status: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass
class _Tracker:
    """The probabilities of every step so far and the classes worth drawing."""

    goal_class: int
    history: list[torch.Tensor] = field(default_factory=list)
    classes: list[int] = field(default_factory=list)

    def add(self, probabilities: torch.Tensor) -> None:
        self.history.append(probabilities)
        if not self.classes:
            self.classes.append(self.goal_class)
        top1 = int(probabilities.argmax())
        if top1 not in self.classes and len(self.classes) < MAX_TRACKED:
            self.classes.append(top1)

    def trajectory(self) -> torch.Tensor:
        index = torch.tensor(self.classes, dtype=torch.long)
        return torch.stack(self.history)[:, index]


class Playground:
    """The shared model, its lock, the server's limits and a folder for written PNGs.

    Args:
        model: a hoodwink :class:`Classifier` (its labels name the classes).
        limits: the server's caps.
        workdir: where written PNGs go (a temporary folder by default).
    """

    def __init__(self, model: Classifier, limits: Limits, workdir: Path | None = None) -> None:
        self.model = model
        self.limits = limits
        self.lock = threading.Lock()
        if workdir is None:
            self._tmp: tempfile.TemporaryDirectory[str] | None = tempfile.TemporaryDirectory(
                prefix="hoodwink-web-")
            workdir = Path(self._tmp.name)
        else:
            self._tmp = None
        self.workdir = workdir
        self._written: deque[Path] = deque()
        self._counter = itertools.count(1)
        self._files_lock = threading.Lock()

    def close(self) -> None:
        """Delete the written PNGs (when the folder is the playground's own)."""
        if self._tmp is not None:
            self._tmp.cleanup()

    # --- the model, one request at a time ------------------------------------

    def predict(self, pixels: torch.Tensor, top: int = 5) -> tuple[Prediction, ...]:
        """The top classes of one image (asked about at the model's input size, 8-bit)."""
        with self.lock:
            return predict(self.model, [pixels], top=top)[0].predictions

    def explain(self, pixels: torch.Tensor, method: str, target: str | None,
                steps: int = 16) -> tuple[Any, Any]:
        """The explanation of one image by ``method`` (faithfulness scored) and the random
        baseline's for the same class (:func:`hoodwink.explain.explain`, one model user at a time)."""
        from hoodwink.explain import explain

        cls = self.find_class(target) if target is not None and str(target).strip() else None
        with self.lock:
            result = explain(self.model, pixels, method, target=cls, steps=steps)
            baseline = explain(self.model, pixels, "random", target=result.targets[0], steps=steps)
        return result, baseline

    def explain_pair(self, clean: torch.Tensor, adversarial: torch.Tensor, method: str) -> Any:
        """Maps of the clean image and of the adversarial one for the clean class
        (:func:`hoodwink.explain.explain_attack`)."""
        from hoodwink.explain import explain_attack

        with self.lock:
            return explain_attack(self.model, clean, adversarial, method)

    def find_class(self, name: str | None) -> int:
        """A class by any name, synonym or index ("did you mean ...?" when unknown)."""
        if name is None or not str(name).strip():
            raise ParameterError("choose a class to trick it into (type to search: vulture, paper towel, ...)")
        return self.model.labels.find(str(name).strip())

    def goal_for(self, request: TrickRequest) -> tuple[Any, str | None]:
        """The :class:`~hoodwink.attacks.goals.Goal` of a request (the target checked)."""
        kind = (request.goal or "").strip().lower().replace("_", " ")
        if kind not in GOALS:
            raise ParameterError(f"unknown goal {request.goal!r}; choose one of {', '.join(GOALS)}")
        if kind == "away":
            return make_goal(self.model.labels, away=True), None
        target = self.find_class(request.target)
        labels = self.model.labels
        if kind == "into":
            return make_goal(labels, into=target), kind
        if kind == "less like":
            return make_goal(labels, less_like=target), kind
        return make_goal(labels, more_like=target), kind

    # --- the streamed trick ---------------------------------------------------

    def trick(self, pixels: torch.Tensor, request: TrickRequest,
              stop: threading.Event | None = None) -> Generator[TrickUpdate, None, None]:
        """Run one trick and yield an update per step, then a last one (``done``).

        Bad requests (an unknown class, steps or eps beyond the caps, an unknown attack)
        raise :class:`~hoodwink.errors.HoodwinkError` before anything runs. Closing the
        generator stops the attack at its next step and waits for the worker.
        """
        stop = stop if stop is not None else threading.Event()
        steps = self.limits.check_steps(request.steps)
        eps = self.limits.check_eps(request.eps)
        if request.attack not in attack_choices():
            raise ParameterError(f"unknown attack {request.attack!r}; choose one of "
                                 f"{', '.join(attack_choices())}")
        goal, _ = self.goal_for(request)
        threat = ThreatModel("linf", eps)
        attack = get_attack(request.attack, steps=steps,
                            step_size=usual_step_size(request.attack, threat))
        clean = model_input(self.model, pixels)[0].cpu()
        deadline = time.monotonic() + self.limits.time_limit_s
        channel: queue.Queue[tuple[str, Any]] = queue.Queue(maxsize=2)
        last: dict[str, torch.Tensor] = {"image": clean}

        def check() -> None:
            if stop.is_set():
                raise Interrupted("stopped", "stopped")
            if time.monotonic() > deadline:
                raise Interrupted("time limit", f"stopped at the time limit "
                                                f"({self.limits.time_limit_s:g} s per request)")

        def send(item: tuple[str, Any]) -> None:
            while True:
                check()
                try:
                    channel.put(item, timeout=0.05)
                    return
                except queue.Full:
                    continue

        closed = threading.Event()  # the consumer is gone: nothing more is read

        def deliver(item: tuple[str, Any]) -> None:
            """The last message: wait for room unless no one will read it."""
            while not closed.is_set():
                try:
                    channel.put(item, timeout=0.05)
                    return
                except queue.Full:
                    continue

        def on_step(step: Step) -> None:
            check()
            probs = step.probabilities[0].detach().float().cpu().clone()
            if step.images is not None:
                last["image"] = step.images[0].detach().float().cpu().clone()
            send(("step", (step.row, probs, last["image"])))

        def work() -> None:
            result: AttackResult | None = None
            status, message = "error", ""
            try:
                with self.lock:
                    try:
                        result = attack(self.model, pixels, goal, threat, on_step=on_step)
                        image = result.adversarial[0].detach().cpu()
                        tricked = bool(result.success[0])
                        status = "tricked" if tricked else "not tricked"
                    except Interrupted as exc:
                        image, status, message = last["image"], exc.status, exc.message
                    png = self._write(image, request)
                    read_back = predict(self.model, [png], top=5)[0]
                deliver(("done", (status, message, png, read_back, result)))
            except HoodwinkError as exc:
                deliver(("error", str(exc)))
            except Exception as exc:  # the page gets one line, the log the rest
                import logging

                logging.getLogger("hoodwink.web").exception("trick failed")
                deliver(("error", f"something went wrong: {type(exc).__name__}: {exc}"))

        tracker = _Tracker(int(goal.classes[0]) if goal.classes else -1)
        worker = threading.Thread(target=work, name="hoodwink-trick", daemon=True)
        worker.start()
        try:
            row, image, probs = 0, clean, torch.zeros(self.model.num_classes)
            while True:
                try:
                    kind, payload = channel.get(timeout=1.0)
                except queue.Empty:
                    if not worker.is_alive() and channel.empty():
                        raise RuntimeError("the attack's worker ended without an answer") from None
                    continue
                if kind == "step":
                    row, probs, image = payload
                    if tracker.goal_class < 0:  # away: from the start class
                        tracker.goal_class = int(probs.argmax())
                    tracker.add(probs)
                    yield self._update(row, image, clean, probs, tracker)
                    continue
                if kind == "error":
                    if not tracker.history:
                        tracker.goal_class = max(tracker.goal_class, 0)
                        tracker.add(probs)
                    yield self._update(row, image, clean, probs, tracker, done=True,
                                       status="error", message=str(payload))
                    return
                status, message, png, read_back, result = payload
                if result is not None:
                    image = result.adversarial[0].detach().cpu()
                    probs = result.adversarial_probabilities[0].detach().float().cpu()
                if not tracker.history:
                    tracker.goal_class = max(tracker.goal_class, 0)
                    tracker.add(probs)
                yield self._update(row, image, clean, probs, tracker, done=True, status=status,
                                   message=message or _verdict(status, row, read_back),
                                   png=png, read_back=read_back)
                return
        finally:
            stop.set()
            closed.set()
            worker.join(timeout=self.limits.time_limit_s + 30)

    def _update(self, row: int, image: torch.Tensor, clean: torch.Tensor, probs: torch.Tensor,
                tracker: _Tracker, **extra: Any) -> TrickUpdate:
        top = top_predictions(self.model, probs.unsqueeze(0), 5)[0]
        return TrickUpdate(row=row, image=image, clean=clean, probabilities=probs,
                           classes=tuple(tracker.classes), trajectory=tracker.trajectory(),
                           goal_class=tracker.goal_class, top=top, **extra)

    def name(self, index: int) -> str:
        return self.model.labels.name(index)

    def _write(self, image: torch.Tensor, request: TrickRequest) -> Path:
        """Save the 8-bit PNG under a fresh name; delete the oldest beyond :data:`KEEP_FILES`."""
        slug = "".join(c if c.isalnum() else "-" for c in (request.target or "away").lower())[:40]
        path = self.workdir / f"hoodwink-{next(self._counter):05d}-{slug.strip('-') or 'away'}.png"
        save_image(image, path)
        with self._files_lock:
            self._written.append(path)
            while len(self._written) > KEEP_FILES:
                self._written.popleft().unlink(missing_ok=True)
        return path


def _verdict(status: str, row: int, read_back: ImagePredictions | None) -> str:
    seen = f"; the PNG reads back as {read_back.top1.name} ({percent(read_back.top1.probability)})" \
        if read_back is not None else ""
    steps = f"{row} step{'s' if row != 1 else ''}"
    if status == "tricked":
        return f"tricked in {steps}{seen}"
    if status == "not tricked":
        return f"not tricked after {steps} (more steps or a larger eps may do it){seen}"
    return f"{status} after {steps}{seen}"


def percent(p: float) -> str:
    """A probability for the page: ``93%``, or ``0.17%`` below one percent."""
    return f"{p:.0%}" if p >= 0.01 else f"{p:.2%}"
