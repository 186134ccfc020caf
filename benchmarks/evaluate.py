"""Evaluate benchmark: ``hoodwink evaluate --suite standard`` against torchattacks' AutoAttack.

Side by side, in one run:

* **strength and time**: robust accuracy of our standard suite (APGD-CE, targeted
  APGD-DLR over 9 classes, Square 5,000 queries; every image on the 8-bit grid,
  judged against the true labels) and of torchattacks' ``AutoAttack(version="standard")``
  (APGD-CE, APGD-T, FAB-T, Square) on exactly the same 8-bit images: the digits CNN
  (standard training) and the PGD-trained CNN (as ``benchmarks/digits.py`` trains them)
  on the first test images, and EfficientNet-Lite0 at eps 1/255 on the first sample photos.
  AutoAttack's float images are judged after rounding to 8 bits and after projecting into
  our ball (``ThreatModel.project``); ours must not be weaker, in at most half its time;
* **resume**: a real ``hoodwink evaluate`` is killed (SIGINT/SIGTERM in turn) at random
  moments, resumed each time, and its rows compared with an uninterrupted run's;
* **Ray**: ``--engine ray`` with 2 workers against the local engine: rows that differ and
  the throughput ratio.

Run it in the bench venv (torchattacks beside the project; it does not need torchvision
for AutoAttack):

    .venv-bench/bin/python benchmarks/evaluate.py --threads 1 --models /tmp/digits-models

``--quick`` takes fewer images and skips the PGD-trained CNN unless ``--models`` holds it.
Writes ``benchmarks/results/evaluate.md`` and prints it.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib.util
import os
import platform
import random
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

from hoodwink.attacks import ThreatModel
from hoodwink.evaluate import evaluate, load_data
from hoodwink.models import load_model
from hoodwink.models.classifier import model_input
from hoodwink.train import TrainConfig, load_dataset

#: ``hoodwink`` with Ctrl-C's default Python handler, even when started from a background job
#: (which ignores SIGINT, and so would its children).
HOODWINK = [sys.executable, "-c", ("import signal, sys; signal.signal(signal.SIGINT, "
            "signal.default_int_handler); from hoodwink.cli import main; main(sys.argv[1:])")]
ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results" / "evaluate.md"
MNIST = ROOT.parent / "shared" / "data" / "mnist"
PHOTOS = ROOT.parent / "shared" / "data" / "imagenet-samples" / "images"


def _digits_module() -> Any:
    spec = importlib.util.spec_from_file_location("bench_digits", ROOT / "benchmarks" / "digits.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_digits"] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def _images(model: Any, data: Any) -> tuple[torch.Tensor, torch.Tensor]:
    images = torch.cat([model_input(model, data.image(i)) for i in range(len(data))])
    return images, data.labels


def ours(model: Any, images: torch.Tensor, labels: torch.Tensor, eps: float) -> tuple[float, float]:
    start = time.perf_counter()
    # the ensemble alone, as AutoAttack runs: no checks and no minimal-perturbation pass
    # (DeepFool over the top classes, the curve's extra, which AutoAttack does not compute)
    report = evaluate(model, (images, labels), eps=[eps], suite="standard", checks=False,
                      batch_size=64, minimal=False)
    return report.evaluations[0].robust_accuracy, time.perf_counter() - start


def autoattack(model: Any, images: torch.Tensor, labels: torch.Tensor, eps: float,
               classes: int) -> tuple[float, float, float]:
    """(robust accuracy on 8-bit images, in our ball, seconds) of torchattacks' AutoAttack."""
    import torchattacks

    start = time.perf_counter()
    attack = torchattacks.AutoAttack(model, norm="Linf", eps=eps, version="standard",
                                     n_classes=classes, seed=0)
    adversarial = attack(images, labels)
    seconds = time.perf_counter() - start
    with torch.no_grad():
        rounded = torch.round(adversarial * 255) / 255
        ball = ThreatModel("linf", eps).project(adversarial, images)
        acc8 = float((model(rounded).argmax(1) == labels).float().mean())
        acc_ball = float((model(ball).argmax(1) == labels).float().mean())
    return acc8, acc_ball, seconds


def _rows(store: Path) -> dict[tuple[str, int], tuple[Any, ...]]:
    with sqlite3.connect(store) as db:
        return {(r[0], r[1]): r for r in db.execute(
            "SELECT run, idx, label, clean_pred, broken_by, adv_pred, linf, l2, forward, backward, "
            "queries, costs FROM samples")}


