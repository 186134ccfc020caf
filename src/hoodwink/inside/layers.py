"""The network as layers: a table of shapes and parameters, and activations caught by hooks.

Layers are named as ``model.net.named_modules()`` names them (``"_blocks.4"``,
``"_conv_stem"`` on EfficientNet-Lite; ``"0"``, ``"3"`` on the digits CNN). Every
hook is registered inside a ``with`` block and removed when it ends, even on an
error, so a model is never left with a hook on it (:func:`hook_count` checks).

Example:
    >>> import torch
    >>> from hoodwink.models import Classifier, Labels
    >>> net = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.ReLU(), torch.nn.Flatten(),
    ...                           torch.nn.Linear(4 * 6 * 6, 2))
    >>> model = Classifier(net, Labels.from_names(["a", "b"]), input_size=(8, 8), resize=None)
    >>> [row.name for row in layer_table(model)]
    ['0', '1', '2', '3']
    >>> activations(model, torch.rand(3, 8, 8), ["1"])["1"].shape
    torch.Size([1, 4, 6, 6])
    >>> hook_count(model)
    0
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from hoodwink.errors import HoodwinkError, ParameterError
from hoodwink.models.classifier import Classifier

#: Useful layers to look at, from early (edges, colours) to late (parts, objects).
DEFAULT_LAYERS: dict[str, tuple[str, ...]] = {
    "efficientnet-lite": ("_blocks.1", "_blocks.4", "_blocks.10", "_blocks.15"),
    "cnn": ("1", "4"),
}


class LayerNotFoundError(HoodwinkError, KeyError):
    """A layer name that the network does not have."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


@dataclass(frozen=True)
class LayerInfo:
    """One row of the layer table: what goes in, what comes out, and how many numbers it learned."""

    name: str
    kind: str
    input_shape: tuple[int, ...]
    output_shape: tuple[int, ...]
    parameters: int

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "kind": self.kind, "input_shape": list(self.input_shape),
                "output_shape": list(self.output_shape), "parameters": self.parameters}


def layer_names(model: Classifier) -> list[str]:
    """Every named module of ``model.net`` (the names :func:`find_layer` accepts)."""
    return [name for name, _ in model.net.named_modules() if name]


def find_layer(model: Classifier, name: str) -> nn.Module:
    """The module called ``name`` in ``model.net``.

    Raises:
        LayerNotFoundError: with the closest names ("did you mean ...").
    """
    modules: dict[str, nn.Module] = dict(model.net.named_modules())
    key = name.removeprefix("net.")
    if key and key in modules:
        return modules[key]
    close = difflib.get_close_matches(key, list(modules)[1:], n=3, cutoff=0.5)
    hint = f"; did you mean {', '.join(close)}?" if close else f"; try one of {', '.join(default_layers(model))}"
    raise LayerNotFoundError(f"no layer {name!r} in {model.name}{hint}")


def default_layers(model: Classifier) -> tuple[str, ...]:
    """A short list of layers worth looking at, early to late.

    Known networks have a hand-picked list (:data:`DEFAULT_LAYERS`); any other
    network gets up to four of its table's rows with feature maps, evenly spaced.
    """
    key = "efficientnet-lite" if model.name.startswith("efficientnet-lite") else str(
        model.metadata.get("arch", model.name))
    names = set(layer_names(model))
    known = DEFAULT_LAYERS.get(key, ())
    if known and all(n in names for n in known):
        return known
    maps = [row.name for row in layer_table(model) if len(row.output_shape) == 4]
    if len(maps) <= 4:
        return tuple(maps)
    return tuple(maps[round(i * (len(maps) - 1) / 3)] for i in range(4))


def hook_count(model: nn.Module) -> int:
    """How many forward (pre-)hooks are registered anywhere in ``model`` (0 after any function here)."""
    return sum(len(m._forward_hooks) + len(m._forward_pre_hooks) for m in model.modules())


def _rows(net: nn.Module, prefix: str = "") -> Iterator[tuple[str, nn.Module]]:
    """The table's modules: the net's children, with lists and dicts of modules opened up."""
    for name, child in net.named_children():
        full = f"{prefix}{name}"
        if isinstance(child, (nn.ModuleList, nn.ModuleDict)):
            yield from _rows(child, f"{full}.")
        else:
            yield full, child


def _shape(value: Any) -> tuple[int, ...]:
    if isinstance(value, (tuple, list)) and value:
        value = value[0]
    return tuple(value.shape) if isinstance(value, torch.Tensor) else ()


