"""Classifiers: the wrapper, the registry of networks, and class labels."""

from hoodwink.models.classifier import Classifier
from hoodwink.models.labels import Labels, imagenet_labels
from hoodwink.models.registry import (
    DEFAULT_MODEL,
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
