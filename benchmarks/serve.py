"""The web playground's overhead: time to the first streamed step and per-step latency through
``hoodwink serve`` (gradio_client, as the page gets them) against the same attack in Python.

    python benchmarks/serve.py                       # EfficientNet-Lite0, 10 steps, 1 and 8 users
    python benchmarks/serve.py --steps 5 --repeats 2 --out benchmarks/results/serve.md

The server is a real ``hoodwink serve`` process on 127.0.0.1 (its own port); the clients ask
for a BIM trick of chelsea into "paper towel" at eps 1/255 (not reached in a few steps, so
every run takes all its steps). In Python, the same attack with an ``on_step`` callback
gives the same two figures: the first step (row 0, the start image judged) and the time
between steps. Each web update is timed when its message arrives (``download_files=False``:
a browser fetches the pictures beside the stream). With 8 users the model is shared (one
request at a time), so the time to the first step includes the wait in the queue.

The ratio web / Python is the web's overhead (goal: at most 1.2 for the per-step latency).
"""

from __future__ import annotations

import argparse
import itertools
import os
import platform
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import torch

TARGET = "paper towel"
SAMPLE = "chelsea"
EPS_255 = 1


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = (len(ordered) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def python_run(model: object, steps: int) -> tuple[float, list[float]]:
    """Seconds to row 0 and the seconds between steps, for the attack called from Python."""
    from hoodwink import load_image
    from hoodwink.attacks import ThreatModel, get_attack
    from hoodwink.attacks.trick import make_goal

    stamps: list[float] = []
    attack = get_attack("bim", steps=steps, step_size=1 / 255)
    goal = make_goal(model.labels, into=TARGET)  # type: ignore[attr-defined]
    start = time.perf_counter()
    attack(model, load_image(SAMPLE), goal, ThreatModel("linf", EPS_255 / 255),
           on_step=lambda step: stamps.append(time.perf_counter()))
    return stamps[0] - start, [b - a for a, b in itertools.pairwise(stamps)]


def python_run_in_thread(model: object, steps: int) -> tuple[float, list[float]]:
    """:func:`python_run` in a worker thread, as the server runs the attack."""
    out: dict[str, tuple[float, list[float]]] = {}
    worker = threading.Thread(target=lambda: out.update(run=python_run(model, steps)))
    worker.start()
    worker.join()
    return out["run"]


def web_run(url: str, image: str, steps: int) -> tuple[float, list[float], int]:
    """Seconds to the first streamed update, the seconds between updates, and their count."""
    from gradio_client import Client, handle_file

    client = Client(url, verbose=False, download_files=False)
    stamps: list[float] = []
    start = time.perf_counter()
    job = client.submit(handle_file(image), "into", TARGET, "bim", EPS_255, steps, api_name="/trick")
    for _update in job:
        stamps.append(time.perf_counter())
    job.result(timeout=600)
    streamed = stamps[:-1]  # the last message is the answer (the PNG and its reading)
    return streamed[0] - start, [b - a for a, b in itertools.pairwise(streamed)], len(stamps)


def start_server(port: int, model: str, steps: int) -> subprocess.Popen[bytes]:
    env = dict(os.environ, GRADIO_ANALYTICS_ENABLED="False")
    command = [str(Path(sys.executable).parent / "hoodwink"), "serve", "--port", str(port), "--model", model,
               "--max-steps", str(max(steps, 10)), "--photos", str(Path(__file__).parent)]
    server = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env)
    assert server.stdout is not None
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        line = server.stdout.readline().decode()
        if "playground on" in line:
            return server
        if not line and server.poll() is not None:
            break
    server.kill()
    raise SystemExit("hoodwink serve did not start")


def row(name: str, first: list[float], per_step: list[float]) -> tuple[str, float, float, float, float, float]:
    mean = sum(per_step) / len(per_step) if per_step else float("nan")
    return (name, percentile(first, 0.5), percentile(first, 0.95), percentile(per_step, 0.5),
            percentile(per_step, 0.95), mean)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="efficientnet-lite0")
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--users", type=int, nargs="+", default=[1, 8])
    parser.add_argument("--port", type=int, default=7931)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()

    from hoodwink.models import load_model

    model = load_model(args.model, device="cpu")
    server = start_server(args.port, args.model, args.steps)
    py_first: list[float] = []
    py_steps: list[float] = []
    th_first: list[float] = []
    th_steps: list[float] = []
    rows = []
    try:
        from gradio_client import Client

        url = f"http://127.0.0.1:{args.port}/"
        image = Client(url, verbose=False, download_files=False).predict(SAMPLE, api_name="/sample")["path"]
        python_run(model, 2)  # warm-ups
        web_run(url, image, 2)
        web: dict[int, tuple[list[float], list[float]]] = {users: ([], []) for users in args.users}
        # Python and one web user take turns, so that a change in the machine's load hits both alike
        for _ in range(args.repeats):
            first, steps = python_run(model, args.steps)
            py_first.append(first)
            py_steps += steps
            first, steps = python_run_in_thread(model, args.steps)
            th_first.append(first)
            th_steps += steps
            for users in args.users:
                if users == 1:
                    first, steps, _count = web_run(url, image, args.steps)
                    web[1][0].append(first)
                    web[1][1].extend(steps)
        for users in args.users:
            if users == 1:
                continue
            with ThreadPoolExecutor(users) as pool:
                for first, steps, count in pool.map(lambda _: web_run(url, image, args.steps), range(users)):
                    assert count >= 3, count  # at least two steps and the answer
                    web[users][0].append(first)
                    web[users][1].extend(steps)
        rows.append(row("Python, worker thread (as the server runs it)", th_first, th_steps))
        rows.append(row("Python, main thread", py_first, py_steps))
        for users in args.users:
            rows.append(row(f"web, {users} user{'s' if users > 1 else ''}", *web[users]))
    finally:
        server.terminate()
        server.wait(timeout=30)

    base_step = rows[0][5]
    base_first = rows[0][1]
    lines = [
        (f"# hoodwink serve: streamed steps vs Python ({args.model}, BIM {args.steps} steps, "
        f"{SAMPLE} into '{TARGET}', eps {EPS_255}/255)"),
        "",
        ("| run | first step p50 (s) | first step p95 (s) | per step p50 (s) | per step p95 (s) | "
        "per step mean (s) | mean / Python |"),
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name, f50, f95, s50, s95, mean in rows:
        lines.append(f"| {name} | {f50:.3f} | {f95:.3f} | {s50:.3f} | {s95:.3f} | {mean:.3f} | "
                     f"{mean / base_step:.2f} |")
    lines += ["", f"First step, 1 user / Python (worker thread): {rows[2][1] / base_first:.2f}.",
              "", ("The ratios are against the attack run from Python in a worker thread, as the server "
              "runs it. The main thread's figure differs from it on a loaded machine: with 2 torch threads, "
              "the main thread's OpenMP team waits for a core that another process holds."),
              "", (f"CPU ({platform.machine()}, {os.cpu_count()} cores), {torch.get_num_threads()} torch threads, "
              f"torch {torch.__version__}, Python {platform.python_version()}; {args.repeats} repeats; load average "
              f"{os.getloadavg()[0]:.1f} at the end (a shared machine); "
              f"`python benchmarks/serve.py {' '.join(sys.argv[1:])}`.")]
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out is not None:
        args.out.write_text(text)


if __name__ == "__main__":
    main()
