"""Grad-CAM through Captum, with the target layer found automatically.

The layer is the last module whose output is a spatial (N, C, h, w) map with
h * w > 1, found by a dry forward pass with hooks. A module that runs more than
once per pass (a shared activation) qualifies only if that spatial output is
its last call, because Captum hooks a module's last call. On EfficientNet-Lite
that is ``_swish`` (the ReLU6 after the 7x7x1280 head, called last there); on
a user's CNN the last conv block's activation. Pass ``layer="dotted.name"`` to choose another.

Example:
    >>> import torch
    >>> from torch import nn
    >>> from hoodwink.models import wrap
    >>> net = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1),
    ...                     nn.Flatten(), nn.Linear(4, 2))
    >>> model = wrap(net, ["cat", "dog"], input_size=(8, 8), mean=(0.5,) * 3, std=(0.5,) * 3, device="cpu")
    >>> find_target_layer(model)
    '1'
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass

import torch
from captum.attr import LayerAttribution, LayerGradCam
from torch import nn

from hoodwink.errors import ParameterError
from hoodwink.explain.registry import Method, register_method
from hoodwink.models.classifier import Classifier


def find_target_layer(model: Classifier, images: torch.Tensor | None = None) -> str:
    """Dotted name (inside ``model.net``) of the last spatial layer before global pooling.

    Args:
        model: the classifier.
        images: an example batch for the dry run (default: one grey image).

    Raises:
        ParameterError: when the network has no such layer (a dense network).
    """
    if images is None:
        images = torch.full((1, model.channels, *model.input_size), 0.5, device=model.device)
    calls: list[tuple[str, tuple[int, ...]]] = []
    last: dict[str, int] = {}

    def hook(name: str) -> object:
        def record(module: nn.Module, inputs: object, output: object) -> None:
            last[name] = len(calls)
            calls.append((name, tuple(output.shape) if isinstance(output, torch.Tensor) else ()))
        return record

    handles = [m.register_forward_hook(hook(n)) for n, m in model.net.named_modules() if n]
    try:
        with torch.no_grad():
            model(model.prepare(images[:1]))
    finally:
        for h in handles:
            h.remove()
    for index in range(len(calls) - 1, -1, -1):
        name, shape = calls[index]
        if len(shape) == 4 and shape[2] * shape[3] > 1 and last[name] == index:
            return name
    raise ParameterError(
        "grad-cam found no convolutional layer with a spatial output in this network; "
        "use another method (saliency, occlusion, lime)"
    )


def resolve_layer(model: Classifier, name: str) -> nn.Module:
    """The module called ``name`` inside ``model.net`` (``net.`` prefix optional)."""
    modules = dict(model.net.named_modules())
    key = name.removeprefix("net.")
    if key in modules and key:
        module: nn.Module = modules[key]
        return module
    close = difflib.get_close_matches(key, [n for n in modules if n], n=3, cutoff=0.5)
    hint = f"; did you mean {', '.join(close)}?" if close else ""
    raise ParameterError(f"no layer {name!r} in {model.name}{hint}")


@register_method(
    "gradcam",
    description="class-weighted activations of the last convolutional layer, upsampled",
    reference="Selvaraju et al. 2017, Grad-CAM: Visual Explanations from Deep Networks",
)
@dataclass(frozen=True)
class GradCam(Method):
    """ReLU(sum_k mean(d logit / d A_k) * A_k) on ``layer``, bilinearly upsampled to the image.

    ``layer`` is a dotted module name inside ``model.net``; None finds it
    (:func:`find_target_layer`). ``relu=False`` keeps the negative evidence.
    """

    layer: str | None = None
    relu: bool = True

    def attribute(self, model: Classifier, images: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:

        name = self.layer or find_target_layer(model, images)
        cam = LayerGradCam(model, resolve_layer(model, name)).attribute(
            images, target=targets, relu_attributions=self.relu)
        if cam.dim() != 4:
            raise ParameterError(f"layer {name!r} has no spatial output (shape {tuple(cam.shape)})")
        upsampled: torch.Tensor = LayerAttribution.interpolate(
            cam, tuple(images.shape[-2:]), interpolate_mode="bilinear")
        return upsampled

    @property
    def signed(self) -> bool:  # type: ignore[override]
        return not self.relu
