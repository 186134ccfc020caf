"""Look inside: the layer table, the feature maps of chosen layers, the channels that respond most.

"Inside a convnet, in the later layers, you can see better details" (Rosie
Campbell): early layers answer to edges and colours at every position, later
ones to parts and objects, on smaller and smaller maps. :func:`look_inside`
runs the image once with forward hooks on the chosen layers (removed afterwards)
and keeps, for each, the channels with the largest mean activation.

Example:
    >>> import torch
    >>> from hoodwink.models import Classifier, Labels
    >>> net = torch.nn.Sequential(torch.nn.Conv2d(3, 6, 3), torch.nn.ReLU(), torch.nn.Flatten(),
    ...                           torch.nn.Linear(6 * 6 * 6, 2))
    >>> model = Classifier(net, Labels.from_names(["a", "b"]), input_size=(8, 8), resize=None)
    >>> result = look_inside(model, torch.rand(3, 8, 8), layers=["1"], top=4)
    >>> result.layers[0].maps.shape, len(result.table)
    (torch.Size([4, 6, 6]), 4)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

from hoodwink.errors import ParameterError
from hoodwink.inside.conv import ConvolutionExplained, explain_convolution
from hoodwink.inside.layers import LayerInfo, activations, default_layers, find_layer, layer_table
from hoodwink.models.classifier import Classifier
from hoodwink.predict import Prediction, predict


@dataclass(frozen=True)
class LayerMaps:
    """The strongest feature maps of one layer for one image.

    Attributes:
        name: the layer's name in ``model.net``.
        shape: the layer's whole output shape for the image, e.g. (1, 40, 28, 28).
        channels: the ``top`` channels with the largest mean activation, strongest first.
        strength: their mean activations.
        maps: (top, H, W) their maps (empty (top, 0, 0) for a layer without spatial maps).
    """

    name: str
    shape: tuple[int, ...]
    channels: tuple[int, ...]
    strength: tuple[float, ...]
    maps: torch.Tensor = field(repr=False)

    def to_dict(self) -> dict[str, Any]:
        return {"layer": self.name, "shape": list(self.shape),
                "top_channels": [{"channel": c, "mean_activation": s}
                                 for c, s in zip(self.channels, self.strength)]}


@dataclass(frozen=True)
class InsideResult:
    """What :func:`look_inside` found: the table, the maps per layer, a convolution explained."""

    model: str
    image: torch.Tensor = field(repr=False)
    table: tuple[LayerInfo, ...]
    layers: tuple[LayerMaps, ...]
    convolution: ConvolutionExplained | None
    predictions: tuple[Prediction, ...]

    @property
    def parameters(self) -> int:
        return sum(row.parameters for row in self.table)

    def to_dict(self) -> dict[str, Any]:
        return {"model": self.model, "parameters": self.parameters,
                "predictions": [p.to_dict() for p in self.predictions],
                "table": [row.to_dict() for row in self.table],
                "layers": [layer.to_dict() for layer in self.layers],
                "convolution": self.convolution.to_dict() if self.convolution else None}


def layer_maps(model: Classifier, image: torch.Tensor, layers: Sequence[str], top: int = 8) -> tuple[LayerMaps, ...]:
    """The ``top`` strongest channels of each layer (mean activation over the map) for one image."""
    if top < 1:
        raise ParameterError(f"top must be at least 1, not {top}")
    for name in layers:
        find_layer(model, name)
    caught = activations(model, image, layers)
    result = []
    for name in layers:
        out = caught[name][0]
        shape = tuple(caught[name].shape)
        flat = out.reshape(out.shape[0], -1) if out.dim() >= 1 else out.reshape(1, 1)
        mean = flat.float().mean(1)
        k = min(top, mean.numel())
        strength, channels = mean.topk(k)
        maps = out[channels].float().cpu() if out.dim() == 3 else torch.zeros(k, 0, 0)
        result.append(LayerMaps(name, shape, tuple(int(c) for c in channels),
                                tuple(float(s) for s in strength), maps))
    return tuple(result)


def look_inside(model: Classifier, image: torch.Tensor, *, layers: Sequence[str] | None = None,
                top: int = 8, convolution: bool = True) -> InsideResult:
    """Everything ``hoodwink inside`` shows, for one (C, H, W) image in [0, 1].

    Args:
        layers: names in ``model.net`` (default :func:`~hoodwink.inside.layers.default_layers`).
        top: channels kept per layer.
        convolution: also explain the first convolution's strongest kernel on the image.
    """
    chosen = tuple(layers) if layers else default_layers(model)
    seen = model.prepare(image.to(model.device).unsqueeze(0))[0]
    conv = None
    if convolution and any(isinstance(m, torch.nn.Conv2d) for m in model.net.modules()):
        conv = explain_convolution(model, seen)
    return InsideResult(
        model=model.name, image=seen.detach().cpu(), table=layer_table(model, seen),
        layers=layer_maps(model, seen, chosen, top), convolution=conv,
        predictions=tuple(predict(model, seen, top=3)[0].predictions))
