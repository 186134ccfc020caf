"""Verification that is not the attack's own, and JPEG judging.

An EOT attack optimises against its own differentiable stand-ins (``grid_sample``,
a straight-through JPEG, torch noise) with its own seed; measuring survival with
the same code and the same draws would only measure how well it fitted them.
:func:`verify` draws fresh transformations from a separate seed stream
(:data:`~hoodwink.attacks.eot.VERIFY_STREAM`, and by default the seed after the
attack's) and applies them the way the world does: PIL resizes and rotates the
8-bit image, Pillow blurs it, numpy adds brightness and noise and rounds to 8
bits, Pillow's encoder saves it as JPEG at the drawn quality and decodes it. Then
the plain classifier (resize, crop, network) judges each copy.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from PIL import Image, ImageFilter
from torch import nn

from hoodwink.attacks.eot import (
    EOT,
    VERIFY_STREAM,
    Draws,
    FullSize,
    Transforms,
    decode_jpeg,
    draw,
    jpeg_bytes,
    parse_transforms,
)
from hoodwink.attacks.goals import Goal
from hoodwink.attacks.result import AttackResult
from hoodwink.errors import ParameterError
from hoodwink.models.classifier import model_input
from hoodwink.models.labels import Labels

#: Transformed copies kept per image for the figure.
KEEP = 8


def unwrap(model: Any) -> Any:
    """The plain classifier under EOT and full-size wrappers (what judges the real pipeline)."""
    while isinstance(model, (EOT, FullSize)):
        model = model.model
    return model


def real_transform(image: torch.Tensor, params: dict[str, float], transforms: Transforms) -> torch.Tensor:
    """One image (C, H, W) in [0, 1] through the real pipeline with drawn ``params``
    (a :meth:`Draws.row`): PIL resize (zoom about the centre) and rotate-with-shift
    (bicubic, black outside), Pillow's Gaussian blur, numpy brightness and Gaussian
    noise rounded to 8 bits, Pillow's JPEG at the drawn quality. Returns (C, H, W) on
    the 8-bit grid."""
    channels, height, width = image.shape
    pixels = torch.round(image.detach().float().clamp(0, 1) * 255).to(torch.uint8).cpu()
    array = pixels.permute(1, 2, 0).numpy()
    picture = Image.fromarray(array[:, :, 0] if channels == 1 else array,
                              mode="L" if channels == 1 else "RGB")
    if transforms.geometric:
        scale = params["scale"]
        if scale != 1.0:
            w2, h2 = max(1, round(width * scale)), max(1, round(height * scale))
            resized = picture.resize((w2, h2), Image.Resampling.BICUBIC)
            canvas = Image.new(picture.mode, (width, height))  # black where nothing is left
            canvas.paste(resized, ((width - w2) // 2, (height - h2) // 2))
            picture = canvas
        picture = picture.rotate(params["angle"], resample=Image.Resampling.BICUBIC,
                                 translate=(round(params["tx"] * width), round(params["ty"] * height)))
    if transforms.blur > 0 and params["blur"] > 0:
        picture = picture.filter(ImageFilter.GaussianBlur(radius=params["blur"]))
    values = np.asarray(picture, dtype=np.float64) / 255
    if transforms.brightness > 0:
        values = values + params["brightness"]
    if transforms.noise > 0:
        rng = np.random.default_rng(int(params["noise_seed"]))
        values = values + rng.normal(0.0, params["noise"], values.shape)
    values = np.clip(np.round(values * 255), 0, 255).astype(np.uint8)
    out = torch.from_numpy(values.copy()).float().div_(255)
    out = out[None] if out.dim() == 2 else out.permute(2, 0, 1)
    if transforms.jpeg is not None:
        out = decode_jpeg(jpeg_bytes(out, int(params["quality"])), channels)
    return out


@dataclass(frozen=True)
class Verification:
    """How many fresh real-world transformations still fool the model, per image.

    Attributes:
        transforms: what was drawn from; seed: the verification's own seed.
        goal: the attack's goal; goal_classes: (N,) its class per image.
        fooled: (N, S) bool, transformation j of image i still reaches the goal.
        top1: (N, S) long, the class the model saw in each copy.
        goal_probability: (N, S), p(goal class) in each copy.
        draws: the S drawn transformations of each image.
        examples: (N, k, C, h, w) the first k copies as the model saw them (for figures).
        names: the model's labels.
    """

    transforms: Transforms
    seed: int
    goal: Goal
    goal_classes: torch.Tensor
    fooled: torch.Tensor
    top1: torch.Tensor
    goal_probability: torch.Tensor
    draws: Draws
    examples: torch.Tensor
    names: Labels

    @property
    def fraction(self) -> torch.Tensor:
        """(N,) the fraction of transformations that still fool the model."""
        return self.fooled.float().mean(1)

    def __len__(self) -> int:
        return int(self.fooled.shape[0])

    def sample_dict(self, index: int = 0) -> dict[str, Any]:
        """One image's verification as JSON-ready data."""
        top1 = self.top1[index].tolist()
        counts: dict[str, int] = {}
        for c in top1:
            name = self.names.name(int(c))
            counts[name] = counts.get(name, 0) + 1
        return {"transformations": int(self.fooled.shape[1]), "robust_to": self.transforms.spec(),
                "seed": self.seed, "fraction": round(float(self.fraction[index]), 6),
                "fooled": int(self.fooled[index].sum()),
                "classes": dict(sorted(counts.items(), key=lambda kv: -kv[1])),
                "pipeline": "PIL resize/rotate/blur, numpy noise (8-bit), Pillow JPEG"}


