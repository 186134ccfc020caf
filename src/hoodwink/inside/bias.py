"""It sees what it was trained to see: photos of things that are not among its classes.

Rosie Campbell's warning ("machines are neither infallible nor objective"): a
network can only answer with the classes it was trained on. ImageNet's 1000
classes have no person, no moon, no coin, no galaxy, no eye, so scikit-image's
photos of them are forced into the nearest class it knows, often with
confidence: the cameraman is a "tripod", the astronaut a "football helmet".
The softmax always sums to 1; "none of these" is not an answer it can give.

Example:
    >>> result = unseen(model)                         # doctest: +SKIP
    >>> result.photos[0].name, result.photos[0].predictions[0].name   # doctest: +SKIP
    ('camera', 'tripod')
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from hoodwink.errors import ParameterError
from hoodwink.models.classifier import Classifier
from hoodwink.predict import Prediction, predict

#: scikit-image photos of things that ImageNet-1k has no class for: (name, what it shows).
PHOTOS: tuple[tuple[str, str], ...] = (
    ("camera", "a man with a camera (no 'person' class)"),
    ("astronaut", "an astronaut (no 'person', no 'astronaut')"),
    ("moon", "the surface of the moon"),
    ("coins", "old coins (no 'coin' class)"),
    ("hubble_deep_field", "galaxies (Hubble deep field)"),
    ("retina", "a human retina (medical image)"),
)


@dataclass(frozen=True)
class UnseenPhoto:
    """One photo, what it really shows, and the classes the network forced it into."""

    name: str
    truth: str
    image: torch.Tensor = field(repr=False)
    predictions: tuple[Prediction, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"photo": self.name, "shows": self.truth, "predictions": [p.to_dict() for p in self.predictions]}


@dataclass(frozen=True)
class Unseen:
    """The photos and the network's answers."""

    model: str
    photos: tuple[UnseenPhoto, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"model": self.model, "photos": [p.to_dict() for p in self.photos]}


def skimage_photo(name: str) -> torch.Tensor:
    """A scikit-image sample (``skimage.data.NAME``) as (3, H, W) float in [0, 1]."""
    from skimage import data

    loader = getattr(data, name, None)
    if loader is None or name.startswith("_"):
        raise ParameterError(f"scikit-image has no sample photo {name!r}")
    array = np.asarray(loader(), dtype=np.float32)
    if array.max() > 1.0:
        array = array / 255.0
    tensor = torch.from_numpy(np.ascontiguousarray(array))
    if tensor.dim() == 2:
        tensor = tensor[None].expand(3, -1, -1)
    else:
        tensor = tensor.permute(2, 0, 1)[:3]
    return tensor.contiguous().clamp(0, 1)


def unseen(model: Classifier, photos: Sequence[tuple[str, str]] = PHOTOS, *, top: int = 3) -> Unseen:
    """Ask ``model`` about photos of things outside its classes (default :data:`PHOTOS`)."""
    result = []
    for name, truth in photos:
        image = model.prepare(skimage_photo(name).to(model.device))[0]
        result.append(UnseenPhoto(name, truth, image.cpu(), tuple(predict(model, image, top=top)[0].predictions)))
    return Unseen(model.name, tuple(result))
