"""Digits lab: MNIST and image-folder datasets, the lecture's small networks, (adversarial) training.

Example:
    >>> from hoodwink.train import TrainConfig, load_dataset, save_trained, train
    >>> split = load_dataset("../shared/data/mnist")               # doctest: +SKIP
    >>> result = train("mlp", split, TrainConfig(epochs=5))         # doctest: +SKIP
    >>> save_trained(result, "mlp.safetensors")                     # doctest: +SKIP
"""

from hoodwink.train import loop, nets
from hoodwink.train.data import (
    DataError,
    DataSplit,
    ImageSet,
    download_mnist,
    export_pngs,
    load_dataset,
    load_image_folder,
    load_mnist,
    random_shift,
    read_idx,
    write_idx,
)
from hoodwink.train.loop import (
    ADVERSARIAL,
    EpochStats,
    TrainConfig,
    TrainResult,
    accuracy,
    build,
    fit,
    save_trained,
    train,
)

__all__ = [
    "ADVERSARIAL", "DataError", "DataSplit", "EpochStats", "ImageSet", "TrainConfig", "TrainResult",
    "accuracy", "build", "download_mnist", "export_pngs", "fit", "load_dataset", "load_image_folder",
    "load_mnist", "loop", "nets", "random_shift", "read_idx", "save_trained", "train", "write_idx",
]
