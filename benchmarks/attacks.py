"""hoodwink's attacks side by side with torchattacks, foolbox 3 and IBM ART, in one run.

Every library attacks exactly the same function: hoodwink's EfficientNet-Lite0
``Classifier`` (images in [0, 1], normalisation inside), on the same 8-bit
images from ``../shared/data/imagenet-samples/images`` (each prepared to
224x224 with ``model.prepare`` and rounded to the 1/255 grid), with the same
settings:

(a) Linf PGD, untargeted, eps 4/255, step 1/255, 20 steps, random start;
(b) Linf PGD targeted into "vulture" (class 23), eps 8/255, step 1/255, 40 steps
    (images whose true class is 23 are skipped);
(c) DeepFool L2 (top-10 candidate classes, overshoot 0.02, at most 50 steps):
    median L2 of the successful 8-bit images.

The images are the first ``--images`` photos (sorted by name) that the model
classifies correctly, so "untargeted success" means the attack did something.

Success is judged honestly for every library: each output is rounded to the
8-bit grid (``round(x * 255) / 255``) and predicted again; a library's own
float verdict is shown beside it when it differs. Forward/backward passes are
counted by wrapping the model in a counting module (ours are also counted by
the engine itself). The bare loop is plain PyTorch with no attack library
(forward, cross-entropy, backward, sign step, clamp) for the same number of
steps on the same batch; "overhead" is a wall time divided by it. Our PGD is
also run with early stopping off (all 20 steps) to measure the engine's
per-step overhead. Finally every image a library calls successful is saved as
a PNG with ``hoodwink.save_image``, read back with ``load_image`` and predicted:
"PNGs fool" is the share that still fools the model.

How to run (from the repository root; peers live in their own venv, never in
the project's dependencies)::

    python -m venv .venv-bench
    .venv-bench/bin/pip install torch==2.13.0
    .venv-bench/bin/pip install -e .
    .venv-bench/bin/pip install --no-deps torchattacks
    .venv-bench/bin/pip install -r benchmarks/requirements-peers.txt
    .venv-bench/bin/python benchmarks/attacks.py            # ~15 min on 2 cores

``--quick`` runs 4 images and a quarter of the steps (a smoke test, minutes).
Writes ``benchmarks/results/attacks.md`` and prints it.
"""

from __future__ import annotations

import argparse
import datetime
import importlib.metadata
import math
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from hoodwink.images import load_image, load_images, quantize, save_image
from hoodwink.models import Classifier, load_model

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / ".." / "shared" / "data" / "imagenet-samples" / "images"
RESULTS = ROOT / "benchmarks" / "results" / "attacks.md"
VULTURE = 23
PEERS = ("torchattacks", "foolbox", "adversarial-robustness-toolbox")


# --- counting passes ---------------------------------------------------------------------------

class Counter(nn.Module):
    """The classifier, counting images through forward and backward passes.

    A forward pass of a batch of n images counts n; a backward pass through its
    output counts n (a hook on the logits fires once per backward).
    """

    def __init__(self, model: Classifier) -> None:
        super().__init__()
        self.model = model
        self.eval()
        self.forward_images = 0
        self.backward_images = 0

    def reset(self) -> None:
        self.forward_images = self.backward_images = 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.model(x)
        n = x.shape[0]
        self.forward_images += n
        if out.requires_grad:
            def count(grad: torch.Tensor) -> None:
                self.backward_images += n
            out.register_hook(count)
        return out


# --- one library's run ---------------------------------------------------------------------------

@dataclass
class Run:
    """What one library returned for one setting, and what it cost."""

    library: str
    adversarial: torch.Tensor          # float output, (N, 3, 224, 224)
    seconds: float                     # wall time
    cpu: float                         # CPU time of this process (all threads)
    forward: int                       # images through forward passes, all samples together
    backward: int
    float_success: torch.Tensor | None = None   # the library's own verdict, if it gives one
    note: str = ""
    # filled by evaluate()
    success: torch.Tensor = field(default_factory=lambda: torch.zeros(0, dtype=torch.bool))
    l2: torch.Tensor = field(default_factory=lambda: torch.zeros(0))
    png_fool: tuple[int, int] = (0, 0)


