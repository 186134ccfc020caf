"""Benchmark the explanation methods on EfficientNet-Lite0: speed and faithfulness.

For each method (default hyperparameters) and a random map as the baseline:
seconds per explanation (one 224x224 image at a time, median), and mean
deletion / insertion AUC (Petsiuk et al. 2018) over a subset of
../shared/data/imagenet-samples (every k-th image, sorted by name), each image
explained for its true class. Writes benchmarks/results/explain.md and prints it.

    python benchmarks/explain.py --images 12 --steps 16 --threads 2
"""

from __future__ import annotations

import argparse
import platform
import statistics
from pathlib import Path

import torch

from hoodwink.explain import deletion_insertion, get_method, list_methods
from hoodwink.images import load_image
from hoodwink.models import load_model

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / ".." / "shared" / "data" / "imagenet-samples" / "images"
ORDER = ["saliency", "smoothgrad", "integrated-gradients", "gradcam", "occlusion", "lime",
         "kernelshap", "random"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=12, help="how many images (evenly spaced)")
    parser.add_argument("--steps", type=int, default=16, help="points of the deletion/insertion curves")
    parser.add_argument("--threads", type=int, default=2, help="torch threads (1 on a busy machine)")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "explain.md")
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    model = load_model("efficientnet-lite0", device="cpu")
    files = sorted(DATA.glob("*.JPEG"))
    stride = max(1, len(files) // args.images)
    chosen = files[::stride][: args.images]
    x = torch.cat([model.prepare(load_image(f)) for f in chosen])
    truth = [int(f.name.split("_")[0]) for f in chosen]
    with torch.no_grad():
        correct = (model(x).argmax(-1) == torch.tensor(truth)).float().mean().item()
    names = {m.name for m in list_methods()}
    methods = [m for m in ORDER if m in names]

    rows = []
    for name in methods:
        method = get_method(name)
        seconds, deletion, insertion = [], [], []
        for i in range(len(x)):
            e = method.explain(model, x[i : i + 1], truth[i])
            seconds.append(e.seconds)
            f = deletion_insertion(model, e.images, e.maps, e.targets, steps=args.steps)[0]
            deletion.append(f.deletion_auc)
            insertion.append(f.insertion_auc)
            print(f"{name:22s} {chosen[i].name:40s} {e.seconds:7.2f}s  "
                  f"del {f.deletion_auc:.3f}  ins {f.insertion_auc:.3f}", flush=True)
        rows.append((name, statistics.median(seconds), statistics.fmean(deletion),
                     statistics.fmean(insertion), method))

    base = next(r for r in rows if r[0] == "random")
    lines = [
        "# Explanation methods on EfficientNet-Lite0",
        "",
        (f"{len(chosen)} images of `../shared/data/imagenet-samples` (every {stride}th, sorted by name; "
         f"the model gets {100 * correct:.0f}% of them right), each explained for its true class; "
         f"deletion/insertion with {args.steps + 1} points (deletion towards a blurred copy, insertion "
         f"from it). CPU: {platform.processor() or platform.machine()}, "
         f"{torch.get_num_threads()} torch threads, shared with other jobs, so seconds are upper bounds. "
         f"Ratios are against the random map (deletion: random / method, insertion: method / random; "
         f"above 1 is better than random)."),
        "",
        ("| method | seconds per image (median) | deletion AUC (lower is better) "
         "| insertion AUC (higher is better) | deletion vs random | insertion vs random | parameters |"),
        "|---|---:|---:|---:|---:|---:|---|",
    ]
    for name, sec, dele, ins, method in rows:
        params = ", ".join(f"{k}={v}" for k, v in vars(method).items() if k != "batch_size") or "-"
        lines.append(f"| {name} | {sec:.2f} | {dele:.3f} | {ins:.3f} | {base[2] / dele:.2f}x "
                     f"| {ins / base[3]:.2f}x | {params} |")
    lines += ["", (f"Command: `python benchmarks/explain.py --images {args.images} --steps {args.steps} "
                   f"--threads {args.threads}`"), ""]
    text = "\n".join(lines)
    args.out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
