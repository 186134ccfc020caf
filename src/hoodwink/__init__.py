"""hoodwink: trick an image classifier, show the trick in pictures, explain why it worked.

Example:
    >>> import hoodwink
    >>> model = hoodwink.load_model()                       # EfficientNet-Lite0, offline
    >>> hoodwink.predict(model, "chelsea")[0].top1.name     # doctest: +SKIP
    'tiger cat'
    >>> result = hoodwink.trick(model, "chelsea", into="vulture")          # doctest: +SKIP
"""

from hoodwink.attacks import AttackResult, trick
from hoodwink.errors import (
    ClassNotFoundError,
    HoodwinkError,
    ImageError,
    ModelError,
    ParameterError,
)
from hoodwink.images import load_image, load_images, quantize, save_image
from hoodwink.models import (
    Classifier,
    Labels,
    imagenet_labels,
    list_models,
    load_model,
    save_model,
    wrap,
)
from hoodwink.predict import ImagePredictions, Prediction, predict

__version__ = "0.1.0"

__all__ = [
    "AttackResult", "ClassNotFoundError", "Classifier", "HoodwinkError", "ImageError",
    "ImagePredictions", "Labels", "ModelError", "ParameterError", "Prediction", "__version__",
    "imagenet_labels", "list_models", "load_image", "load_images", "load_model", "predict",
    "quantize", "save_image", "save_model", "trick", "wrap",
]
