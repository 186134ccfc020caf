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


def _show_results_in_jupyter() -> None:
    """In IPython or Jupyter, results display as their pictures (drawn by ``hoodwink.viz``, lazily)."""
    import sys

    if "IPython" in sys.modules:
        from hoodwink.viz import install_jupyter

        install_jupyter()


_show_results_in_jupyter()

__all__ = [
    "AttackResult", "ClassNotFoundError", "Classifier", "HoodwinkError", "ImageError",
    "ImagePredictions", "Labels", "ModelError", "ParameterError", "Prediction", "__version__",
    "imagenet_labels", "list_models", "load_image", "load_images", "load_model", "predict",
    "quantize", "save_image", "save_model", "trick", "wrap",
]
