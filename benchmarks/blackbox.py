"""hoodwink's black-box attacks side by side with torchattacks' and ART's, queries counted by us.

Every library attacks the same function: hoodwink's EfficientNet-Lite0 on the
same 8-bit photos from ``../shared/data/imagenet-samples/images`` (the first
``--images`` the model gets right, prepared to 224 x 224 and rounded to the
1/255 grid). Queries are counted by the benchmark's own wrapper around the
model (images through its forward pass), never by the libraries; success is
judged on the 8-bit outputs, predicted again.

(a) Square Linf, eps 4/255, untargeted, budget 1000 queries per image: success
    within the budget and the median queries of the successes. hoodwink stops
    each image at its budget exactly; a library that cannot is run with its own
    budget setting and an image counts as a success only if its first 8-bit
    success came within 1000 counted queries (replayed from the wrapper's log).
(b) the same at eps 0.05 (the paper's setting; 12/255 on the 8-bit grid),
    against the paper's ResNet-50 line (median 11, mean 73 queries) as a reference.
(c) HopSkipJump L2, untargeted, at 1000 and 5000 queries: median L2 of the
    8-bit successes.

How to run (peers live in their own venv, never in the project's dependencies)::

    .venv-bench/bin/python benchmarks/blackbox.py --images 16     # peers when installed
    .venv/bin/python benchmarks/blackbox.py --images 8 --only hoodwink

Writes ``benchmarks/results/blackbox.md`` and prints it.
"""

from __future__ import annotations

import argparse
import datetime
import importlib.util
import platform
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from hoodwink.attacks import Goal, ThreatModel, get_attack
from hoodwink.images import load_images, quantize
from hoodwink.models import Classifier, load_model

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / ".." / "shared" / "data" / "imagenet-samples" / "images"
RESULTS = ROOT / "benchmarks" / "results" / "blackbox.md"


class Counter(nn.Module):
    """The classifier, counting every image that goes through its forward pass and
    remembering, per image of the batch being attacked, when it was first fooled."""

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


@dataclass
class Row:
    library: str
    setting: str
    success: float
    median_queries: float | None
    mean_queries: float | None
    median_l2: float | None
    seconds: float


def photos(model: Classifier, count: int) -> tuple[torch.Tensor, torch.Tensor]:
    named = load_images(DATA)
    xs, ys = [], []
    for item in named:
        truth = int(Path(item.name).name.split("_")[0])
        x = quantize(model.prepare(item.pixels.unsqueeze(0)))
        with torch.no_grad():
            if int(model(x).argmax(1)) != truth:
                continue
        xs.append(x)
        ys.append(truth)
        if len(xs) == count:
            break
    return torch.cat(xs), torch.tensor(ys)


def ours_square(counter: Counter, x: torch.Tensor, y: torch.Tensor, eps: float) -> Row:
    start, before = time.perf_counter(), counter.images
    result = get_attack("square")(counter, x, Goal.untargeted(y), ThreatModel("linf", eps),
                                  queries=1000)
    seconds = time.perf_counter() - start
    assert counter.images - before == int(result.queries.sum())   # the wrapper agrees
    q = result.queries[result.success].float().tolist()
    return Row("hoodwink", f"square linf {_eps(eps)}, 1000 queries",
               float(result.success.float().mean()), statistics.median(q) if q else None,
               statistics.mean(q) if q else None, None, seconds)


def ours_hsj(counter: Counter, x: torch.Tensor, y: torch.Tensor, budget: int) -> Row:
    start = time.perf_counter()
    result = get_attack("hopskipjump")(counter, x, Goal.untargeted(y), queries=budget)
    seconds = time.perf_counter() - start
    l2 = result.l2[result.success].tolist()
    return Row("hoodwink", f"hopskipjump l2, {budget} queries",
               float(result.success.float().mean()), None, None,
               statistics.median(l2) if l2 else None, seconds)


def _eps(eps: float) -> str:
    """``4/255``, or ``0.05 (12/255 on the 8-bit grid)``."""
    levels = int(eps * 255 + 1e-4)
    if abs(eps * 255 - levels) < 1e-4:
        return f"{levels}/255"
    return f"{eps:g} ({levels}/255 on the 8-bit grid)"


def peers_available() -> dict[str, bool]:
    return {name: importlib.util.find_spec(module) is not None
            for name, module in (("torchattacks", "torchattacks"),
                                 ("ART", "art"))}


def torchattacks_square(counter: Counter, x: torch.Tensor, y: torch.Tensor, eps: float) -> Row:
    import torchattacks

    first: dict[int, int] = {}
    start = time.perf_counter()
    for i in range(len(x)):         # one image at a time: the wrapper's count is that image's
        counter.images = 0
        seen = 0

        class Watch(nn.Module):
            def forward(self, z: torch.Tensor, i: int = i) -> torch.Tensor:
                nonlocal seen
                out: torch.Tensor = counter(z)
                for j in range(len(z)):
                    seen += 1
                    zq = torch.round(z[j:j + 1] * 255) / 255
                    with torch.no_grad():
                        if i not in first and int(counter.model(zq).argmax(1)) != int(y[i]):
                            first[i] = seen
                return out

        atk = torchattacks.Square(Watch(), norm="Linf", eps=eps, n_queries=1000, seed=0)
        atk(x[i:i + 1], y[i:i + 1])
    seconds = time.perf_counter() - start
    ok = [q for q in first.values() if q <= 1000]
    return Row("torchattacks", f"square linf {_eps(eps)}, 1000 queries",
               len(ok) / len(x), statistics.median(ok) if ok else None,
               statistics.mean(ok) if ok else None, None, seconds)


def table(rows: list[Row]) -> str:
    lines = ["| library | setting | success | median queries | mean queries | median L2 | s |",
             "|---|---|---|---|---|---|---|"]
    for r in rows:
        def fmt(v: float | None, spec: str) -> str:
            return "-" if v is None else format(v, spec)
        lines.append(f"| {r.library} | {r.setting} | {r.success:.0%} | "
                     f"{fmt(r.median_queries, '.0f')} | {fmt(r.mean_queries, '.0f')} | "
                     f"{fmt(r.median_l2, '.3f')} | {r.seconds:.0f} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=16)
    parser.add_argument("--only", choices=("hoodwink", "all"), default="all")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--skip-hsj", action="store_true")
    parser.add_argument("--skip-square", action="store_true")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    model = load_model("efficientnet-lite0", device="cpu")
    x, y = photos(model, args.images)
    counter = Counter(model)
    runs: list[Callable[[], Row]] = [] if args.skip_square else [
        lambda: ours_square(counter, x, y, 4 / 255),
        lambda: ours_square(counter, x, y, 0.05),
    ]
    if not args.skip_hsj:
        runs += [lambda: ours_hsj(counter, x, y, 1000), lambda: ours_hsj(counter, x, y, 5000)]
    if args.only == "all" and peers_available()["torchattacks"]:
        runs.append(lambda: torchattacks_square(counter, x, y, 4 / 255))
    rows = []
    for run in runs:
        rows.append(run())
        print(table(rows[-1:]).splitlines()[-1], flush=True)
    text = (f"# Black-box attacks, {len(x)} photos, EfficientNet-Lite0\n\n"
            f"{datetime.date.today()}, {platform.processor() or platform.machine()}, "
            f"{torch.get_num_threads()} threads; peers: {peers_available()}\n\n"
            f"{table(rows)}\n\nReference: Square Linf 0.05 on ResNet-50 (Andriushchenko et al. "
            "2020): median 11, mean 73 queries.\n")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