@dataclass(frozen=True)
class Setting:
    key: str
    title: str
    images: torch.Tensor
    labels: torch.Tensor
    eps: float
    steps: int
    target: int | None = None

    @property
    def goal_labels(self) -> torch.Tensor:
        if self.target is None:
            return self.labels
        return torch.full_like(self.labels, self.target)


def reached(model: nn.Module, x: torch.Tensor, setting: Setting,
            rows: slice | list[int] = slice(None)) -> torch.Tensor:
    """Success of images x (the setting's images ``rows``, all by default) for its goal
    (no passes counted)."""
    with torch.no_grad():
        top = model(x).argmax(1)
    return top == setting.target if setting.target is not None else top != setting.labels[rows]


def timed(counter: Counter, fn: Callable[[], torch.Tensor]
          ) -> tuple[torch.Tensor, float, float, int, int]:
    """Output, wall seconds, CPU seconds, forward and backward images counted."""
    counter.reset()
    cpu = time.process_time()
    start = time.perf_counter()
    out = fn()
    seconds = time.perf_counter() - start
    cpu = time.process_time() - cpu
    return (out.detach().float().cpu(), seconds, cpu, counter.forward_images,
            counter.backward_images)


# --- the bare loop ---------------------------------------------------------------------------------

def bare_loop(counter: Counter, s: Setting, step_size: float) -> Run:
    """Plain PyTorch PGD: forward, cross-entropy, backward, sign step, clamp. No library."""
    x0, y, sign = s.images, s.goal_labels, (1.0 if s.target is None else -1.0)

    def attack() -> torch.Tensor:
        x = x0.clone()
        for _ in range(s.steps):
            x.requires_grad_(True)
            loss = F.cross_entropy(counter(x), y)
            (grad,) = torch.autograd.grad(loss, x)
            x = torch.min(torch.max(x.detach() + sign * step_size * grad.sign(), x0 - s.eps), x0 + s.eps)
            x = x.clamp(0, 1)
        return x

    adv, seconds, cpu, fwd, bwd = timed(counter, attack)
    return Run("bare loop", adv, seconds, cpu, fwd, bwd)


# --- peers --------------------------------------------------------------------------------------

def torchattacks_pgd(counter: Counter, s: Setting, step_size: float) -> Run:
    import torchattacks

    torch.manual_seed(0)  # torchattacks draws its random start from the global RNG
    atk = torchattacks.PGD(counter, eps=s.eps, alpha=step_size, steps=s.steps, random_start=True)
    if s.target is not None:
        atk.set_mode_targeted_by_label(quiet=True)
    adv, seconds, cpu, fwd, bwd = timed(counter, lambda: atk(s.images, s.goal_labels))
    return Run("torchattacks", adv, seconds, cpu, fwd, bwd, reached(counter.model, adv, s))


def foolbox_pgd(counter: Counter, s: Setting, step_size: float) -> Run:
    import foolbox as fb

    torch.manual_seed(0)
    fmodel = fb.PyTorchModel(counter, bounds=(0, 1), device=s.images.device)
    atk = fb.attacks.LinfPGD(abs_stepsize=step_size, steps=s.steps, random_start=True)
    criterion = (s.labels if s.target is None
                 else fb.criteria.TargetedMisclassification(s.goal_labels))
    holder: dict[str, torch.Tensor] = {}

    def attack() -> torch.Tensor:
        _, clipped, success = atk(fmodel, s.images, criterion, epsilons=s.eps)
        holder["success"] = success
        return clipped

    adv, seconds, cpu, fwd, bwd = timed(counter, attack)
    return Run("foolbox", adv, seconds, cpu, fwd, bwd, holder["success"].cpu())


def art_classifier(counter: Counter) -> object:
    from art.estimators.classification import PyTorchClassifier

    model = counter.model
    return PyTorchClassifier(model=counter, loss=nn.CrossEntropyLoss(),
                             input_shape=(model.channels, *model.input_size),
                             nb_classes=model.num_classes, clip_values=(0.0, 1.0),
                             device_type="gpu" if model.device.type == "cuda" else "cpu")


