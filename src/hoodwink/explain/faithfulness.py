"""Should you believe a map? Deletion/insertion scores and the model-randomisation check.

- :func:`deletion_insertion` (Petsiuk et al. 2018, "RISE"): remove the pixels
  in the map's order (replace them by a blurred copy of the image) and watch
  the class probability fall; insert them in that order onto the blurred copy
  and watch it rise. The areas
  under the two curves are ``deletion_auc`` (lower is better) and
  ``insertion_auc`` (higher is better). Compare with the ``random`` method.
  Deletion goes to a blur rather than to black (Petsiuk's choice) because black
  pixels scattered over a photo are a signal of their own that kills any class:
  with black, a random map deletes as well as Grad-CAM; with a blur it does not.
- :func:`randomisation_check` (Adebayo et al. 2018, "Sanity checks for
  saliency maps"): scramble the network's weights; a map that barely changes
  explains the image, not the model, and is flagged.

Example:
    >>> import torch
    >>> from hoodwink.models import wrap
    >>> net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3 * 8 * 8, 2))
    >>> model = wrap(net, ["cat", "dog"], input_size=(8, 8), mean=(0.5,) * 3, std=(0.5,) * 3, device="cpu")
    >>> x = torch.rand(1, 3, 8, 8)
    >>> [f.deletion_auc <= 1.0 for f in deletion_insertion(model, x, torch.rand(1, 8, 8), [0])]
    [True]
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from hoodwink.errors import ParameterError
from hoodwink.explain.registry import Method, register_method, seeded
from hoodwink.explain.result import Explanation, Faithfulness, SanityCheck
from hoodwink.models.classifier import Classifier


def blur(images: torch.Tensor, sigma: float) -> torch.Tensor:
    """Gaussian blur of (N, C, H, W) images with std ``sigma`` pixels (reflected edges)."""
    radius = max(1, int(3 * sigma))
    radius = min(radius, images.shape[-1] - 1, images.shape[-2] - 1)
    t = torch.arange(-radius, radius + 1, dtype=images.dtype, device=images.device)
    kernel = torch.exp(-0.5 * (t / sigma) ** 2)
    kernel = kernel / kernel.sum()
    c = images.shape[1]
    x = F.pad(images, (radius, radius, radius, radius), mode="reflect")
    x = F.conv2d(x, kernel.view(1, 1, 1, -1).expand(c, 1, 1, -1), groups=c)
    return F.conv2d(x, kernel.view(1, 1, -1, 1).expand(c, 1, -1, 1), groups=c)


def _ranks(saliency: torch.Tensor, seed: int) -> torch.Tensor:
    """Rank of every pixel in the map's order (0 = most important); ties in a seeded random order."""
    flat = saliency.flatten().float()
    generator = torch.Generator().manual_seed(seed)
    perm = torch.randperm(flat.numel(), generator=generator).to(flat.device)
    order = perm[torch.argsort(flat[perm], descending=True, stable=True)]
    ranks = torch.empty_like(order)
    ranks[order] = torch.arange(flat.numel(), device=flat.device)
    return ranks.view_as(saliency)


