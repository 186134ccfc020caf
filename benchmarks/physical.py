"""Tricks that survive the world: how often an adversarial photo still fools the model
after fresh real-world transformations, hoodwink's EOT vs plain PGD vs ART's EoT.

Setting: the first ``--images`` ImageNet sample photos of ``../shared/data``, targeted
to vulture at eps 16/255, PGD with the same budget for everyone (``--steps`` steps of
2/255 from the clean image, no early stop, ``--samples`` transformations per step for
EOT). Every adversarial image is then checked by :func:`hoodwink.physical.verify`:
``--verify`` fresh transformations of the ``physical`` kind (rotate 22.5, zoom
0.9-1.4, shift 0.1, brightness 0.05, noise 0.02, blur 1, JPEG 70-95) through PIL and
Pillow's JPEG, with a seed no attack saw. Also: JPEG survival at quality 75/85/95,
and a full-size 12-megapixel photo vs a 224 px crop (peak RSS and time, each in a
fresh process).

ART's EoT transformations that rotate or crop need torchvision, which hoodwink does not
depend on; the ART run therefore uses the two it can run without it (brightness and
Gaussian noise, ``EoTBrightnessPyTorch`` and ``EoTGaussianNoisePyTorch``), and so does
an hoodwink run beside it ("hoodwink EOT, ART's transforms") for a like-for-like time.

    .venv-bench/bin/python benchmarks/physical.py                   # with ART (see attacks.py)
    .venv/bin/python benchmarks/physical.py --no-art --images 8     # without it
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "imagenet-samples" / "images"
RESULTS = ROOT / "benchmarks" / "results" / "physical.md"


@dataclass
class Run:
    name: str
    adversarial: torch.Tensor
    seconds: float
    success: torch.Tensor


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=16)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--samples", type=int, default=4, help="EOT transformations per step")
    parser.add_argument("--verify", type=int, default=100, help="fresh transformations per image")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--no-art", action="store_true")
    parser.add_argument("--no-full-size", action="store_true")
    parser.add_argument("--full-steps", type=int, default=5, help="BIM steps on the 12 MP photo")
    parser.add_argument("--only-full-size", action="store_true")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    import hoodwink
    from hoodwink.attacks import Goal, ThreatModel, get_attack
    from hoodwink.attacks.eot import EOT
    from hoodwink.images import load_image
    from hoodwink.models.classifier import model_input

    if args.only_full_size:
        write(args, [], full_size_rows(args.threads, args.full_steps), "", 0)
        return
    model = hoodwink.load_model()
    files = sorted(DATA.glob("*.JPEG"))[: args.images]
    images = torch.cat([model_input(model, load_image(f)) for f in files])
    vulture = model.labels.find("vulture")
    goal, threat = Goal.targeted(vulture), ThreatModel("linf", 16 / 255)
    pgd = get_attack("pgd", steps=args.steps, step_size=2 / 255, random_start=False,
                     early_stop=False, batch_size=len(images))
    art_spec = "brightness:0.05,noise:0.02"

    def ours(name: str, wrapped: object) -> Run:
        started = time.perf_counter()
        result = pgd(wrapped, images, goal, threat)
        return Run(name, result.adversarial, time.perf_counter() - started, result.success)

    runs = [ours("plain PGD", model),
            ours("hoodwink EOT, physical", EOT(model, "physical", samples=args.samples)),
            ours("hoodwink EOT, ART's transforms", EOT(model, art_spec, samples=args.samples))]
    art_note = ""
    if not args.no_art:
        try:
            runs.append(art_run(model, images, vulture, args))
        except ImportError as exc:
            art_note = f"ART not run: {exc}"
    rows = []
    for run in runs:
        fraction, jpeg = survival(model, run, vulture, args.verify)
        rows.append((run, fraction, jpeg))
    full = [] if args.no_full_size else full_size_rows(args.threads, args.full_steps)
    write(args, rows, full, art_note, len(images))


def art_run(model: torch.nn.Module, images: torch.Tensor, target: int, args: argparse.Namespace) -> Run:
    import art.attacks.evasion.projected_gradient_descent.projected_gradient_descent_pytorch as art_pgd
    import numpy as np
    from art.attacks.evasion import ProjectedGradientDescent
    from art.estimators.classification import PyTorchClassifier
    from art.preprocessing.expectation_over_transformation.natural_corruptions.brightness.pytorch import (
        EoTBrightnessPyTorch,
    )
    from art.preprocessing.expectation_over_transformation.natural_corruptions.gaussian_noise.pytorch import (
        EoTGaussianNoisePyTorch,
    )

    # ART logs its success rate with predict(), which its EoT expands to K copies per image
    # (shapes that do not broadcast); the log line is not needed: success is judged below.
    art_pgd.compute_success = lambda *args, **kwargs: 0.0
    np.random.seed(0)
    torch.manual_seed(0)
    eot = [EoTBrightnessPyTorch(nb_samples=args.samples, clip_values=(0.0, 1.0), delta=0.05),
           EoTGaussianNoisePyTorch(nb_samples=1, clip_values=(0.0, 1.0), std=(0.0, 0.02))]
    classifier = PyTorchClassifier(model=model, loss=torch.nn.CrossEntropyLoss(),
                                   input_shape=(3, 224, 224), nb_classes=1000, clip_values=(0.0, 1.0),
                                   preprocessing_defences=eot, device_type="cpu")
    attack = ProjectedGradientDescent(classifier, norm=np.inf, eps=16 / 255, eps_step=2 / 255,
                                      max_iter=args.steps, targeted=True, num_random_init=0,
                                      batch_size=len(images), verbose=False)
    onehot = np.zeros((len(images), 1000), np.float32)
    onehot[:, target] = 1
    started = time.perf_counter()
    adv = torch.from_numpy(attack.generate(images.numpy(), y=onehot))
    seconds = time.perf_counter() - started
    adv = torch.round(adv.clamp(0, 1) * 255) / 255  # saved as a PNG, as every other run
    with torch.no_grad():
        success = model(adv).argmax(1) == target
    return Run("ART EoT PGD (brightness, noise)", adv, seconds, success)


def survival(model: torch.nn.Module, run: Run, target: int, checks: int) -> tuple[float, dict[int, float]]:
    """Mean fraction of fresh physical transformations that still say ``target``, and the
    fraction of images whose JPEG at each quality still does."""
    from hoodwink.attacks import AttackResult, Goal, ThreatModel
    from hoodwink.physical import judge_jpeg, verify

    with torch.no_grad():
        probs = model(run.adversarial).softmax(1)
    n = len(run.adversarial)
    classes = torch.full((n,), target)
    result = AttackResult.build(
        attack=run.name, params={}, threat=ThreatModel("linf", 16 / 255), goal=Goal.targeted(target),
        names=model.labels, original=run.adversarial, adversarial=run.adversarial,  # type: ignore[arg-type]
        goal_classes=classes, success=probs.argmax(1) == target, clean_probabilities=probs,
        adversarial_probabilities=probs, forward=torch.zeros(n, dtype=torch.long),
        backward=torch.zeros(n, dtype=torch.long), steps=torch.zeros(n, dtype=torch.long))
    check = verify(model, result, "physical", samples=checks, seed=12345)
    jpeg = {q: float(judge_jpeg(model, result, q).success.float().mean()) for q in (75, 85, 95)}
    return float(check.fraction.mean()), jpeg


_CHILD = """
import sys, time, torch