def art_pgd(counter: Counter, s: Setting, step_size: float) -> Run:
    from art.attacks.evasion import ProjectedGradientDescent

    np.random.seed(0)
    torch.manual_seed(0)
    classifier = art_classifier(counter)
    atk = ProjectedGradientDescent(classifier, norm=np.inf, eps=s.eps, eps_step=step_size,
                                   max_iter=s.steps, targeted=s.target is not None,
                                   num_random_init=1, batch_size=len(s.images), verbose=False)
    onehot = F.one_hot(s.goal_labels, counter.model.num_classes).numpy().astype(np.float32)

    def attack() -> torch.Tensor:
        return torch.from_numpy(atk.generate(s.images.cpu().numpy(), y=onehot))

    adv, seconds, cpu, fwd, bwd = timed(counter, attack)
    return Run("ART", adv, seconds, cpu, fwd, bwd, reached(counter.model, adv, s))


def foolbox_deepfool(counter: Counter, s: Setting, overshoot: float, candidates: int,
                     steps: int) -> Run:
    import foolbox as fb

    fmodel = fb.PyTorchModel(counter, bounds=(0, 1), device=s.images.device)
    atk = fb.attacks.L2DeepFoolAttack(steps=steps, candidates=candidates, overshoot=overshoot)
    holder: dict[str, torch.Tensor] = {}

    def attack() -> torch.Tensor:
        _, clipped, success = atk(fmodel, s.images, s.labels, epsilons=None)
        holder["success"] = success
        return clipped

    adv, seconds, cpu, fwd, bwd = timed(counter, attack)
    return Run("foolbox", adv, seconds, cpu, fwd, bwd, holder["success"].cpu())


def art_deepfool(counter: Counter, s: Setting, overshoot: float, candidates: int,
                 steps: int) -> Run:
    """ART's DeepFool, one image per call.

    ART takes the gradient classes as the union of every image's top
    ``nb_grads`` (one full-batch backward per class in that union), so one
    call per image is what makes its ``nb_grads`` mean "top-k per image".
    """
    from art.attacks.evasion import DeepFool

    classifier = art_classifier(counter)
    atk = DeepFool(classifier, max_iter=steps, epsilon=overshoot, nb_grads=candidates,
                   batch_size=1, verbose=False)

    def attack() -> torch.Tensor:
        x = s.images.cpu().numpy()
        return torch.from_numpy(np.concatenate([atk.generate(x[i:i + 1]) for i in range(len(x))]))

    adv, seconds, cpu, fwd, bwd = timed(counter, attack)
    return Run("ART", adv, seconds, cpu, fwd, bwd, reached(counter.model, adv, s),
               note="one call per image")


# --- ours -----------------------------------------------------------------------------------------

def hoodwink_pgd(counter: Counter, s: Setting, step_size: float, early_stop: bool = True) -> Run:
    from hoodwink.attacks import PGD, Goal, ThreatModel

    attack = PGD(steps=s.steps, step_size=step_size, random_start=True, seed=0,
                 batch_size=len(s.images), early_stop=early_stop)
    goal = Goal.untargeted(s.labels) if s.target is None else Goal.targeted(s.target)
    threat = ThreatModel("linf", s.eps)
    holder = {}

    def run() -> torch.Tensor:
        result = attack(counter.model, s.images, goal, threat)
        holder["result"] = result
        return result.adversarial

    # the engine counts its own passes; the counter is not in the loop
    adv, seconds, cpu, _, _ = timed(counter, run)
    result = holder["result"]
    name = "hoodwink" if early_stop else "hoodwink, no early stop"
    return Run(name, adv, seconds, cpu, int(result.forward.sum()), int(result.backward.sum()),
               result.success.cpu())