def verify(model: Any, result: AttackResult, transforms: Transforms | str = "physical", *,
           samples: int = 100, seed: int | None = None, images: torch.Tensor | None = None,
           batch_size: int = 25, keep: int = KEEP) -> Verification:
    """Draw ``samples`` fresh transformations per image and count those that still fool.

    Args:
        model: the attacked model (EOT and full-size wrappers are taken off: the plain
            classifier judges, resizing whatever size it is given).
        result: the attack's result (its goal and goal classes).
        transforms: what to draw from (usually what the attack was robust to).
        samples: transformations per image.
        seed: the verification's seed; by default the attack's EOT seed plus one (or 1),
            and its draws come from their own stream, never the attack's.
        images: the images to verify (default ``result.adversarial``; the decoded JPEG
            when the output is a JPEG).
    """
    if isinstance(samples, bool) or not isinstance(samples, int) or samples < 1:
        raise ParameterError(f"--verify needs a positive number of transformations, not {samples!r}")
    transforms = parse_transforms(transforms)
    if seed is None:
        seed = int(getattr(model, "seed", 0)) + 1
    if isinstance(model, EOT) and seed == model.seed:
        raise ParameterError("verification must not reuse the attack's seed")
    plain = unwrap(model)
    images = result.adversarial if images is None else images
    n = int(images.shape[0])
    draws = draw(transforms, seed, VERIFY_STREAM, result.index.cpu(), samples)
    labels = result.goal_classes.to(images.device)
    fooled = torch.zeros(n, samples, dtype=torch.bool)
    top1 = torch.zeros(n, samples, dtype=torch.long)
    goal_p = torch.zeros(n, samples)
    keep = min(keep, samples)
    examples: list[torch.Tensor] = []
    for i in range(n):
        copies: list[torch.Tensor] = []
        for j in range(samples):
            copy = real_transform(images[i].cpu(), draws.row(i, j), transforms)
            copies.append(model_input(plain, copy)[0].cpu())  # the size the model sees
        stacked = torch.stack(copies)
        examples.append(stacked[:keep])
        for start in range(0, samples, batch_size):
            part = stacked[start : start + batch_size].to(images.device)
            probs = _batch_probabilities(plain, part)
            lab = labels[i].expand(len(part))
            fooled[i, start : start + len(part)] = result.goal.reached_probs(probs, lab).cpu()
            top1[i, start : start + len(part)] = probs.argmax(1).cpu()
            goal_p[i, start : start + len(part)] = probs[:, int(labels[i])].cpu()
    return Verification(transforms, seed, result.goal, result.goal_classes.cpu(), fooled, top1,
                        goal_p, draws, torch.stack(examples), result.names)


def judge_jpeg(model: Any, result: AttackResult, quality: int) -> AttackResult:
    """``result`` judged as it reads back from JPEG at ``quality``: the adversarial images
    are the decoded JPEGs, their probabilities and success those the plain classifier
    gives them (the 8-bit honesty rule for a lossy format). ``params["quality"]`` says so.

    The bytes are Pillow's, as :func:`hoodwink.images.save_image` writes them for a
    ``.jpg``, so the file on disk decodes to exactly these images.
    """
    if isinstance(quality, bool) or not isinstance(quality, int) or not 1 <= quality <= 100:
        raise ParameterError(f"--quality must be a whole number 1-100, not {quality!r}")
    plain = unwrap(model)
    channels = int(result.adversarial.shape[1])
    decoded = torch.stack([decode_jpeg(jpeg_bytes(x, quality), channels)
                           for x in result.adversarial.cpu()]).to(result.adversarial.device)
    probs = torch.cat([_probabilities(plain, decoded[i]) for i in range(len(decoded))])
    success = result.goal.reached_probs(probs, result.goal_classes.to(probs.device))
    return AttackResult.build(
        attack=result.attack, params={**result.params, "quality": quality}, threat=result.threat,
        goal=result.goal, names=result.names, original=result.original, adversarial=decoded,
        goal_classes=result.goal_classes, success=success.to(result.success.device),
        clean_probabilities=result.clean_probabilities,
        adversarial_probabilities=probs.to(result.adversarial_probabilities.device),
        forward=result.forward + 1, backward=result.backward, steps=result.steps,
        queries=result.queries + 1, index=result.index, trajectory=result.trajectory)



def _probabilities(model: Any, image: torch.Tensor) -> torch.Tensor:
    """(1, classes): what ``hoodwink predict`` says of one image of any size (the model's
    input at its size on the 8-bit grid); a query-only model is asked through an oracle."""
    prepared = model_input(model, image)
    if isinstance(model, nn.Module):
        with torch.no_grad():
            return model(prepared).float().softmax(1)  # type: ignore[no-any-return]
    from hoodwink.attacks.oracle import Oracle

    return Oracle(model, 1).probabilities(prepared, torch.zeros(1, dtype=torch.long))


def _batch_probabilities(model: Any, prepared: torch.Tensor) -> torch.Tensor:
    if isinstance(model, nn.Module):
        with torch.no_grad():
            return model(prepared).float().softmax(1)  # type: ignore[no-any-return]
    from hoodwink.attacks.oracle import Oracle

    n = int(prepared.shape[0])
    return Oracle(model, n).probabilities(prepared, torch.arange(n))
