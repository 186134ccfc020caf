"""The gradient of log p(class) with respect to the pixels: which way each pixel must move.

The talk's ``compute_gradient(black, paper_towel)``: one forward and one
backward pass. :func:`hoodwink.viz.gradient.class_gradient_figure` draws it
(``hoodwink.viz.figure(result)`` does too, and Jupyter shows it inline).

Example:
    >>> import torch
    >>> from hoodwink import wrap
    >>> net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3 * 4 * 4, 2))
    >>> model = wrap(net, ["cat", "dog"], input_size=(4, 4), mean=(0, 0, 0), std=(1, 1, 1))
    >>> g = class_gradient(model, torch.zeros(3, 4, 4), "dog")
    >>> g.name, g.gradient.shape
    ('dog', torch.Size([3, 4, 4]))
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from hoodwink.errors import ParameterError
from hoodwink.models.classifier import Classifier


@dataclass(frozen=True)
class ClassGradient:
    """The gradient of log p(class) with respect to the pixels of one image.

    ``gradient`` has the image's shape (C, H, W) at the model's input size; a
    step along it makes the image more like ``name``.
    """

    image: torch.Tensor  #: (C, H, W) in [0, 1], at the model's input size
    gradient: torch.Tensor  #: (C, H, W), d log p(target) / d pixels
    target: int
    name: str
    probability: float  #: p(target) at ``image``


def class_gradient(model: Classifier, image: torch.Tensor, target: int | str) -> ClassGradient:
    """One forward and one backward pass: d log p(target) / d pixels for one image.

    Args:
        model: a :class:`~hoodwink.Classifier`.
        image: (C, H, W) or (1, C, H, W) in [0, 1], any size (prepared to the input size).
        target: class index or name (``"paper towel"``).
    """
    index = model.labels.find(target)
    x = model.prepare(image.to(model.device)).detach().clone()
    if x.shape[0] != 1:
        raise ParameterError(f"class_gradient takes one image, got a batch of {x.shape[0]}")
    with torch.enable_grad():
        x.requires_grad_(True)
        log_probs = model(x).float().log_softmax(-1)
        (grad,) = torch.autograd.grad(log_probs[0, index], x)
    return ClassGradient(x.detach()[0].cpu(), grad[0].detach().cpu(), index, model.labels.name(index),
                         float(log_probs[0, index].detach().exp()))