def hoodwink_deepfool(counter: Counter, s: Setting, overshoot: float, candidates: int,
                      steps: int) -> Run:
    from hoodwink.attacks import Goal
    from hoodwink.attacks.deepfool import DeepFool

    attack = DeepFool(steps=steps, overshoot=overshoot, candidates=candidates,
                      batch_size=len(s.images))
    holder = {}

    def run() -> torch.Tensor:
        result = attack(counter.model, s.images, Goal.untargeted(s.labels))
        holder["result"] = result
        return result.adversarial

    adv, seconds, cpu, _, _ = timed(counter, run)
    result = holder["result"]
    return Run("hoodwink", adv, seconds, cpu, int(result.forward.sum()), int(result.backward.sum()),
               result.success.cpu())


# --- judging -----------------------------------------------------------------------------------

def evaluate(model: Classifier, run: Run, s: Setting, tmp: Path) -> None:
    """8-bit success, L2 of the 8-bit images, and PNGs read back from disk."""
    q = quantize(run.adversarial)
    run.success = reached(model, q, s)
    run.l2 = (q - s.images).flatten(1).norm(dim=1)
    claimed = run.float_success if run.float_success is not None else run.success
    fooled = 0
    indices = claimed.nonzero().flatten().tolist()
    for i in indices:
        path = save_image(run.adversarial[i], tmp / f"{s.key}-{run.library}-{i}.png".replace(" ", "_"))
        back = load_image(path).unsqueeze(0)
        fooled += int(reached(model, back, s, [i])[0])
    run.png_fool = (fooled, len(indices))


def warm_up(counter: Counter, images: torch.Tensor) -> None:
    for _ in range(2):
        x = images.clone().requires_grad_(True)
        counter(x).sum().backward()


# --- the table ------------------------------------------------------------------------------------

def pct(mask: torch.Tensor) -> str:
    return f"{float(mask.float().mean()):.0%}" if mask.numel() else "-"


def rows(setting: Setting, runs: list[Run], bare: Run | None, minimal: bool) -> list[str]:
    n = len(setting.images)
    peers = [r for r in runs if r.library in ("torchattacks", "foolbox", "ART")]
    fastest = min((r.seconds for r in peers), default=float("nan"))
    fastest_cpu = min((r.cpu for r in peers), default=float("nan"))
    out = []
    for r in runs + ([bare] if bare is not None else []):
        is_bare = r.library.startswith("bare loop")
        float_rate = pct(r.float_success) if r.float_success is not None else "-"
        if float_rate == pct(r.success) and not is_bare:
            float_rate = "same"
        png = f"{r.png_fool[0]}/{r.png_fool[1]}" if not is_bare else "-"
        cells = [r.library + (f" ({r.note})" if r.note else ""), pct(r.success) if not is_bare
                 else "-", float_rate]
        if minimal:
            ok = r.l2[r.success]
            cells.append(f"{statistics.median(ok.tolist()):.3f}" if ok.numel() else "-")
            claimed = r.float_success if r.float_success is not None else r.success
            raw = (r.adversarial - setting.images).flatten(1).norm(dim=1)[claimed]
            cells.append(f"{statistics.median(raw.tolist()):.3f}" if raw.numel() else "-")
        cells += [f"{r.seconds:.1f}", f"{r.cpu:.1f}", f"{r.seconds / n:.2f}",
                  f"{r.seconds / fastest:.2f} / {r.cpu / fastest_cpu:.2f}" if peers else "-",
                  f"{r.seconds / bare.seconds:.2f} / {r.cpu / bare.cpu:.2f}" if bare else "-",
                  f"{r.forward / n:.1f}", f"{r.backward / n:.1f}", png]
        out.append("| " + " | ".join(cells) + " |")
    return out


def header(minimal: bool) -> list[str]:
    cols = ["library", "success (8-bit)", "own float verdict"]
    if minimal:
        cols += ["median L2 (8-bit, successful)", "median L2 (float output, own verdict)"]
    cols += ["wall s", "CPU s", "wall s / image", "vs fastest peer (wall / CPU)",
             "vs bare loop (wall / CPU)", "fwd / image", "bwd / image", "PNGs fool"]
    return ["| " + " | ".join(cols) + " |", "|" + "---|" + "---:|" * (len(cols) - 1)]


