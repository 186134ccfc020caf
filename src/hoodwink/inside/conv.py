"""What the "conv" in convnet does, on the image itself: one kernel, one patch, multiply and sum.

A convolution slides a small kernel (for EfficientNet-Lite's first layer, 3 x 3
weights for each of the 3 colour channels) over the image; at every position it
multiplies the kernel with the patch under it, adds the products and a bias,
and writes the sum to the output map. :func:`explain_convolution` does that sum
by hand at one position and takes the whole map from the layer itself (a
forward hook), so the two can be compared: the number by hand is the map's
value there (and ``torch.nn.functional.conv2d`` on the patch).

Example:
    >>> import torch
    >>> from hoodwink.models import Classifier, Labels
    >>> net = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3, padding=1), torch.nn.Flatten(),
    ...                           torch.nn.Linear(4 * 8 * 8, 2))
    >>> model = Classifier(net, Labels.from_names(["a", "b"]), input_size=(8, 8), resize=None)
    >>> c = explain_convolution(model, torch.rand(3, 8, 8))
    >>> abs(c.value - float(c.output[c.position])) < 1e-5
    True
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from hoodwink.errors import ParameterError
from hoodwink.inside.layers import find_layer, forward_to
from hoodwink.models.classifier import Classifier


@dataclass(frozen=True)
class ConvolutionExplained:
    """One output value of one convolution channel, computed by hand.

    Attributes:
        layer: the convolution's name in ``model.net``.
        channel: the output channel (kernel) explained.
        image: (C, H, W) the image the network saw, in [0, 1].
        kernel: (C_in, k, k) the kernel's weights.
        patch: (C_in, k, k) the layer's input under the kernel (normalised pixels
            for a first layer), padding included.
        bias: the kernel's bias (0.0 if none).
        value: ``(patch * kernel).sum() + bias``.
        output: (H', W') the channel's whole output map, as the layer computed it.
        position: (row, column) of ``value`` in ``output``.
        box: (top, left, height, width) of the patch on ``image`` (may reach into the padding).
        stride: the convolution's stride (rows, columns).
        patch_pixels: for a layer that takes the image itself, the patch in pixel space
            ([0, 1], zeros in the padding); None for deeper layers.
    """

    layer: str
    channel: int
    image: torch.Tensor = field(repr=False)
    kernel: torch.Tensor = field(repr=False)
    patch: torch.Tensor = field(repr=False)
    bias: float
    value: float
    output: torch.Tensor = field(repr=False)
    position: tuple[int, int]
    box: tuple[int, int, int, int]
    stride: tuple[int, int]
    patch_pixels: torch.Tensor | None = field(default=None, repr=False)

    @property
    def products(self) -> torch.Tensor:
        """(C_in, k, k) the kernel times the patch, element by element."""
        return self.kernel * self.patch

    def to_dict(self) -> dict[str, Any]:
        return {"layer": self.layer, "channel": self.channel, "kernel_shape": list(self.kernel.shape),
                "bias": self.bias, "value": self.value, "position": list(self.position),
                "box": list(self.box), "stride": list(self.stride),
                "map_value": float(self.output[self.position])}


def first_convolution(model: Classifier) -> str:
    """The name of the first ``nn.Conv2d`` in ``model.net``."""
    for name, module in model.net.named_modules():
        if isinstance(module, nn.Conv2d):
            return str(name)
    raise ParameterError(f"{model.name} has no convolution layer")


def _padded(module: nn.Conv2d, x: torch.Tensor) -> torch.Tensor:
    """The input as the kernel sees it: with the layer's own padding (zeros)."""
    static = getattr(module, "static_padding", None)  # EfficientNet's "same" padding module
    if isinstance(static, nn.Module):
        padded: torch.Tensor = static(x)
        return padded
    if module.padding_mode != "zeros":
        raise ParameterError(f"padding mode {module.padding_mode!r} is not explained (zeros only)")
    if isinstance(module.padding, str):
        raise ParameterError("string padding is not explained; use a layer with numeric padding")
    ph, pw = module.padding
    return F.pad(x, (pw, pw, ph, ph))