def layer_table(model: Classifier, image: torch.Tensor | None = None) -> tuple[LayerInfo, ...]:
    """The network as a table of layers, in the order they run, for one image.

    Args:
        model: the classifier; its ``net``'s children are the rows (lists of blocks are opened).
        image: (C, H, W) in [0, 1]; default a gray image of the model's input size.

    A module used twice (a shared activation) is listed where it first runs.
    """
    if image is None:
        image = torch.full((model.channels, *model.input_size), 0.5)
    rows = list(_rows(model.net))
    seen: dict[str, tuple[tuple[int, ...], tuple[int, ...]]] = {}

    def hook(name: str) -> Any:
        def record(module: nn.Module, args: Any, output: Any) -> None:
            seen.setdefault(name, (_shape(args), _shape(output)))
        return record

    handles = [module.register_forward_hook(hook(name)) for name, module in rows]
    try:
        with torch.no_grad():
            model(image.to(model.device).unsqueeze(0) if image.dim() == 3 else image.to(model.device))
    finally:
        for handle in handles:
            handle.remove()
    order = {name: k for k, name in enumerate(seen)}
    table = [LayerInfo(name, type(module).__name__, *seen[name],
                       sum(p.numel() for p in module.parameters()))
             for name, module in rows if name in seen]
    return tuple(sorted(table, key=lambda row: order[row.name]))


@contextmanager
def capture(model: Classifier, layers: Sequence[str], *, detach: bool = True) -> Iterator[dict[str, torch.Tensor]]:
    """Within the block, every forward pass stores each layer's output in the yielded dict.

    A module that runs more than once per pass keeps its first output. The hooks
    are removed when the block ends. With ``detach=False`` the outputs keep their
    graph, so a loss on them can be differentiated (DeepDream, style transfer).
    """
    if not layers:
        raise ParameterError("no layers to capture")
    modules = {name: find_layer(model, name) for name in layers}
    caught: dict[str, torch.Tensor] = {}

    def hook(name: str) -> Any:
        def record(module: nn.Module, args: Any, output: Any) -> None:
            if name not in caught and isinstance(output, torch.Tensor):
                caught[name] = output.detach() if detach else output
        return record

    handles = [module.register_forward_hook(hook(name)) for name, module in modules.items()]
    try:
        yield caught
    finally:
        for handle in handles:
            handle.remove()


class _Enough(Exception):
    """Raised by a hook to stop a forward pass once every wanted layer has run."""


def forward_to(model: Classifier, images: torch.Tensor, layers: Sequence[str]) -> dict[str, torch.Tensor]:
    """The outputs of ``layers`` for ``images`` (N, C, H, W) in [0, 1], with their graph.

    The images are normalised but not resized (any size a convolutional net takes),
    and the forward pass stops as soon as the last wanted layer has run, which makes
    DeepDream and style transfer on early layers cheaper.
    """
    wanted = list(dict.fromkeys(layers))
    modules = {name: find_layer(model, name) for name in wanted}
    caught: dict[str, torch.Tensor] = {}

    def hook(name: str) -> Any:
        def record(module: nn.Module, args: Any, output: Any) -> None:
            if name not in caught and isinstance(output, torch.Tensor):
                caught[name] = output
                if len(caught) == len(wanted):
                    raise _Enough
        return record

    handles = [module.register_forward_hook(hook(name)) for name, module in modules.items()]
    try:
        model.net(normalise(model, images))
    except _Enough:
        pass
    finally:
        for handle in handles:
            handle.remove()
    missing = [name for name in wanted if name not in caught]
    if missing:
        raise ParameterError(f"layers {', '.join(missing)} did not run in a forward pass")
    return caught


def normalise(model: Classifier, images: torch.Tensor) -> torch.Tensor:
    """Images (N, C, H, W) in [0, 1] as the net sees them: channels converted, normalised, any size."""
    if images.shape[1] == 3 and model.channels == 1:  # ITU-R 601-2 luma, as the wrapper does
        images = (images * images.new_tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)).sum(1, keepdim=True)
    elif images.shape[1] == 1 and model.channels == 3:
        images = images.expand(-1, 3, -1, -1)
    mean, std = model.mean, model.std
    return (images - mean) / std


def activations(model: Classifier, image: torch.Tensor, layers: Sequence[str]) -> dict[str, torch.Tensor]:
    """The outputs of ``layers`` (detached) for one (C, H, W) image or a batch, resized as the model does."""
    batch = image.unsqueeze(0) if image.dim() == 3 else image
    with capture(model, layers) as caught, torch.no_grad():
        model(batch.to(model.device))
    return {name: caught[name] for name in layers if name in caught}