# --- main -----------------------------------------------------------------------------------------

def load_setting_images(model: Classifier, count: int) -> tuple[torch.Tensor, torch.Tensor, list[str]]:
    """The first ``count`` photos (by name) the model gets right, prepared and on the 8-bit grid."""
    named = load_images(DATA)
    images, labels, names = [], [], []
    for item in named:
        truth = int(Path(item.name).name.split("_")[0])
        x = quantize(model.prepare(item.pixels.unsqueeze(0).to(model.device)))
        with torch.no_grad():
            if int(model(x).argmax(1)) != truth:
                continue
        images.append(x)
        labels.append(truth)
        names.append(Path(item.name).name)
    return torch.cat(images), torch.tensor(labels, device=model.device), names


def versions() -> str:
    found = []
    for name in PEERS:
        try:
            found.append(f"{name} {importlib.metadata.version(name)}")
        except importlib.metadata.PackageNotFoundError:
            found.append(f"{name} (not installed)")
    return ", ".join(found)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=16)
    parser.add_argument("--deepfool-images", type=int, default=4)
    parser.add_argument("--quick", action="store_true", help="4 images, a quarter of the steps")
    parser.add_argument("--only", nargs="*", default=["a", "b", "c"], help="settings to run")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    if not DATA.is_dir():
        sys.exit(f"no sample photos at {DATA} (the benchmark needs ../shared/data beside the repo)")
    torch.set_num_threads(args.threads)
    scale = 4 if args.quick else 1
    count = min(4, args.images) if args.quick else args.images
    df_count = min(4, args.deepfool_images) if args.quick else args.deepfool_images

    model = load_model()
    counter = Counter(model)
    images, labels, names = load_setting_images(model, count + 1)
    keep = (labels != VULTURE).nonzero().flatten()
    settings = {
        "a": Setting("a", f"(a) Linf PGD untargeted, eps 4/255, step 1/255, {20 // scale} steps",
                     images[:count], labels[:count], 4 / 255, 20 // scale),
        "b": Setting("b", f"(b) Linf PGD targeted into vulture (23), eps 8/255, step 1/255, "
                     f"{40 // scale} steps", images[keep[:count]], labels[keep[:count]], 8 / 255,
                     40 // scale, target=VULTURE),
        "c": Setting("c", f"(c) DeepFool L2, top-10 candidates, overshoot 0.02, at most "
                     f"{50 // scale} steps", images[:df_count], labels[:df_count], 0.0, 50 // scale),
    }
    step_size = 1 / 255
    warm_up(counter, images[:count])

    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        "# Attacks: hoodwink against torchattacks, foolbox and ART",
        "",
        (f"{stamp}; {platform.machine()} {platform.processor() or ''} CPU, "
         f"{torch.get_num_threads()} threads; torch {torch.__version__}, Python "
         f"{platform.python_version()}; {versions()}. Model: {model.name} (every library attacks "
         f"the same `Classifier`). Images: {', '.join(names[:count + 1])}."),
        "",
        f"Command: `{' '.join(['.venv-bench/bin/python', 'benchmarks/attacks.py', *sys.argv[1:]])}`",
        "",
    ]
    summary: list[str] = []
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        for key in args.only:
            s = settings[key]
            print(f"{s.title} on {len(s.images)} images", file=sys.stderr)
            runs: list[Run] = []
            bare = None
            if key in ("a", "b"):
                jobs: list[tuple[str, Callable[[], Run]]] = [
                    ("hoodwink", lambda: hoodwink_pgd(counter, s, step_size)),
                    ("torchattacks", lambda: torchattacks_pgd(counter, s, step_size)),
                    ("foolbox", lambda: foolbox_pgd(counter, s, step_size)),
                    ("ART", lambda: art_pgd(counter, s, step_size)),
                ]
                if key == "a":
                    jobs.append(("hoodwink, no early stop",
                                 lambda: hoodwink_pgd(counter, s, step_size, early_stop=False)))
                jobs.append(("bare loop", lambda: bare_loop(counter, s, step_size)))
            else:
                df = dict(overshoot=0.02, candidates=10, steps=s.steps)
                jobs = [
                    ("hoodwink", lambda: hoodwink_deepfool(counter, s, **df)),
                    ("foolbox", lambda: foolbox_deepfool(counter, s, **df)),
                    ("ART", lambda: art_deepfool(counter, s, **df)),
                ]
            for name, job in jobs:
                print(f"  {name} ...", end="", file=sys.stderr, flush=True)
                try:
                    run = job()
                except Exception as exc:  # a peer that breaks must not lose the others' figures
                    print(f" failed: {exc!r}", file=sys.stderr)
                    summary.append(f"- {s.key}: {name} failed: `{exc!r}`")
                    continue
                evaluate(model, run, s, tmp)
                print(f" {run.seconds:.1f} s, success {pct(run.success)}", file=sys.stderr)
                if run.library == "bare loop":
                    bare = run
                else:
                    runs.append(run)
            lines += [f"## {s.title}", "", *header(key == "c"), *rows(s, runs, bare, key == "c"), ""]
            summary += targets(s, runs, bare)
            write(args.out, lines + ["## Targets (so far)", "", *summary, ""])
    if "c" in args.only:
        lines += ["torchattacks' DeepFool is left out: it takes the Jacobian of all 1000 classes "
                  "per image and step (1000 backward passes), which does not fit this budget.", ""]
    lines += ["## Targets", "", *summary, ""]
    print(write(args.out, lines))


def write(path: Path, lines: list[str]) -> str:
    text = "\n".join(lines)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return text


def targets(s: Setting, runs: list[Run], bare: Run | None) -> list[str]:
    """The issue's targets for one setting, met or not."""
    ours = next((r for r in runs if r.library == "hoodwink"), None)
    peers = [r for r in runs if r.library in ("torchattacks", "foolbox", "ART")]
    if ours is None or not peers:
        return []
    n = len(s.images)
    best_peer = max(float(r.success.float().mean()) for r in peers)
    fastest = min(r.seconds for r in peers) / n
    fastest_cpu = min(r.cpu for r in peers) / n
    ok = lambda b: "met" if b else "NOT met"  # noqa: E731
    out = [
        f"- {s.key}: success {pct(ours.success)} vs best peer {best_peer:.0%}: "
        f"{ok(float(ours.success.float().mean()) >= best_peer)}",
        f"- {s.key}: s / image {ours.seconds / n:.2f} vs 0.5 x fastest peer {0.5 * fastest:.2f}: "
        f"{ok(ours.seconds / n <= 0.5 * fastest)}; CPU s / image {ours.cpu / n:.2f} vs "
        f"{0.5 * fastest_cpu:.2f}: {ok(ours.cpu / n <= 0.5 * fastest_cpu)}",
        f"- {s.key}: saved PNGs that still fool {ours.png_fool[0]}/{ours.png_fool[1]}: "
        f"{ok(ours.png_fool[0] == ours.png_fool[1])}",
    ]
    if s.key == "c":
        medians = {r.library: statistics.median(r.l2[r.success].tolist()) if bool(r.success.any())
                   else math.inf
                   for r in runs}
        best = min(v for k, v in medians.items() if k != "hoodwink")
        out.append(f"- {s.key}: median L2 of successful 8-bit images {medians['hoodwink']:.3f} vs "
                   f"best peer {best:.3f}: {ok(medians['hoodwink'] <= best)} (smaller is better)")
    fixed = next((r for r in runs if r.library == "hoodwink, no early stop"), None)
    if fixed is not None and bare is not None:
        ratio, ratio_cpu = fixed.seconds / bare.seconds, fixed.cpu / bare.cpu
        out.append(f"- {s.key}: per-step overhead (no early stop, {s.steps} steps) "
                   f"{ratio:.2f}x the bare loop in wall time: {ok(ratio <= 1.1)}; "
                   f"{ratio_cpu:.2f}x in CPU time: {ok(ratio_cpu <= 1.1)}")
    return out


if __name__ == "__main__":
    main()