def hwm():  # this process's own peak RSS in MB (ru_maxrss would carry the parent's across exec)
    for line in open('/proc/self/status'):
        if line.startswith('VmHWM:'):
            return int(line.split()[1]) / 1024
    return float('nan')

torch.set_num_threads({threads})
import hoodwink
from hoodwink.attacks import Goal, ThreatModel, get_attack
from hoodwink.attacks.eot import FullSize
import torch.nn.functional as F
model = hoodwink.load_model()
cat = hoodwink.load_image("chelsea")[None]
photo = F.interpolate(cat, size=(3000, 4000), mode="bicubic", align_corners=False).clamp(0, 1)
photo = torch.round(photo * 255) / 255
target = FullSize(model) if {full} else model
attack = get_attack("bim", steps={steps}, early_stop=False)
before = hwm()
started = time.perf_counter()
result = attack(target, photo, Goal.targeted(model.labels.find("vulture")), ThreatModel("linf", 16 / 255))
seconds = time.perf_counter() - started
peak = hwm()
print(json.dumps({{"seconds": seconds, "peak_mb": peak, "before_mb": before,
                  "shape": list(result.adversarial.shape), "success": bool(result.success[0])}}))
"""


def full_size_rows(threads: int, steps: int = 5) -> list[dict[str, object]]:
    rows = []
    for full in (False, True):
        code = "import json\n" + _CHILD.format(threads=threads, full=full, steps=steps)
        env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                             check=True, cwd=ROOT)
        doc = json.loads(out.stdout.strip().splitlines()[-1])
        doc["what"] = "12 MP photo, full size" if full else "12 MP photo, 224 px crop"
        doc["steps"] = steps
        rows.append(doc)
    return rows


def write(args: argparse.Namespace, rows: list[tuple[Run, float, dict[int, float]]],
          full: list[dict[str, object]], art_note: str, n: int) -> None:
    plain_time = rows[0][0].seconds if rows else 1.0
    by_name = {r[0].name: r for r in rows}
    lines = [
        "# Tricks that survive the world",
        "",
        f"Command: `{' '.join([Path(sys.executable).parent.parent.name + '/bin/python', 'benchmarks/physical.py', *sys.argv[1:]])}`",
        (f"Machine: {platform.processor() or platform.machine()}, {args.threads} torch threads, "
        f"torch {torch.__version__}; {time.strftime('%Y-%m-%d %H:%M')}. The machine was shared with "
        "other jobs while this ran: times are upper bounds, ratios are what to read."),
        "",
        (f"{n} ImageNet sample photos, targeted to vulture, eps 16/255, PGD {args.steps} steps of 2/255 "
        f"from the clean image (no early stop), EOT with {args.samples} transformations per step. "
        f"'Survives' is the mean over images of the fraction of {args.verify} fresh `physical` "
        "transformations (PIL rotate/zoom/shift/blur, numpy noise and brightness rounded to 8 bits, "
        "Pillow JPEG 70-95; seed 12345, never the attack's) after which the model still says vulture."),
        "",
        "| attack | fooled as PNG | survives physical | JPEG q75 | q85 | q95 | s / image | time vs plain |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for run, fraction, jpeg in rows:
        lines.append(f"| {run.name} | {float(run.success.float().mean()):.0%} | {fraction:.1%} | "
                     f"{jpeg[75]:.0%} | {jpeg[85]:.0%} | {jpeg[95]:.0%} | {run.seconds / n:.2f} | "
                     f"{run.seconds / plain_time:.1f}x |")
    art = by_name.get("ART EoT PGD (brightness, noise)")
    like = by_name.get("hoodwink EOT, ART's transforms")
    if art is not None and like is not None:
        lines += ["", (f"hoodwink EOT vs ART EoT on the same transformations (brightness, noise): "
                      f"survives {like[1]:.1%} vs {art[1]:.1%}, time {like[0].seconds / art[0].seconds:.2f}x ART's.")]
    if art_note:
        lines += ["", art_note]
    lines += ["", ("Reference only: Athalye et al. (2018) report about 96% mean adversarialness over 1000 "
                  "transformations in their 2D case, on InceptionV3 (not this model or these transformations).")]
    if full:
        lines += ["", "## Full size", "",
                  (f"BIM, {full[0]['steps']} steps, eps 16/255, on chelsea upsampled to 4000x3000 (12 MP), each in a fresh "
                  "process; peak RSS includes the model and the decoded photo."), "",
                  "| what | seconds | peak RSS (MB) | RSS before the attack (MB) | adversarial shape |",
                  "|---|---|---|---|---|"]
        for doc in full:
            lines.append(f"| {doc['what']} | {float(doc['seconds']):.1f} | {float(doc['peak_mb']):.0f} | "  # type: ignore[arg-type]
                         f"{float(doc['before_mb']):.0f} | {'x'.join(str(s) for s in doc['shape'])} |")  # type: ignore[arg-type, union-attr]
    text = "\n".join(lines) + "\n"
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
