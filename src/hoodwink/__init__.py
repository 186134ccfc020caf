"""hoodwink: trick an image classifier, show the trick in pictures, explain why it worked.

Example:
    >>> import hoodwink
    >>> model = hoodwink.load_model()                       # EfficientNet-Lite0, offline
    >>> hoodwink.predict(model, "chelsea")[0].top1.name     # doctest: +SKIP
    'tiger cat'
    >>> result = hoodwink.trick(model, "chelsea", into="vulture")          # doctest: +SKIP
"""

from __future__ import annotations

import sys
import types
from typing import TYPE_CHECKING, Any

from hoodwink.lazy import exports

if TYPE_CHECKING:
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

#: Where each public name lives; imported on first use (PEP 562), so ``import hoodwink``
#: and the command line's start do not pay for torch until a name needs it.
_HOME = {
    "AttackResult": "hoodwink.attacks", "trick": "hoodwink.attacks",
    "ClassNotFoundError": "hoodwink.errors", "HoodwinkError": "hoodwink.errors",
    "ImageError": "hoodwink.errors", "ModelError": "hoodwink.errors",
    "ParameterError": "hoodwink.errors",
    "load_image": "hoodwink.images", "load_images": "hoodwink.images",
    "quantize": "hoodwink.images", "save_image": "hoodwink.images",
    "Classifier": "hoodwink.models", "Labels": "hoodwink.models",
    "imagenet_labels": "hoodwink.models", "list_models": "hoodwink.models",
    "load_model": "hoodwink.models", "save_model": "hoodwink.models", "wrap": "hoodwink.models",
    "ImagePredictions": "hoodwink.predict", "Prediction": "hoodwink.predict",
    "predict": "hoodwink.predict",
}


__getattr__, __dir__ = exports(__name__, _HOME)


class _Package(types.ModuleType):
    """``hoodwink.predict`` stays the function when its module, also ``hoodwink.predict``,
    is imported (the import system would set the package's attribute to the module)."""

    def __setattr__(self, name: str, value: Any) -> None:
        if name == "predict" and isinstance(value, types.ModuleType):
            value = value.predict
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package


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
