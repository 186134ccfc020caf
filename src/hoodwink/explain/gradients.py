"""Gradient methods through Captum: saliency, SmoothGrad, integrated gradients.

All three explain the target class's logit with respect to the pixels in
[0, 1] (normalisation is inside the classifier).

Example:
    >>> import torch
    >>> from hoodwink.models import wrap
    >>> net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3 * 8 * 8, 2))
    >>> model = wrap(net, ["cat", "dog"], input_size=(8, 8), mean=(0.5,) * 3, std=(0.5,) * 3, device="cpu")
    >>> Saliency().explain(model, torch.rand(2, 3, 8, 8), target="dog").maps.shape
    torch.Size([2, 8, 8])
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from captum.attr import IntegratedGradients as CaptumIG
from captum.attr import NoiseTunnel
from captum.attr import Saliency as CaptumSaliency

from hoodwink.explain.registry import Method, register_method, seeded
from hoodwink.models.classifier import Classifier
from hoodwink.validate import check_float


@register_method(
    "saliency",
    description="absolute gradient of the class score (the talk's compute_gradient)",
    reference="Simonyan et al. 2014, Deep Inside Convolutional Networks",
)
@dataclass(frozen=True)
class Saliency(Method):
    """|d logit_target / d pixel|, the largest over the colour channels (one backward pass)."""

    def attribute(self, model: Classifier, images: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:

        grads: torch.Tensor = CaptumSaliency(model).attribute(
            images.clone().requires_grad_(True), target=targets, abs=True)
        return grads


@register_method(
    "smoothgrad",
    description="saliency averaged over noisy copies of the image",
    reference="Smilkov et al. 2017, SmoothGrad: removing noise by adding noise",
    stochastic=True,
)
@dataclass(frozen=True)
class SmoothGrad(Method):
    """Mean |gradient| over ``samples`` copies with Gaussian noise of std ``noise`` (pixels in [0, 1]).

    Each image draws its noise from ``seed`` on its own, so its map does not
    depend on the batch it is in.
    """

    samples: int = 16
    noise: float = 0.15
    seed: int = 0

    def __post_init__(self) -> None:
        super().__post_init__()
        check_float("smoothgrad: noise", self.noise, low=0.0)

    def attribute(self, model: Classifier, images: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:

        tunnel = NoiseTunnel(CaptumSaliency(model))
        out = []
        for image, target in zip(images, targets):
            with seeded(self.seed, images.device):
                out.append(tunnel.attribute(
                    image[None].clone().requires_grad_(True), nt_type="smoothgrad",
                    nt_samples=self.samples, nt_samples_batch_size=self.batch_size,
                    stdevs=self.noise, target=int(target), abs=True,
                ))
        return torch.cat(out)


@register_method(
    "integrated-gradients",
    description="gradients integrated along the straight path from a black image",
    reference="Sundararajan et al. 2017, Axiomatic Attribution for Deep Networks",
)
@dataclass(frozen=True)
class IntegratedGradients(Method):
    """(x - baseline) * mean gradient on the path baseline -> x, ``steps`` points (Gauss-Legendre).

    Completeness: the attributions of an image sum to logit(x) - logit(baseline),
    up to the integration error. ``batch_size`` bounds how many path points go
    through the network at once, so memory stays bounded whatever ``steps``.
    """

    steps: int = 32
    baseline: float = 0.0

    def attribute(self, model: Classifier, images: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:

        attributions: torch.Tensor = CaptumIG(model).attribute(
            images, baselines=self.baseline, target=targets, n_steps=self.steps,
            internal_batch_size=self.batch_size,
        )
        return attributions

    signed = True
