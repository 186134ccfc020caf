"""The demo's "survives the world" chapter: the cat -> vulture trick without and with EOT.

Each adversarial cat is shown as posted (the PNG), rotated, zoomed out and saved as
a JPEG, through the real pipeline (PIL, Pillow's JPEG), with what the network says
of each copy; then 100 fresh random transformations of the ``physical`` kind count
how often each trick still says vulture.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from hoodwink.attacks.eot import parse_transforms
from hoodwink.attacks.result import AttackResult
from hoodwink.images import load_image
from hoodwink.models.classifier import model_input
from hoodwink.physical.verify import real_transform, verify

#: The copies shown: (column title, transforms, drawn parameters).
_SHOWN: tuple[tuple[str, str, dict[str, float]], ...] = (
    ("as saved", "none", {}),
    ("rotated 15 degrees", "rotate:15", {"angle": 15.0}),
    ("zoomed out to 0.85", "scale:0.85", {"scale": 0.85}),
    ("JPEG quality 75", "jpeg:75", {"quality": 75.0}),
)
_NEUTRAL = {"angle": 0.0, "scale": 1.0, "tx": 0.0, "ty": 0.0, "brightness": 0.0, "noise": 0.0,
            "blur": 0.0, "quality": 95.0, "noise_seed": 0.0}


def world_chapter(model: Any, picture: Callable[..., Any], *, photo: str = "chelsea",
                  target: str = "vulture", eps: float = 16 / 255, steps: int = 10,
                  samples: int = 4, checks: int = 100, seed: int = 0) -> tuple[str, tuple[Any, ...]]:
    """The chapter's text and pictures (``picture(fig, name, alt, caption)`` saves one)."""
    from hoodwink.attacks.trick import trick
    from hoodwink.viz.physical import world_figure

    cat = model_input(model, load_image(photo))[0]
    plain = trick(model, cat, into=target, attack="pgd", eps=eps, steps=steps, step_size=2 / 255,
                  seed=seed, random_start=False)
    robust = trick(model, cat, into=target, attack="pgd", eps=eps, steps=steps, step_size=2 / 255,
                   seed=seed, random_start=False, robust_to="physical", eot_samples=samples)
    rows, fractions = [], []
    for result in (plain, robust):
        copies = [real_transform(result.adversarial[0].cpu(), {**_NEUTRAL, **params},
                                 parse_transforms(spec)) for _, spec, params in _SHOWN]
        with torch.no_grad():
            probs = model(torch.stack([model_input(model, c)[0] for c in copies]).to(
                result.adversarial.device)).softmax(1)
        rows.append((torch.stack(copies), probs.cpu()))
        check = verify(model, result, "physical", samples=checks, seed=seed + 1)
        fractions.append(float(check.fraction[0]))
    goal = int(plain.goal_classes[0])
    name = plain.names.name(goal)
    labels = (f"plain PGD: {_pct(fractions[0])} of {checks}",
              f"EOT (K={samples}): {_pct(fractions[1])} of {checks}")
    fig = world_figure([r[0] for r in rows], [r[1] for r in rows], goal, plain.names,
                       row_labels=labels, column_labels=[c[0] for c in _SHOWN])
    caption = (f"The cat tricked into {name} at {round(eps * 255)}/255, {steps} steps of PGD, "
               f"without EOT (top: {_said(plain)}) and with EOT over the physical transformations, "
               f"{samples} per step (bottom: {_said(robust)}). Each copy went through PIL or "
               f"Pillow's JPEG, the way the world would change it; green: still {name}. Of {checks} "
               f"fresh random rotations, zooms, shifts, blurs, noise and JPEG compressions (a seed "
               f"the attack never saw), {_pct(fractions[0])} of the plain trick's copies and "
               f"{_pct(fractions[1])} of the EOT trick's still say {name}.")
    text = (f"A trick that lives in exact pixels dies when the picture is turned a few degrees, "
            f"resized or saved as a JPEG. Expectation over transformation (Athalye et al. 2018, "
            f"the 3D-printed turtle that is a rifle from every angle) averages each step's gradient "
            f"over random transformations, so the trick survives them: "
            f"`hoodwink trick cat.jpg --into {name} --eps 16/255 --robust-to physical --full-size "
            f"--out cat-{name}.jpg --verify 100`.")
    pic = picture(fig, f"world-{name}", f"the {name} trick without and with EOT, transformed",
                  caption)
    return text, (pic,)


def _pct(value: float) -> str:
    return f"{value:.0%}"


def _said(result: AttackResult) -> str:
    p = result.adversarial_probabilities[0]
    top = int(p.argmax())
    return f"{result.names.name(top)} {float(p[top]):.0%}"
