"""Seconds for ``inside``, ``visualize``, ``dream`` and ``style`` at a given number of threads.

Runs what each command runs, with the commands' defaults (``dream``: 224 px, 3
octaves of 10 steps; ``style``: 256 px, 150 L-BFGS steps; ``visualize``: 224 px,
256 steps), on EfficientNet-Lite0, after the model is loaded, and writes the
pictures (``--out``) beside a markdown row per command.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/inside.py --threads 1 --out /tmp/inside-bench
    OMP_NUM_THREADS=2 .venv/bin/python benchmarks/inside.py --threads 2 --out /tmp/inside-bench
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=1, help="torch threads")
    parser.add_argument("--out", type=Path, default=Path("inside-bench"), help="folder for the pictures")
    parser.add_argument("--only", nargs="*", default=None, help="inside visualize dream style")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    args.out.mkdir(parents=True, exist_ok=True)

    import hoodwink
    from hoodwink import viz
    from hoodwink.images import save_image
    from hoodwink.inside import dream, look_inside, stylize, visualize
    from hoodwink.inside.style import resize_shorter

    model = hoodwink.load_model()
    chelsea, astronaut = hoodwink.load_image("chelsea"), hoodwink.load_image("astronaut")

    def run_inside() -> Any:
        result = look_inside(model, chelsea)
        viz.save(result, args.out / "inside-chelsea.png")
        return result

    def run_visualize() -> Any:
        result = visualize(model, "vulture")
        save_image(result.image, args.out / "inside-vulture.png")
        return result

    def run_dream() -> Any:
        result = dream(model, resize_shorter(chelsea, 224), octaves=3, steps=10)
        save_image(result.image, args.out / "inside-dream.png")
        return result

    def run_style() -> Any:
        result = stylize(model, chelsea, astronaut, size=256, steps=150)
        save_image(result.image, args.out / "inside-style.png")
        viz.save(result, args.out / "inside-style-plot.png")
        return result

    jobs: dict[str, tuple[str, Callable[[], Any]]] = {
        "inside": ("hoodwink inside chelsea --plot inside.png", run_inside),
        "visualize": ("hoodwink visualize vulture --out vulture.png (224 px, 256 steps)", run_visualize),
        "dream": ("hoodwink dream chelsea --out dream.png (224 px, 3 octaves x 10 steps)", run_dream),
        "style": ("hoodwink style chelsea astronaut --out style.png (256 px, 150 L-BFGS steps)", run_style),
    }
    print("| command | threads | seconds |\n|---|---:|---:|")
    for name, (command, job) in jobs.items():
        if args.only and name not in args.only:
            continue
        start = time.perf_counter()
        job()
        seconds = time.perf_counter() - start
        print(f"| `{command}` | {args.threads} | {seconds:.1f} |", flush=True)
    print(f"\n{platform.machine()}, {os.cpu_count()} CPUs, torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads, load average {os.getloadavg()[0]:.1f} at the end")


if __name__ == "__main__":
    main()