@torch.no_grad()
def deletion_insertion(
    model: Classifier,
    images: torch.Tensor,
    maps: torch.Tensor,
    targets: Sequence[int] | torch.Tensor,
    *,
    steps: int = 32,
    batch_size: int = 33,
    sigma: float | None = None,
    seed: int = 0,
) -> list[Faithfulness]:
    """Deletion and insertion curves and AUCs, one :class:`Faithfulness` per image.

    Args:
        model: the classifier.
        images: (N, C, H, W) prepared images in [0, 1].
        maps: (N, H, W) relevance, larger = more important.
        targets: the class of each image.
        steps: the curves have ``steps + 1`` points, ``1 / steps`` of the pixels apart;
            the cost is ``2 * (steps + 1)`` forward passes per image.
        batch_size: images per forward pass.
        sigma: blur of the deletion end and insertion start, in pixels (default 5 at 224 px, scaled
            with the image, as Petsiuk et al.).
        seed: order of pixels with equal relevance.
    """
    if steps < 1:
        raise ParameterError(f"steps must be at least 1, not {steps}")
    images = images.to(model.device).float()
    if maps.shape != (images.shape[0], *images.shape[-2:]):
        raise ParameterError(f"maps of shape {tuple(maps.shape)} do not match images {tuple(images.shape)}")
    targets = [int(t) for t in targets]
    height, width = images.shape[-2:]
    sigma = sigma if sigma is not None else max(0.5, 5.0 * min(height, width) / 224)
    starts = blur(images, sigma)
    fractions = torch.linspace(0, 1, steps + 1, device=images.device)
    thresholds = (fractions * height * width).round().view(-1, 1, 1, 1)
    out = []
    for image, start, saliency, target in zip(images, starts, maps, targets):
        keep = (_ranks(saliency.to(images.device), seed) < thresholds).float()  # (steps+1, 1, H, W)
        deleted = image * (1 - keep) + start * keep
        inserted = start * (1 - keep) + image * keep
        curves = []
        for batch in (deleted, inserted):
            probs = torch.cat([model(batch[i : i + batch_size]).float().softmax(-1)[:, target]
                               for i in range(0, len(batch), batch_size)])
            curves.append(probs.cpu())
        deletion, insertion = curves
        out.append(Faithfulness(
            deletion_auc=float(torch.trapezoid(deletion, dx=1.0 / steps)),
            insertion_auc=float(torch.trapezoid(insertion, dx=1.0 / steps)),
            deletion_curve=tuple(deletion.tolist()), insertion_curve=tuple(insertion.tolist()),
        ))
    return out


def with_faithfulness(model: Classifier, explanation: Explanation, *, steps: int = 32,
                      batch_size: int = 33) -> Explanation:
    """The explanation with its deletion/insertion scores filled in."""
    scores = deletion_insertion(model, explanation.images, explanation.maps, explanation.targets,
                                steps=steps, batch_size=batch_size)
    return dataclasses.replace(explanation, faithfulness=tuple(scores))


def scramble(model: Classifier, seed: int = 0) -> Classifier:
    """A copy of ``model`` whose conv and linear weights are randomly permuted (same values, no order).

    Permuting keeps every layer's weight distribution, so activations keep their
    scale, but destroys everything that training learned.
    """
    scrambled = copy.deepcopy(model)
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for param in scrambled.net.parameters():
            if param.dim() >= 2:
                perm = torch.randperm(param.numel(), generator=generator).to(param.device)
                param.copy_(param.flatten()[perm].view_as(param))
    return scrambled


def spearman(a: torch.Tensor, b: torch.Tensor) -> float:
    """Spearman rank correlation of two tensors of the same size."""
    ra = a.flatten().argsort().argsort().double()
    rb = b.flatten().argsort().argsort().double()
    ra, rb = ra - ra.mean(), rb - rb.mean()
    denominator = float(ra.norm() * rb.norm())
    return float((ra * rb).sum()) / denominator if denominator > 0 else 1.0


def randomisation_check(
    model: Classifier,
    method: Method,
    explanation: Explanation,
    *,
    threshold: float = 0.5,
    seed: int = 0,
) -> Explanation:
    """Adebayo et al.'s model-randomisation test: explain again with scrambled weights.

    Returns the explanation with ``sanity`` filled in: the Spearman correlation
    of the absolute maps before and after, and whether it stays below
    ``threshold`` (a method above it is flagged: its map is not about the model).
    """
    again = method.explain(scramble(model, seed), explanation.images, list(explanation.targets))
    checks = tuple(SanityCheck(spearman(before.abs(), after.abs()), threshold)
                   for before, after in zip(explanation.maps, again.maps))
    return dataclasses.replace(explanation, sanity=checks)


@register_method(
    "random",
    description="uniform noise: the baseline every faithfulness score must beat",
    reference="Petsiuk et al. 2018 (the random baseline of deletion/insertion)",
    stochastic=True,
)
@dataclass(frozen=True)
class RandomMap(Method):
    """A map of seeded uniform noise that ignores the model: any method must score better."""

    seed: int = 0

    def attribute(self, model: Classifier, images: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        out = []
        for image in images:
            with seeded(self.seed, images.device):
                out.append(torch.rand(1, 1, *image.shape[-2:], device=images.device))
        return torch.cat(out)