def resume(model_file: Path, data: Path, limit: int, kills: int, seed: int) -> dict[str, Any]:
    """Kill a real run ``kills`` times at random moments; rows differing from a whole run."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    folder = Path(tempfile.mkdtemp(prefix="hoodwink-resume-"))

    def command(store: Path) -> list[str]:
        return [*HOODWINK, "evaluate", str(data), "--model", str(model_file),
                "--suite", "quick", "--eps", "0.1,0.2", "--limit", str(limit), "--no-checks",
                "--batch-size", "16", "--store", str(store), "--json"]

    start = time.monotonic()
    subprocess.run(command(folder / "whole.sqlite"), env=env, capture_output=True, check=True)
    took = time.monotonic() - start
    store = folder / "killed.sqlite"
    rng = random.Random(seed)
    done_kills = 0
    for k in range(kills):
        process = subprocess.Popen(command(store), env=env, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL)
        while process.poll() is None and not store.exists():
            time.sleep(0.05)
        time.sleep(rng.uniform(0.05, 0.3) * took)
        process.send_signal(signal.SIGINT if k % 2 == 0 else signal.SIGTERM)
        if process.wait() != 0:
            done_kills += 1
    subprocess.run(command(store), env=env, capture_output=True, check=True)
    whole, final = _rows(folder / "whole.sqlite"), _rows(store)
    differ = sum(final.get(k) != v for k, v in whole.items()) + len(set(final) - set(whole))
    return {"rows": len(whole), "images": len({k[1] for k in whole}), "runs": len({k[0] for k in whole}),
            "kills": done_kills, "differ": differ, "seconds": took}


ASSERT_TEST = """
import torch
from hoodwink import load_model
from hoodwink.testing import assert_robust

torch.set_num_threads(1)

def test_standard_cnn():
    assert_robust(load_model({standard!r}), {data!r}, eps=0.2, at_least=0.8, suite="quick", limit={limit})

def test_pgd_trained_cnn():
    assert_robust(load_model({pgd!r}), {data!r}, eps=0.2, at_least=0.8, suite="quick", limit={limit})
