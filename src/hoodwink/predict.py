"""Ask the network: "is this a cat?"

Example:
    >>> model = load_model()                                  # doctest: +SKIP
    >>> predict(model, "chelsea", top=2)[0].predictions       # doctest: +SKIP
    (Prediction(index=282, name='tiger cat', probability=0.39...),
     Prediction(index=285, name='Egyptian cat', probability=0.35...))
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import torch

from hoodwink.errors import ParameterError
from hoodwink.images import ImageSource, NamedImage, load_images
from hoodwink.models.classifier import Classifier, model_input

if TYPE_CHECKING:
    from hoodwink.attacks.oracle import QueryModel


@dataclass(frozen=True)
class Prediction:
    """One class and its probability."""

    index: int
    name: str
    probability: float

    def to_dict(self) -> dict[str, Any]:
        return {"index": self.index, "name": self.name, "probability": self.probability}


@dataclass(frozen=True)
class ImagePredictions:
    """The top classes for one image, best first."""

    image: str
    predictions: tuple[Prediction, ...]

    @property
    def top1(self) -> Prediction:
        return self.predictions[0]

    def to_dict(self) -> dict[str, Any]:
        return {"image": self.image, "predictions": [p.to_dict() for p in self.predictions]}


def top_predictions(model: Classifier | QueryModel, probabilities: torch.Tensor, top: int) -> list[tuple[Prediction, ...]]:
    """Top-``top`` predictions for each row of a (N, classes) probability tensor."""
    values, indices = probabilities.detach().float().cpu().topk(min(top, probabilities.shape[-1]), dim=-1)
    return [
        tuple(Prediction(int(i), model.labels.name(int(i)), float(v)) for v, i in zip(vs, ids))
        for vs, ids in zip(values, indices)
    ]


@torch.no_grad()
def probabilities(model: Classifier | QueryModel, images: torch.Tensor | Sequence[torch.Tensor],
                  batch_size: int = 32) -> torch.Tensor:
    """Softmax probabilities (N, classes) for images of any sizes, in batches: the model is
    asked about each image at its input size on the 8-bit grid (:func:`model_input`), the
    image an attack starts from and ``--out`` saves. ``model`` may be query-only (ONNX,
    an HTTP API)."""
    if isinstance(images, torch.Tensor) and images.dim() == 3:
        images = images.unsqueeze(0)
    prepared = [model_input(model, img) for img in images]
    out = []
    for start in range(0, len(prepared), batch_size):
        batch = torch.cat(prepared[start : start + batch_size])
        out.append(_ask(model, batch).cpu())
    return torch.cat(out) if out else torch.empty(0, model.num_classes)


def _ask(model: Classifier | QueryModel, batch: torch.Tensor) -> torch.Tensor:
    """Probabilities of one batch; a query-only model is asked through the oracle (a
    label-only one answers its label with probability 1)."""
    from hoodwink.attacks.oracle import Oracle, QueryModel  # the attacks import this module

    if isinstance(model, QueryModel):
        oracle = Oracle(model, len(batch))
        rows = torch.arange(len(batch))
        if model.labels_only:
            labels = oracle.labels(batch, rows).cpu()
            return torch.nn.functional.one_hot(labels, model.num_classes).float()
        return oracle.probabilities(batch, rows)
    logits: torch.Tensor = model(batch)
    return logits.float().softmax(-1)


def predict(
    model: Classifier | QueryModel,
    images: ImageSource | Sequence[ImageSource] | Sequence[NamedImage],
    *,
    top: int = 5,
    batch_size: int = 32,
) -> list[ImagePredictions]:
    """Top-``top`` classes for each image (paths, URLs, arrays, tensors, samples).

    A directory stands for every image in it. Images are resized and cropped
    as the model expects, then run in batches of ``batch_size``.
    """
    if top < 1:
        raise ParameterError(f"top must be at least 1, not {top}")
    if batch_size < 1:
        raise ParameterError(f"batch_size must be at least 1, not {batch_size}")
    named = _as_named(images)
    probs = probabilities(model, [n.pixels for n in named], batch_size=batch_size)
    return [ImagePredictions(n.name, preds)
            for n, preds in zip(named, top_predictions(model, probs, top))]


def _as_named(images: ImageSource | Sequence[ImageSource] | Sequence[NamedImage]) -> list[NamedImage]:
    if isinstance(images, (list, tuple)) and images and all(isinstance(i, NamedImage) for i in images):
        return [i for i in images if isinstance(i, NamedImage)]
    return load_images(images)  # type: ignore[arg-type]
