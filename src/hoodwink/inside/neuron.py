"""A neuron, then a layer of them: scores times importance, summed, through an activation.

Rosie Campbell's example ("Demystifying deep neural networks"): should I go to
the concert? Score each factor, multiply by how much it matters, add up, and go
if the sum passes 25. That is a neuron: ``activation(w . x + b)`` with the
threshold as a bias ``b = -25``; a step activation says yes or no, a sigmoid
says how sure, a ReLU says by how much. The lecture's digits network is ten
such neurons side by side: ``dense[j] = np.dot(input, W[:, j]) + b[j]`` for a
784-pixel input and a 784 x 10 weight matrix (:func:`dense_layer`).

Example:
    >>> n = concert()
    >>> n.total, n.go
    (33.5, True)
    >>> round(n.activations["sigmoid"], 3)
    1.0
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from hoodwink.errors import ParameterError
from hoodwink.models.classifier import Classifier

#: The concert: (factor, score out of 10, importance).
CONCERT: tuple[tuple[str, float, float], ...] = (
    ("my favourite band", 9.0, 2.0),
    ("friends are going", 6.0, 1.5),
    ("the weather", 3.0, 0.5),
    ("the ticket price", 5.0, 1.0),
)
#: Go if the weighted sum passes this.
THRESHOLD = 25.0


def step(z: float) -> float:
    """1 if ``z > 0`` else 0: yes or no."""
    return 1.0 if z > 0 else 0.0


def sigmoid(z: float) -> float:
    """A soft step between 0 and 1: how sure."""
    return 1.0 / (1.0 + math.exp(-z)) if z >= 0 else math.exp(z) / (1.0 + math.exp(z))


def relu(z: float) -> float:
    """``max(0, z)``: nothing below the threshold, then by how much (the popular one today)."""
    return max(0.0, z)


ACTIVATIONS = {"step": step, "sigmoid": sigmoid, "relu": relu}


@dataclass(frozen=True)
class Neuron:
    """One neuron's computation, every number kept.

    Attributes:
        factors: the inputs' names.
        scores: the inputs x.
        weights: their importance w.
        bias: ``-threshold``.
        products: ``x * w`` per input.
        total: ``sum(products)``.
        z: ``total + bias``, what goes into the activation.
        activations: ``{"step": ..., "sigmoid": ..., "relu": ...}`` of ``z``.
    """

    factors: tuple[str, ...]
    scores: tuple[float, ...]
    weights: tuple[float, ...]
    bias: float
    products: tuple[float, ...]
    total: float
    z: float
    activations: dict[str, float]

    @property
    def go(self) -> bool:
        """The step neuron's answer."""
        return self.activations["step"] > 0

    def to_dict(self) -> dict[str, Any]:
        return {"factors": [{"factor": f, "score": s, "importance": w, "product": p}
                            for f, s, w, p in zip(self.factors, self.scores, self.weights, self.products)],
                "total": self.total, "bias": self.bias, "z": self.z, "activations": dict(self.activations),
                "go": self.go}


def neuron(factors: Sequence[str], scores: Sequence[float], weights: Sequence[float],
           threshold: float) -> Neuron:
    """``activation(sum(score * weight) - threshold)`` for each activation, every step kept."""
    if not (len(factors) == len(scores) == len(weights)) or not factors:
        raise ParameterError("factors, scores and weights need the same (non-zero) length")
    products = tuple(float(s) * float(w) for s, w in zip(scores, weights))
    total = float(sum(products))
    z = total - float(threshold)
    return Neuron(tuple(factors), tuple(float(s) for s in scores), tuple(float(w) for w in weights),
                  -float(threshold), products, total, z, {k: f(z) for k, f in ACTIVATIONS.items()})


def concert(scores: Sequence[float] | None = None) -> Neuron:
    """Should I go to the concert? (:data:`CONCERT`, threshold :data:`THRESHOLD`)."""
    chosen = [s for _, s, _ in CONCERT] if scores is None else list(scores)
    return neuron([f for f, _, _ in CONCERT], chosen, [w for _, _, w in CONCERT], THRESHOLD)


@dataclass(frozen=True)
class DenseLayer:
    """The lecture's dense layer on one digit: ten dot products, then softmax.

    Attributes:
        image: (28, 28) the digit in [0, 1].
        input: (784,) the flattened digit.
        W: (784, 10) the weights (``W[:, j]`` is class j's template).
        b: (10,) the biases.
        dense: (10,) ``np.dot(input, W[:, j]) + b[j]`` for each j.
        logits: (10,) what the network itself computed (equal to ``dense``).
        probabilities: (10,) ``softmax(dense)``.
        classes: the class names.
        label: the true class, if known.
    """

    image: np.ndarray = field(repr=False)
    input: np.ndarray = field(repr=False)
    W: np.ndarray = field(repr=False)
    b: np.ndarray = field(repr=False)
    dense: np.ndarray = field(repr=False)
    logits: np.ndarray = field(repr=False)
    probabilities: np.ndarray = field(repr=False)
    classes: tuple[str, ...]
    label: int | None = None

    @property
    def predicted(self) -> int:
        return int(np.argmax(self.dense))

    def to_dict(self) -> dict[str, Any]:
        return {"dense": [float(v) for v in self.dense], "logits": [float(v) for v in self.logits],
                "probabilities": [float(v) for v in self.probabilities], "classes": list(self.classes),
                "predicted": self.classes[self.predicted],
                "label": None if self.label is None else self.classes[self.label],
                "max_difference": float(np.abs(self.dense - self.logits).max())}


def linear_layer(model: Classifier) -> nn.Linear:
    """The one ``nn.Linear`` of a linear classifier (``hoodwink train linear``)."""
    layers = [m for m in model.net.modules() if isinstance(m, nn.Linear)]
    others = [m for m in model.net.modules() if isinstance(m, (nn.Conv2d, nn.ReLU))]
    if len(layers) != 1 or others:
        raise ParameterError(f"{model.name} is not a linear classifier (one dense layer, no activation)")
    return layers[0]


def dense_layer(model: Classifier, image: torch.Tensor, label: int | None = None) -> DenseLayer:
    """The lecture's ``np.dot(input, W[:, j]) + b[j]``, ten times, on one digit, beside the network's own logits.

    Args:
        model: a trained linear digits classifier (raw pixels in, no normalisation).
        image: (1, 28, 28) or (28, 28) in [0, 1].
    """
    layer = linear_layer(model)
    if not (torch.all(model.mean == 0) and torch.all(model.std == 1)):
        raise ParameterError(f"{model.name} normalises its input; dense_layer explains a raw-pixel linear net")
    seen = model.prepare(image.reshape(1, 1, *image.shape[-2:]).to(model.device))
    x = seen.reshape(-1).detach().cpu().double().numpy()
    W = layer.weight.detach().cpu().double().numpy().T        # (784, 10), the lecture's layout
    b = layer.bias.detach().cpu().double().numpy() if layer.bias is not None else np.zeros(W.shape[1])
    if W.shape[0] != x.size:
        raise ParameterError(f"the dense layer takes {W.shape[0]} inputs; the image has {x.size} pixels")
    dense = np.array([np.dot(x, W[:, j]) + b[j] for j in range(W.shape[1])])
    with torch.no_grad():
        logits = model(seen)[0].double().cpu().numpy()
    e = np.exp(dense - dense.max())
    return DenseLayer(image=x.reshape(seen.shape[-2:]), input=x, W=W, b=b, dense=dense, logits=logits,
                      probabilities=e / e.sum(), classes=tuple(model.labels.names), label=label)
