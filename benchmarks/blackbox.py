"""hoodwink's black-box attacks side by side with torchattacks' and ART's, queries counted by us.

Every library attacks the same function: hoodwink's EfficientNet-Lite0 on the
same 8-bit photos from ``../shared/data/imagenet-samples/images`` (the first
ones, sorted by name, that the model gets right, prepared to 224 x 224 and
rounded to the 1/255 grid: the photos of ``benchmarks/attacks.py``). Queries are
counted by the benchmark's own wrapper around the model (images through its
forward pass), never by the libraries; success is judged on 8-bit images.

(a) Square Linf, eps 4/255, untargeted, budget 1000 queries per image: success
    within the budget, the median and mean queries of the successes. hoodwink stops
    each image at its budget exactly (the wrapper's count is checked against
    hoodwink's own). The peers run on the whole batch with their own budget
    setting (torchattacks ``n_queries=1000``; ART ``max_iter=333``, as ART makes
    three model calls per iteration: the current images, their loss again and
    the candidates) and the wrapper replays them: each image it is shown is
    charged to the clean photo it lies within eps of, rounded to the 8-bit grid
    and answered for the rounded image (it moves a Square query by a float error
    only), and an image counts as a success only if its first fooling query came
    within the budget. Every library starts its squares at ``p_init`` 0.8 (the
    peers' and hoodwink's default for Linf).
    The same section runs the hybrid (``transfer(then="square")``, Suya et al. 2020):
    mifgsm-di crafts on Lite1 + Lite2 (asked at Lite0's 224 x 224, so the crafted
    image is the very photo, 10 steps, no query to Lite0), then Square runs on Lite0
    from the crafted image within the same budget; its queries 1 and 2 are the clean
    photo and the crafted one. It is a different attack from plain Square (it needs
    surrogate models), reported in its own rows (``--skip hybrid`` leaves it out).
(b) the same at eps 0.05 (the paper's setting; 12/255 on the 8-bit grid, which
    is what every library is given, since 0.05 rounds to 13/255 outside the ball),
    against the paper's ResNet-50 line (median 11, mean 73 queries) as a reference.
(c) HopSkipJump L2, untargeted, at 1000 and 5000 queries: success and the
    median L2 of the 8-bit successes. ART does not count its queries: it attacks
    one photo at a time through the wrapper with its defaults (``init_eval`` 100,
    ``max_eval`` 10000, ``init_size`` 100) and as many iterations as it wants,
    and the wrapper stops it at the budget (it raises at the first call past it;
    a call that straddles the budget is judged only up to it). ART's image at the
    budget is the closest 8-bit image among those it was shown within the budget
    whose float query fooled the model and whose 8-bit rounding still does (at
    least as good for ART as its last iterate; these extra judging passes are not
    counted and their time is taken off ART's). ART draws its random start from an
    unseeded generator, so its rows vary from run to run. A second ART row
    (``--art-queries 8bit``) answers each ART query for its 8-bit rounding, as an
    API that takes images would, and judges it as such: the rule hoodwink's own
    queries follow.
(d) transfer: crafted on Lite0, or on the ensemble Lite0 + Lite1 (mean logits),
    tested on EfficientNet-Lite2, eps 8/255 and 16/255, 10 steps of eps / 10,
    momentum 1: hoodwink's ``mifgsm`` (every step spent) and ``mifgsm-di-ti``
    against torchattacks' ``MIFGSM``, ``DIFGSM`` and ``TIFGSM`` (their DI and TI
    defaults: resize rate 0.9, probability 0.5, a 15 x 15 Gaussian kernel; decay
    set to 1.0 as ours). Each output is rounded to 8 bits and sent to Lite2 as
    ``transfer`` sends it (resized to Lite2's input); success: Lite2's top-1 is
    not the true class. Photos: the first ones Lite0, Lite1 and Lite2 all get right.

How to run (peers live in their own venv, never in the project's dependencies)::

    .venv-bench/bin/python benchmarks/blackbox.py                  # everything, 1 thread
    # estimated 60-90 min on a quiet 2-core machine: Square (16 photos) ~20,
    # HopSkipJump (8 photos, 1000 + 5000 queries, both libraries) ~45, transfer ~10;
    # --hsj-images 4 halves the HopSkipJump part
    .venv-bench/bin/python benchmarks/blackbox.py --images 2 --hsj-images 1 \\
        --transfer-images 2 --square-budget 40 --hsj-budgets 60,120 --transfer-steps 2
    .venv/bin/python benchmarks/blackbox.py --only hoodwink --skip hsj transfer

Writes ``benchmarks/results/blackbox.md`` (or ``--out``) and prints it.
"""

