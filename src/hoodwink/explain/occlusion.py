"""Occlusion through Captum: slide a grey square and watch the class probability drop.

Example:
    >>> import torch
    >>> from hoodwink.models import wrap
    >>> net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3 * 16 * 16, 2))
    >>> model = wrap(net, ["cat", "dog"], input_size=(16, 16), mean=(0.5,) * 3, std=(0.5,) * 3, device="cpu")
    >>> Occlusion(window=4).explain(model, torch.rand(1, 3, 16, 16)).maps.shape
    torch.Size([1, 16, 16])
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from captum.attr import Occlusion as CaptumOcclusion

from hoodwink.explain.registry import Method, register_method
from hoodwink.models.classifier import Classifier
from hoodwink.validate import check_int


@register_method(
    "occlusion",
    description="drop in the class probability when a grey square hides each region",
    reference="Zeiler and Fergus 2014, Visualizing and Understanding Convolutional Networks",
)
@dataclass(frozen=True)
class Occlusion(Method):
    """p(target | x) - p(target | x with a ``window`` square set to ``baseline``), averaged per pixel.

    ``window`` defaults to a seventh of the image side (32 px at 224) and
    ``stride`` to half the window: 169 forward passes at 224x224.
    """

    window: int | None = None
    stride: int | None = None
    baseline: float = 0.5

    signed = True

    def __post_init__(self) -> None:
        super().__post_init__()
        for name in ("window", "stride"):
            value = getattr(self, name)
            if value is not None:
                check_int(f"occlusion: {name}", value)

    def attribute(self, model: Classifier, images: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:

        channels, height, width = images.shape[1:]
        window = min(self.window or max(2, min(height, width) // 7), height, width)
        stride = self.stride or max(1, window // 2)
        attributions: torch.Tensor = CaptumOcclusion(lambda x: model(x).softmax(-1)).attribute(
            images, sliding_window_shapes=(channels, window, window), strides=(channels, stride, stride),
            baselines=self.baseline, target=targets,
            perturbations_per_eval=max(1, self.batch_size // len(images)),
        )
        return attributions
