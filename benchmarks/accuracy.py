"""Accuracy of the bundled classifiers and the cold start of ``hoodwink predict``.

Top-1 and top-5 on ``../shared/data/imagenet-samples/images`` (the true class
is each file's leading number), and the wall time of ``hoodwink predict`` on
one photo in a fresh process as a ratio to ``python -c "import torch"``.

Run from the repository root::

    python benchmarks/accuracy.py [--models efficientnet-lite0 ...] [--repeats 5]

Writes ``benchmarks/results/accuracy.md`` and prints it.
"""

from __future__ import annotations

import argparse
import datetime
import platform
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch

from hoodwink.images import load_images
from hoodwink.models import list_models, load_model
from hoodwink.predict import probabilities

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "imagenet-samples" / "images"
RESULTS = ROOT / "benchmarks" / "results" / "accuracy.md"


def accuracy(model_name: str) -> tuple[float, float, int, list[str], float]:
    model = load_model(model_name, device="cpu")
    named = load_images(DATA)
    truth = torch.tensor([int(Path(n.name).name.split("_")[0]) for n in named])
    start = time.perf_counter()
    probs = probabilities(model, [n.pixels for n in named], batch_size=16)
    seconds = time.perf_counter() - start
    top5 = probs.topk(5, dim=-1).indices
    hit1 = top5[:, 0] == truth
    hit5 = (top5 == truth[:, None]).any(dim=1)
    misses = [
        f"{Path(n.name).name} -> {model.labels.name(int(top5[i, 0]))}"
        for i, n in enumerate(named) if not hit1[i]
    ]
    return float(hit1.float().mean()), float(hit5.float().mean()), len(named), misses, seconds / len(named)


def cold_start(repeats: int) -> tuple[float, float]:
    """Median wall time of a fresh ``hoodwink predict`` and of a fresh ``import torch``."""
    photo = sorted(DATA.iterdir())[0]
    hoodwink = shutil.which("hoodwink") or ""
    commands = {
        "predict": [hoodwink, "predict", str(photo), "--json"] if hoodwink else
        [sys.executable, "-m", "hoodwink", "predict", str(photo), "--json"],
        "torch": [sys.executable, "-c", "import torch"],
    }
    times: dict[str, list[float]] = {k: [] for k in commands}
    for _ in range(repeats):
        for key, command in commands.items():  # interleaved, so drift hits both alike
            start = time.perf_counter()
            subprocess.run(command, check=True, capture_output=True)
            times[key].append(time.perf_counter() - start)
    return statistics.median(times["predict"]), statistics.median(times["torch"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="*", default=[m.name for m in list_models(available_only=True)
                                                         if m.bundled])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    if not DATA.is_dir():
        sys.exit(f"no sample photos at {DATA} (the benchmark needs ../shared/data beside the repo)")
    torch.set_num_threads(2)

    lines = [
        "# Accuracy and cold start",
        "",
        (f"{datetime.date.today()}, {platform.machine()}, {torch.get_num_threads()} threads, "
         f"torch {torch.__version__}, Python {platform.python_version()}. "
         "Command: `python benchmarks/accuracy.py`."),
        "",
        "| model | images | top-1 | top-5 | seconds per image (batch 16) |",
        "|---|---:|---:|---:|---:|",
    ]
    all_misses = {}
    for name in args.models:
        top1, top5, count, misses, per_image = accuracy(name)
        all_misses[name] = misses
        lines.append(f"| {name} | {count} | {top1:.1%} | {top5:.1%} | {per_image:.3f} |")
    predict_s, torch_s = cold_start(args.repeats)
    lines += [
        "",
        f"| cold start (median of {args.repeats} fresh processes) | seconds | ratio to `import torch` |",
        "|---|---:|---:|",
        f"| `python -c \"import torch\"` | {torch_s:.2f} | 1.00 |",
        f"| `hoodwink predict PHOTO --json` | {predict_s:.2f} | {predict_s / torch_s:.2f} |",
        "",
    ]
    for name, misses in all_misses.items():
        lines.append(f"Top-1 misses of {name} ({len(misses)}): " + "; ".join(misses))
    text = "\n".join(lines) + "\n"
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