from __future__ import annotations

import argparse
import datetime
import importlib.metadata
import importlib.util
import math
import os
import platform
import shlex
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from functools import partial
from pathlib import Path

import torch
from torch import nn

from hoodwink.attacks import Goal, ThreatModel, get_attack
from hoodwink.attacks.transfer import Ensemble, transfer
from hoodwink.images import load_images, quantize
from hoodwink.models import Classifier, load_model
from hoodwink.models.classifier import model_input

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / ".." / "shared" / "data" / "imagenet-samples" / "images"
RESULTS = ROOT / "benchmarks" / "results" / "blackbox.md"
SECTIONS = ("square", "hybrid", "hsj", "transfer")
#: The paper's Square Linf 0.05 on ResNet-50 (Andriushchenko et al. 2020, 10,000 queries).
PAPER = "median 11, mean 73 queries (Square Linf 0.05, ResNet-50, Andriushchenko et al. 2020)"


# --- the counting wrappers -------------------------------------------------------------

class Counter(nn.Module):
    """The classifier, counting every image that goes through its forward pass
    (hoodwink's attacks go through it; its count is checked against theirs)."""

    def __init__(self, model: Classifier) -> None:
        super().__init__()
        self.model = model
        self.labels = model.labels
        self.input_size, self.resize, self.name = model.input_size, model.resize, model.name
        self.images = 0

    @property
    def device(self) -> torch.device:
        return self.model.device

    def prepare(self, x: torch.Tensor) -> torch.Tensor:
        return self.model.prepare(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.images += int(x.shape[0])
        out: torch.Tensor = self.model(x)
        return out


class BudgetSpent(Exception):
    """Raised by :class:`Watch` at the first call after every photo's budget is spent."""


class Watch(nn.Module):
    """The model as a peer library sees it, through the benchmark's own count.

    Each image of a forward pass is one query, charged to the clean photo nearest
    to it in Linf (an attack on one photo at a time: that photo). With ``snap`` the
    image is rounded to the 8-bit grid and answered for the rounded image, and the
    first query that fools the model is remembered per photo (Square), with the
    closest (L2) fooling one (HopSkipJump through an API). Without it
    the float image is answered, and every fooling query whose 8-bit rounding is
    closer (L2) than the best so far is judged again, rounded, in an extra pass that
    is neither counted nor timed (HopSkipJump). Queries past ``budget`` are counted
    but never judged; with ``stop``, a call made when every photo is past its
    budget raises :class:`BudgetSpent`.
    """

    def __init__(self, model: Classifier, clean: torch.Tensor, labels: torch.Tensor,
                 budget: int, *, snap: bool, stop: bool = False) -> None:
        super().__init__()
        self.model = model
        self.clean, self.truth = clean, labels
        self.budget, self.snap, self.stop = budget, snap, stop
        n = len(clean)
        self.count = [0] * n
        self.first: list[int | None] = [None] * n
        self.best_l2 = [math.inf] * n
        self.judge_seconds = 0.0

    def owners(self, z: torch.Tensor) -> list[int]:
        if len(self.clean) == 1:
            return [0] * len(z)
        gap = (z[:, None] - self.clean[None]).abs().flatten(2).amax(2)
        return [int(i) for i in gap.argmin(1)]

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        z = z.float()                       # ART's HopSkipJump asks in float64
        owner = self.owners(z.detach())
        if self.stop and all(self.count[o] >= self.budget for o in set(owner)):
            raise BudgetSpent
        zq = quantize(z.detach())
        logits: torch.Tensor = self.model(zq if self.snap else z)
        fooled = (logits.argmax(1).cpu() != self.truth[owner]).tolist()
        judge: list[int] = []
        for j, o in enumerate(owner):
            self.count[o] += 1
            if self.count[o] > self.budget or not fooled[j]:
                continue
            if self.snap:
                if self.first[o] is None:
                    self.first[o] = self.count[o]
                self.best_l2[o] = min(self.best_l2[o], float((zq[j] - self.clean[o]).norm()))
            elif float((zq[j] - self.clean[o]).norm()) < self.best_l2[o]:
                judge.append(j)
        if judge:
            start = time.perf_counter()
            with torch.no_grad():
                again = self.model(zq[judge]).argmax(1).cpu()
            for j, label in zip(judge, again.tolist()):
                o = owner[j]
                l2 = float((zq[j] - self.clean[o]).norm())
                if label != int(self.truth[o]) and l2 < self.best_l2[o]:
                    self.best_l2[o] = l2
            self.judge_seconds += time.perf_counter() - start
        return logits


# --- rows and tables -------------------------------------------------------------------

@dataclass
class Row:
    """One library's run of one setting."""

    section: str
    library: str
    setting: str
    images: int
    success: float
    seconds: float
    median_queries: float | None = None
    mean_queries: float | None = None
    median_l2: float | None = None
    note: str = ""
    #: Square: the queries to first success of each fooled photo (for pooling over seeds).
    queries: list[float] = field(default_factory=list)


def _median(values: Sequence[float]) -> float | None:
    return statistics.median(values) if values else None


def _mean(values: Sequence[float]) -> float | None:
    return statistics.mean(values) if values else None


def _fmt(v: float | None, spec: str) -> str:
    return "-" if v is None else format(v, spec)


def _eps(eps: float) -> str:
    """``4/255``, or ``0.05 (12/255 on the 8-bit grid)``."""
    levels = int(eps * 255 + 1e-4)
    if abs(eps * 255 - levels) < 1e-4:
        return f"{levels}/255"
    return f"{eps:g} ({levels}/255 on the 8-bit grid)"


def _grid(eps: float) -> float:
    """eps in whole 8-bit levels (what every library is given)."""
    return math.floor(eps * 255 + 1e-4) / 255


def peers_available() -> dict[str, bool]:
    return {name: importlib.util.find_spec(module) is not None
            for name, module in (("torchattacks", "torchattacks"), ("ART", "art"))}


# --- photos ------------------------------------------------------------------------------

def photos(model: Classifier, count: int, also: Sequence[Classifier] = ()
           ) -> tuple[torch.Tensor, torch.Tensor]:
    """The first ``count`` photos (sorted by name) that ``model`` and every model of ``also``
    classify right: (N, 3, H, W) at ``model``'s input size on the 8-bit grid, true labels."""
    xs, ys = [], []
    for item in load_images(DATA):
        truth = int(Path(item.name).name.split("_")[0])
        x = quantize(model.prepare(item.pixels.unsqueeze(0)))
        with torch.no_grad():
            if any(int(m(model_input(m, x)).argmax(1)) != truth for m in (model, *also)):
                continue
        xs.append(x)
        ys.append(truth)
        if len(xs) == count:
            break
    return torch.cat(xs), torch.tensor(ys)


# --- Square ------------------------------------------------------------------------------

def _square_setting(eps: float, budget: int, seed: int) -> str:
    return f"square linf {_eps(eps)}, {budget} queries, seed {seed}"


def ours_square(counter: Counter, x: torch.Tensor, y: torch.Tensor, eps: float,
                budget: int, seed: int = 0) -> Row:
    start, before = time.perf_counter(), counter.images
    result = get_attack("square", seed=seed)(counter, x, Goal.untargeted(y),
                                             ThreatModel("linf", eps), queries=budget)
    seconds = time.perf_counter() - start
    assert counter.images - before == int(result.queries.sum())   # the wrapper agrees
    q = result.queries[result.success].float().tolist()
    return Row("square", "hoodwink", _square_setting(eps, budget, seed), len(x),
               float(result.success.float().mean()), seconds, _median(q), _mean(q), queries=q)


def at_input(model: Classifier, like: Classifier) -> Classifier:
    """``model`` asked at ``like``'s input size (EfficientNets take any size), so that an image
    crafted on it is the very photo the target is asked about, not a resize of a crop."""
    model.input_size = like.input_size
    return model


def ours_hybrid(counter: Counter, surrogates: Sequence[Classifier], x: torch.Tensor,
                y: torch.Tensor, eps: float, budget: int, seed: int = 0, steps: int = 10) -> Row:
    """Transfer, then ask (``transfer(then="square")``): crafted on the surrogates with
    mifgsm-di, then Square on the target from the crafted image; queries 1 and 2 are the
    clean photo and the crafted one."""
    start, before = time.perf_counter(), counter.images
    out = transfer(list(surrogates), counter, x, Goal.untargeted(y), ThreatModel("linf", eps),
                   attack="mifgsm-di", steps=steps, seed=seed, then="square", queries=budget)
    seconds = time.perf_counter() - start
    assert counter.images - before == int(out.queries.sum())      # the wrapper agrees
    q = out.queries[out.success].float().tolist()
    names = "+".join(m.name.replace("efficientnet-", "") for m in surrogates)
    return Row("square", "hoodwink hybrid", _square_setting(eps, budget, seed), len(x),
               float(out.success.float().mean()), seconds, _median(q), _mean(q),
               note=f"transfer then ask: mifgsm-di on {names} ({steps} steps, no query), "
               f"then Square from it; {int(out.start_fooled.sum())} fooled at query 2",
               queries=q)


def _square_row(library: str, watch: Watch, eps: float, budget: int, seed: int,
                seconds: float, note: str) -> Row:
    q = [float(f) for f in watch.first if f is not None and f <= budget]
    return Row("square", library, _square_setting(eps, budget, seed),
               len(watch.first), len(q) / len(watch.first), seconds, _median(q), _mean(q),
               note=note, queries=q)


def torchattacks_square(model: Classifier, x: torch.Tensor, y: torch.Tensor, eps: float,
                        budget: int, seed: int = 0) -> Row:
    import torchattacks

    watch = Watch(model, x, y, budget, snap=True)
    atk = torchattacks.Square(watch, norm="Linf", eps=_grid(eps), n_queries=budget, seed=seed)
    start = time.perf_counter()
    atk(x, y)
    return _square_row("torchattacks", watch, eps, budget, seed, time.perf_counter() - start,
                       f"n_queries={budget}, p_init {atk.p_init}")


def art_classifier(model: nn.Module, shape: tuple[int, ...], classes: int) -> object:
    from art.estimators.classification import PyTorchClassifier

    return PyTorchClassifier(model=model, loss=nn.CrossEntropyLoss(), input_shape=shape,
                             nb_classes=classes, clip_values=(0.0, 1.0), device_type="cpu")


def art_square(model: Classifier, x: torch.Tensor, y: torch.Tensor, eps: float,
               budget: int, seed: int = 0) -> Row:
    import numpy as np
    from art.attacks.evasion import SquareAttack

    watch = Watch(model, x, y, budget, snap=True)
    iters = max(budget // 3, 1)
    atk = SquareAttack(art_classifier(watch, tuple(x.shape[1:]), model.num_classes),
                       norm=np.inf, eps=_grid(eps), max_iter=iters, batch_size=len(x),
                       verbose=False)
    np.random.seed(seed)
    start = time.perf_counter()
    atk.generate(x.numpy(), y.numpy())
    return _square_row("ART", watch, eps, budget, seed, time.perf_counter() - start,
                       f"max_iter={iters}, p_init {atk.p_init}")


# --- HopSkipJump -------------------------------------------------------------------------

def ours_hsj(counter: Counter, x: torch.Tensor, y: torch.Tensor, budget: int) -> Row:
    start, before = time.perf_counter(), counter.images
    result = get_attack("hopskipjump")(counter, x, Goal.untargeted(y), queries=budget)
    seconds = time.perf_counter() - start
    assert counter.images - before == int(result.queries.sum())
    l2 = result.l2[result.success].tolist()
    return Row("hsj", "hoodwink", f"hopskipjump l2, {budget} queries", len(x),
               float(result.success.float().mean()), seconds, median_l2=_median(l2))


def art_hsj(model: Classifier, x: torch.Tensor, y: torch.Tensor, budget: int,
            snap: bool = False) -> Row:
    import numpy as np
    from art.attacks.evasion import HopSkipJump

    seconds, found, used = 0.0, [], []
    for i in range(len(x)):                 # one photo at a time: the wrapper stops it
        watch = Watch(model, x[i:i + 1], y[i:i + 1], budget, snap=snap, stop=True)
        atk = HopSkipJump(art_classifier(watch, tuple(x.shape[1:]), model.num_classes),
                          targeted=False, norm=2, max_iter=budget, max_eval=10000,
                          init_eval=100, init_size=100, verbose=False)
        np.random.seed(i)
        start = time.perf_counter()
        try:
            atk.generate(x[i:i + 1].numpy(), y=np.eye(model.num_classes)[y[i:i + 1].numpy()])
        except BudgetSpent:
            pass
        seconds += time.perf_counter() - start - watch.judge_seconds
        used.append(min(watch.count[0], budget))
        if math.isfinite(watch.best_l2[0]):
            found.append(watch.best_l2[0])
    return Row("hsj", "ART, 8-bit queries" if snap else "ART", f"hopskipjump l2, {budget} queries",
               len(x), len(found) / len(x),
               seconds, median_l2=_median(found),
               note=("queries rounded to 8 bits before the model answers (as an API); " if snap
                     else "float queries; ")
               + f"stopped by the wrapper; queries used: median {_median(used):.0f}")


# --- transfer ----------------------------------------------------------------------------

def _transfer_setting(surrogates: str, eps: float, steps: int) -> str:
    return f"{surrogates} -> lite2, linf {_eps(eps)}, {steps} steps"


def ours_transfer(sources: Sequence[Classifier], target: Classifier, x: torch.Tensor,
                  y: torch.Tensor, eps: float, steps: int, attack: str) -> Row:
    extra = {"early_stop": False} if attack == "mifgsm" else {}
    start = time.perf_counter()
    out = transfer(list(sources), target, x, Goal.untargeted(y), ThreatModel("linf", eps),
                   attack=attack, steps=steps, **extra)
    seconds = time.perf_counter() - start
    names = "+".join(m.name.replace("efficientnet-", "") for m in sources)
    return Row("transfer", "hoodwink", f"{attack}, " + _transfer_setting(names, eps, steps),
               len(x), float(out.success.float().mean()), seconds)


def torchattacks_transfer(sources: Sequence[Classifier], target: Classifier, x: torch.Tensor,
                          y: torch.Tensor, eps: float, steps: int, attack: str) -> Row:
    import torchattacks

    surrogate = sources[0] if len(sources) == 1 else Ensemble(list(sources))
    atk = getattr(torchattacks, attack)(surrogate, eps=eps, alpha=eps / steps, steps=steps,
                                        decay=1.0)
    start = time.perf_counter()             # timed as ours: crafting and both target queries
    adv = quantize(atk(x, y))
    with torch.no_grad():
        target(model_input(target, x))
        pred = target(model_input(target, adv)).argmax(1)
    seconds = time.perf_counter() - start
    names = "+".join(m.name.replace("efficientnet-", "") for m in sources)
    return Row("transfer", "torchattacks", f"{attack}, " + _transfer_setting(names, eps, steps),
               len(x), float((pred != y).float().mean()), seconds)


# --- the report --------------------------------------------------------------------------

def table(rows: Sequence[Row]) -> str:
    lines = [("| library | setting | images | success | median queries | mean queries | "
              "median L2 | s | note |"), "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r.library} | {r.setting} | {r.images} | {r.success:.0%} | "
                     f"{_fmt(r.median_queries, '.0f')} | {_fmt(r.mean_queries, '.0f')} | "
                     f"{_fmt(r.median_l2, '.3f')} | {r.seconds:.1f} | {r.note} |")
    return "\n".join(lines)


def _ratio(a: float | None, b: float | None, spec: str = ".2f") -> str:
    if a is None or b is None or b == 0:
        return "-"
    return format(a / b, spec) + "x"


def pooled(rows: Sequence[Row]) -> list[str]:
    """Square over several seeds: each library's success over every (photo, seed) run and
    the median queries of all its successes, against ours."""
    groups: dict[tuple[str, str], list[Row]] = {}
    for r in rows:
        if r.section == "square":
            groups.setdefault((r.library, r.setting.rsplit(", seed ", 1)[0]), []).append(r)
    lines = []
    for (library, setting), some in groups.items():
        if library.startswith("hoodwink"):
            continue
        for (ours, same), mine in groups.items():
            if not ours.startswith("hoodwink") or same != setting:
                continue
            runs = [sum(r.images for r in g) for g in (mine, some)]
            fooled = [sum(len(r.queries) for r in g) for g in (mine, some)]
            medians = [_median([q for r in g for q in r.queries]) for g in (mine, some)]
            lines.append(f"- {setting}, {len(some)} seeds pooled: success {ours} "
                         f"{fooled[0]}/{runs[0]} vs {library} {fooled[1]}/{runs[1]}; median "
                         f"queries {_fmt(medians[0], '.0f')} vs {_fmt(medians[1], '.0f')} "
                         f"({_ratio(medians[0], medians[1])}); time "
                         f"{_ratio(sum(r.seconds for r in mine), sum(r.seconds for r in some))}")
    return lines


def ratios(rows: Sequence[Row]) -> str:
    """Ours against each peer at the same setting: the issue's criteria, as ratios."""
    ours = {(r.section, r.setting): r for r in rows if r.library == "hoodwink"}
    seeds = {r.setting.rsplit(", seed ", 1)[1] for r in rows if r.section == "square"}
    lines = pooled(rows) if len(seeds) > 1 else []
    for r in rows:
        if r.library.startswith("hoodwink"):
            continue
        if r.section == "transfer":     # ours mifgsm-di (the default) against all, and each
            attack, rest = r.setting.split(", ", 1)     # counterpart: mifgsm, mifgsm-di-ti
            twin = {"MIFGSM": "mifgsm", "TIFGSM": "mifgsm-di-ti"}.get(attack)
            for name in ("mifgsm-di", twin) if twin else ("mifgsm-di",):
                o = ours.get(("transfer", f"{name}, {rest}"))
                if o is not None:
                    verdict = ">=" if o.success >= r.success else "<"
                    lines.append(f"- transfer {rest}: ours {name} {o.success:.0%} {verdict} "
                                 f"torchattacks {attack} {r.success:.0%}; time "
                                 f"{_ratio(o.seconds, r.seconds)}")
            continue
        o = ours.get((r.section, r.setting))
        if o is None:
            continue
        if r.section == "square" and len(seeds) > 1:
            continue
        if r.section == "square":
            for o in (o for o in rows if o.library.startswith("hoodwink")
                      and (o.section, o.setting) == (r.section, r.setting)):
                lines.append(f"- {r.setting}: success {o.library} {o.success:.0%} vs "
                             f"{r.library} {r.success:.0%}; median queries "
                             f"{_ratio(o.median_queries, r.median_queries)}; time "
                             f"{_ratio(o.seconds, r.seconds)}")
        else:
            lines.append(f"- {r.setting}: success ours {o.success:.0%} vs {r.library} "
                         f"{r.success:.0%}; median L2 ours/{r.library} "
                         f"{_ratio(o.median_l2, r.median_l2)}; time {_ratio(o.seconds, r.seconds)}")
    return "\n".join(lines)


def peer_versions(peers: dict[str, bool]) -> str:
    """The peers this run ran, with their versions (``none`` when it ran only hoodwink)."""
    packages = {"torchattacks": "torchattacks", "ART": "adversarial-robustness-toolbox"}
    ran = [f"{name} {importlib.metadata.version(packages[name])}" for name, run in peers.items() if run]
    return ", ".join(ran) or "none"


def report(rows: Sequence[Row], command: str, counts: dict[str, int],
           peers: dict[str, bool]) -> str:
    head = (f"# Black-box attacks: hoodwink, torchattacks, ART\n\n"
            f"{datetime.date.today()}, {platform.processor() or platform.machine()}, "
            f"{torch.get_num_threads()} thread(s), torch {torch.__version__}; "
            f"peers run: {peer_versions(peers)}; photos: "
            + ", ".join(f"{k} {v}" for k, v in counts.items())
            + f"\n\nCommand: `{command}`\n\nQueries are counted by the benchmark's wrapper; "
            "success is judged on 8-bit images (see the script's docstring).\n")
    parts = [head]
    for section, title in (("square", "Square Linf, untargeted, EfficientNet-Lite0"),
                           ("hsj", "HopSkipJump L2, untargeted, EfficientNet-Lite0"),
                           ("transfer", "Transfer to EfficientNet-Lite2, untargeted")):
        some = [r for r in rows if r.section == section]
        if some:
            parts.append(f"## {title}\n\n{table(some)}\n")
            if section == "square":
                parts.append(f"Reference: {PAPER}.\n")
    parts.append(f"## Ratios\n\n{ratios(rows) or '-'}\n")
    return "\n".join(parts)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--images", type=int, default=16, help="photos for Square")
    parser.add_argument("--hsj-images", type=int, default=8, help="photos for HopSkipJump")
    parser.add_argument("--transfer-images", type=int, default=16, help="photos for transfer")
    parser.add_argument("--square-budget", type=int, default=1000)
    parser.add_argument("--square-eps", default="4/255,0.05",
                        help="comma-separated Square eps, e.g. 4/255,0.05")
    parser.add_argument("--seeds", default="0", help="Square seeds, comma-separated "
                        "(several: success and median queries pooled over them)")
    parser.add_argument("--peers", nargs="*", choices=("torchattacks", "ART"),
                        default=["torchattacks", "ART"], help="the peers to run")
    parser.add_argument("--hsj-budgets", default="1000,5000", help="comma-separated")
    parser.add_argument("--art-queries", default="float,8bit", help="how ART's HopSkipJump "
                        "queries are answered: float (as sent), 8bit (rounded first, as an API "
                        "answers), or both, comma-separated")
    parser.add_argument("--transfer-steps", type=int, default=10)
    parser.add_argument("--skip", nargs="*", choices=SECTIONS, default=[])
    parser.add_argument("--only", choices=("hoodwink", "peers", "all"), default="all",
                        help="run only hoodwink's rows, only the peers' (e.g. two processes "
                        "side by side, one thread each), or both")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    peers = peers_available() if args.only != "hoodwink" else {"torchattacks": False, "ART": False}
    peers = {name: ok and name in args.peers for name, ok in peers.items()}
    lite0 = load_model("efficientnet-lite0", device="cpu")
    runs: list[Callable[[], Row]] = []
    counts: dict[str, int] = {}

    if "square" not in args.skip:
        x, y = photos(lite0, args.images)
        counts["square"] = len(x)
        counter, b = Counter(lite0), args.square_budget
        hybrid = "hybrid" not in args.skip and args.only != "peers"
        surrogates = [at_input(load_model(name, device="cpu"), lite0) for name in
                      ("efficientnet-lite1", "efficientnet-lite2")] if hybrid else []
        for eps in (float(Fraction(v)) for v in args.square_eps.split(",")):
            for seed in (int(v) for v in args.seeds.split(",")):
                if args.only != "peers":
                    runs.append(partial(ours_square, counter, x, y, eps, b, seed))
                if hybrid:
                    runs.append(partial(ours_hybrid, counter, surrogates, x, y, eps, b, seed))
                if peers["torchattacks"]:
                    runs.append(partial(torchattacks_square, lite0, x, y, eps, b, seed))
                if peers["ART"]:
                    runs.append(partial(art_square, lite0, x, y, eps, b, seed))
    if "hsj" not in args.skip:
        xh, yh = photos(lite0, args.hsj_images)
        counts["hsj"] = len(xh)
        counter_h = Counter(lite0)
        for budget in (int(v) for v in args.hsj_budgets.split(",")):
            if args.only != "peers":
                runs.append(partial(ours_hsj, counter_h, xh, yh, budget))
            if peers["ART"]:
                for snap in (q == "8bit" for q in args.art_queries.split(",")):
                    runs.append(partial(art_hsj, lite0, xh, yh, budget, snap))
    if "transfer" not in args.skip:
        lite1 = load_model("efficientnet-lite1", device="cpu")
        lite2 = load_model("efficientnet-lite2", device="cpu")
        xt, yt = photos(lite0, args.transfer_images, also=(lite1, lite2))
        counts["transfer"] = len(xt)
        steps = args.transfer_steps
        for sources in ((lite0,), (lite0, lite1)):
            for eps in (8 / 255, 16 / 255):
                for ours in ("mifgsm", "mifgsm-di", "mifgsm-di-ti") if args.only != "peers" else ():
                    runs.append(partial(ours_transfer, sources, lite2, xt, yt, eps, steps, ours))
                if peers["torchattacks"]:
                    for peer in ("MIFGSM", "DIFGSM", "TIFGSM"):
                        runs.append(partial(torchattacks_transfer, sources, lite2, xt, yt, eps,
                                            steps, peer))

    rows: list[Row] = []
    for run in runs:
        rows.append(run())
        print(table(rows[-1:]).splitlines()[-1], flush=True)
    python = os.path.relpath(sys.executable, Path.cwd()) if sys.executable else "python"
    command = shlex.join([python, *sys.argv])
    text = report(rows, command, counts, peers)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
