"""Classifiers: the wrapper, the registry of networks, and class labels.

The names are imported from their modules on first use (:mod:`hoodwink.lazy`): the
command line can name ``DEFAULT_MODEL`` without importing torch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from hoodwink.lazy import exports

#: The network every command uses unless told otherwise.
DEFAULT_MODEL = "efficientnet-lite0"

if TYPE_CHECKING:
    from hoodwink.models.classifier import Classifier
    from hoodwink.models.labels import Labels, imagenet_labels
    from hoodwink.models.registry import (
        ModelInfo,
        list_models,
        load_model,
        load_state_dict,
        model_info,
        read_metadata,
        register_model,
        resolve_device,
        save_model,
        wrap,
    )

_REGISTRY = ("ModelInfo", "list_models", "load_model", "load_state_dict", "model_info",
             "read_metadata", "register_model", "resolve_device", "save_model", "wrap")
__getattr__, __dir__ = exports(__name__, {
    "Classifier": "hoodwink.models.classifier", "Labels": "hoodwink.models.labels",
    "imagenet_labels": "hoodwink.models.labels",
    **{name: "hoodwink.models.registry" for name in _REGISTRY}})

__all__ = [
    "DEFAULT_MODEL",
    "Classifier",
    "Labels",
    "ModelInfo",
    "imagenet_labels",
    "list_models",
    "load_model",
    "load_state_dict",
    "model_info",
    "read_metadata",
    "register_model",
    "resolve_device",
    "save_model",
    "wrap",
]