def explain_convolution(
    model: Classifier,
    image: torch.Tensor,
    *,
    layer: str | None = None,
    channel: int | None = None,
    position: tuple[int, int] | None = None,
) -> ConvolutionExplained:
    """Explain one kernel of a convolution layer on ``image``.

    Args:
        model: the classifier.
        image: (C, H, W) in [0, 1]; resized and cropped as the model does.
        layer: an ``nn.Conv2d`` in ``model.net``; default the first one.
        channel: the kernel; default an edge detector (its weights sum to about zero)
            whose map varies most over this image.
        position: (row, column) in the output map; default where the map is largest.

    Raises:
        ParameterError: for a layer that is not a convolution, or a channel or
            position outside it.
    """
    name = layer or first_convolution(model)
    module = find_layer(model, name)
    if not isinstance(module, nn.Conv2d):
        raise ParameterError(f"{name} is a {type(module).__name__}, not a convolution (nn.Conv2d)")
    if module.dilation != (1, 1):
        raise ParameterError(f"{name} is dilated; only plain convolutions are explained")
    seen = model.prepare(image.to(model.device).unsqueeze(0))
    inputs: list[torch.Tensor] = []
    pre = module.register_forward_pre_hook(lambda m, args: inputs.append(args[0].detach()))
    try:
        with torch.no_grad():
            maps = forward_to(model, seen, [name])[name][0]   # stops after the layer
    finally:
        pre.remove()
    x = inputs[0][0]
    if channel is None:  # an edge detector (weights summing to about 0) with the liveliest map
        weights = module.weight.detach().flatten(1)
        edges = weights.mean(1).abs() < 0.1 * weights.std(1)
        spread = maps.flatten(1).std(1)
        channel = int(torch.where(edges, spread, spread - spread.max() - 1).argmax())
    if not 0 <= channel < maps.shape[0]:
        raise ParameterError(f"{name} has {maps.shape[0]} channels; channel {channel} does not exist")
    out = maps[channel]
    if position is None:
        flat = int(out.argmax())
        position = (flat // out.shape[1], flat % out.shape[1])
    row, col = position
    if not (0 <= row < out.shape[0] and 0 <= col < out.shape[1]):
        raise ParameterError(f"position {position} is outside the {tuple(out.shape)} output map")
    kernel = module.weight[channel].detach()
    per_group = module.out_channels // module.groups
    group = channel // per_group
    k_in = kernel.shape[0]
    padded = _padded(module, x)[group * k_in : (group + 1) * k_in]
    (kh, kw), (sh, sw) = module.kernel_size, module.stride
    patch = padded[:, row * sh : row * sh + kh, col * sw : col * sw + kw]
    bias = float(module.bias[channel]) if module.bias is not None else 0.0
    value = float((patch * kernel).sum()) + bias
    offset_h = (padded.shape[1] - x.shape[1]) // 2 if padded.shape[1] != x.shape[1] else 0
    offset_w = (padded.shape[2] - x.shape[2]) // 2 if padded.shape[2] != x.shape[2] else 0
    static = getattr(module, "static_padding", None)
    if isinstance(static, nn.ZeroPad2d):
        offset_w, _, offset_h, _ = static.padding
    box = (row * sh - offset_h, col * sw - offset_w, kh, kw)
    pixels = None
    if x.shape == seen[0].shape and module.groups == 1:  # the layer sees the (normalised) image
        pixels = (patch * model.std[0] + model.mean[0]).clamp(0, 1)
        top, left = box[0], box[1]
        inside = torch.zeros(kh, kw, dtype=torch.bool, device=patch.device)
        inside[max(0, -top) : kh - max(0, top + kh - x.shape[1]),
               max(0, -left) : kw - max(0, left + kw - x.shape[2])] = True
        pixels = (pixels * inside).cpu()
    return ConvolutionExplained(
        layer=name, channel=channel, image=seen[0].detach().cpu(), kernel=kernel.cpu(),
        patch=patch.cpu(), bias=bias, value=value, output=out.cpu(), position=(row, col), box=box,
        stride=(sh, sw), patch_pixels=pixels)