"""


def assert_robust_run(standard: Path, pgd: Path, data: Path, limit: int) -> dict[str, Any]:
    """The issue's "done when": a user's test file with ``assert_robust`` on the two digits CNNs."""
    with tempfile.TemporaryDirectory() as tmp:
        test = Path(tmp) / "test_robustness.py"
        test.write_text(ASSERT_TEST.format(standard=str(standard), pgd=str(pgd), data=str(data),
                                           limit=limit))
        start = time.monotonic()
        out = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                              "--rootdir", tmp, str(test)], check=False, capture_output=True, text=True,
                             cwd=tmp, env={**os.environ, "OMP_NUM_THREADS": "1"})
        seconds = time.monotonic() - start
    lines = out.stdout.splitlines()
    message = next((ln.strip().removeprefix("E").strip() for ln in lines
                    if "robust accuracy" in ln and "<" in ln), "")
    return {"summary": lines[-1] if lines else "", "message": message, "seconds": seconds,
            "standard_failed": "FAILED test_robustness.py::test_standard_cnn" in out.stdout,
            "pgd_failed": "FAILED test_robustness.py::test_pgd_trained_cnn" in out.stdout}


def ray_vs_local(model: Any, images: torch.Tensor, labels: torch.Tensor, eps: float) -> dict[str, Any]:
    try:
        import ray
    except ImportError:
        return {"skipped": "ray is not installed (pip install 'hoodwink[ray]')"}
    start = time.perf_counter()
    local = evaluate(model, (images, labels), eps=[eps], suite="quick", checks=False, batch_size=16)
    local_s = time.perf_counter() - start
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        evaluate(model, (images[:16], labels[:16]), eps=[eps], suite="quick", checks=False,
                 batch_size=16, engine="ray", workers=2)  # actors warm
        start = time.perf_counter()
        sharded = evaluate(model, (images, labels), eps=[eps], suite="quick", checks=False,
                           batch_size=16, engine="ray", workers=2)
        ray_s = time.perf_counter() - start
    finally:
        ray.shutdown()
    strip = [dataclasses.replace(s, png=None) for s in sharded.evaluations[0].samples]
    base = [dataclasses.replace(s, png=None) for s in local.evaluations[0].samples]
    return {"images": len(base), "differ": sum(a != b for a, b in zip(strip, base)),
            "local_s": local_s, "ray_s": ray_s, "ratio": local_s / ray_s}


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--models", type=Path, default=None, help="digits models (benchmarks/digits.py --models)")
    parser.add_argument("--digits", type=int, default=100, help="test digits per model")
    parser.add_argument("--photos", type=int, default=64, help="sample photos for EfficientNet-Lite0")
    parser.add_argument("--kills", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="fewer images; no PGD training")
    parser.add_argument("--skip", nargs="*", default=[],
                        help="parts to skip: digits (the digits table) imagenet resume ray assert")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.quick:
        args.digits, args.photos = min(args.digits, 32), min(args.photos, 16)
    lines = ["# Evaluate benchmark", "",
             (f"CPU ({platform.machine()}), {args.threads} torch threads, torch {torch.__version__}. "
             f"Command: `{' '.join(['benchmarks/evaluate.py', *sys.argv[1:]])}`."), "",
             ("| model | eps | images | ours (standard) | ours time (s) | AutoAttack, 8-bit | "
             "AutoAttack in our ball | AutoAttack time (s) | time ours/AA | ours not weaker |"),
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
    targets: list[tuple[str, Any, torch.Tensor, torch.Tensor, float, int]] = []
    digits = _digits_module()
    split = load_dataset(MNIST)
    if "digits" not in args.skip:
        test = split.test.subset(0, args.digits)
        plain = TrainConfig(epochs=10, seed=0)
        setups = [("cnn", plain)]
        pgd = TrainConfig(adversarial="pgd", steps=7, epochs=10, seed=0, eps=0.3, warmup=2.0,
                          batch_size=50)
        if not args.quick or (args.models and (args.models / "cnn-pgd.safetensors").is_file()):
            setups.append(("cnn-pgd", pgd))
        for name, config in setups:
            model, _, _ = digits.trained(name, "cnn", config, split, args.models)
            for eps in (0.1, 0.3):
                targets.append((name, model, test.images, test.labels, eps, 10))
    if "imagenet" not in args.skip:
        net = load_model("efficientnet-lite0", device="cpu")
        photos = load_data(PHOTOS, limit=args.photos)
        images, labels = _images(net, photos)
        targets.append(("efficientnet-lite0", net, images, labels, 1 / 255, 1000))
    for name, model, images, labels, eps, classes in targets:
        acc, seconds = ours(model, images, labels, eps)
        aa8, aa_ball, aa_s = autoattack(model, images, labels, eps, classes)
        eps_text = f"{eps * 255:g}/255" if name.startswith("eff") else f"{eps:g}"
        lines.append(f"| {name} | {eps_text} | {len(labels)} | {acc:.1%} | {seconds:.0f} | {aa8:.1%} | "
                     f"{aa_ball:.1%} | {aa_s:.0f} | {seconds / aa_s:.2f} | {'yes' if acc <= aa8 else 'NO'} |")
        print(lines[-1], flush=True)
    if "resume" not in args.skip:
        with tempfile.TemporaryDirectory() as tmp:
            from hoodwink.models import save_model

            cnn = digits.trained("cnn", "cnn", TrainConfig(epochs=10, seed=0), split, args.models)[0]
            path = save_model(cnn, Path(tmp) / "cnn.safetensors")
            r = resume(path, MNIST, 64 if args.quick else 200, args.kills, seed=0)
        lines += ["", (f"Resume: a real `hoodwink evaluate` (quick suite, eps 0.1 and 0.2 and the smallest-perturbation pass: {r['runs']} runs of "
                  f"{r['images']} digits) killed {r['kills']} times at random moments and resumed each time: "
                  f"{r['differ']} of {r['rows']} rows differ from an uninterrupted run "
                  f"({r['seconds']:.0f} s).")]
        print(lines[-1], flush=True)
    if "assert" not in args.skip and args.models and (args.models / "cnn-pgd.safetensors").is_file():
        r = assert_robust_run(args.models / "cnn.safetensors", args.models / "cnn-pgd.safetensors",
                              MNIST, args.digits)
        verdict = ("standard CNN fails, PGD-trained CNN passes"
                   if r["standard_failed"] and not r["pgd_failed"] else "NOT as expected")
        lines += ["", (f"assert_robust (a user's pytest file, eps 0.2, at least 80%, quick suite, first "
                       f"{args.digits} MNIST test digits): {verdict} ({r['summary']}, {r['seconds']:.0f} s). "
                       f"The failure says: `{r['message'][:300]}`")]
        print(lines[-1], flush=True)
    if "ray" not in args.skip:
        cnn = digits.trained("cnn", "cnn", TrainConfig(epochs=10, seed=0), split, args.models)[0]
        test = split.test.subset(0, args.digits)
        r = ray_vs_local(cnn, test.images, test.labels, 0.1)
        if "skipped" in r:
            lines += ["", f"Ray: {r['skipped']}."]
        else:
            lines += ["", (f"Ray, 2 workers, against the local engine ({r['images']} digits, quick suite, "
                      f"eps 0.1): {r['differ']} rows differ; local {r['local_s']:.1f} s, Ray "
                      f"{r['ray_s']:.1f} s with warm actors: throughput ratio Ray/local "
                      f"{r['ratio']:.2f}.")]
        print(lines[-1], flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
