"""The digits networks from the lecture, registered as models you train yourself.

* ``linear``: a linear softmax classifier, 784 -> 10 (one weight template per digit);
* ``mlp``: the 2-layer dense net, 784 -> 512 ReLU -> 10;
* ``cnn``: a small convolutional net (two 5x5 conv + max-pool blocks, one hidden
  dense layer), in the spirit of Madry et al. (2018)'s MNIST network but smaller.

They take 1-channel 28x28 images in [0, 1] (RGB input is converted to luma by the
classifier wrapper), normalise with MNIST's mean and std (``linear`` works on raw
pixels so that its weights are its templates), and name their classes
"0" to "9". None has bundled weights: ``hoodwink train mlp --data DIR --out
mlp.safetensors`` makes a file that ``load_model("mlp.safetensors")`` reads.

Example:
    >>> from hoodwink.models import model_info
    >>> model = model_info("mlp").build(pretrained=False, device="cpu")
    >>> model.labels.name(3), model.input_size, model.channels
    ('3', (28, 28), 1)
"""

from __future__ import annotations

from torch import nn

from hoodwink.models.labels import Labels
from hoodwink.models.registry import register_model
from hoodwink.validate import check_int

MNIST_MEAN = (0.1307,)
MNIST_STD = (0.3081,)
INPUT_SIZE = (28, 28)
PIXELS = INPUT_SIZE[0] * INPUT_SIZE[1]


def digit_labels() -> Labels:
    """Classes "0" to "9"."""
    return Labels.from_names(str(i) for i in range(10))


_COMMON: dict[str, object] = {
    "labels": digit_labels, "input_size": INPUT_SIZE, "mean": MNIST_MEAN, "std": MNIST_STD,
    "resize": None, "channels": 1, "interpolation": "bilinear", "bundled": False,
}


def _positive(**values: int) -> None:
    for name, value in values.items():
        check_int(name, value)


@register_model("linear", description="linear softmax classifier, 784 -> 10",
                **{**_COMMON, "mean": (0.0,), "std": (1.0,)})
def linear(pretrained: bool = False, classes: int = 10) -> nn.Module:
    """One weight template per class: logits = W x + b, on raw pixels, starting from zero.

    No normalisation and a zero start keep the templates clean pictures: a pixel that
    is black in every training image never gets a weight.
    """
    _positive(classes=classes)
    layer = nn.Linear(PIXELS, classes)
    nn.init.zeros_(layer.weight)
    nn.init.zeros_(layer.bias)
    return nn.Sequential(nn.Flatten(), layer)


@register_model("mlp", description="2-layer dense net, 784 -> 512 ReLU -> 10",
                **_COMMON)
def mlp(pretrained: bool = False, hidden: int = 512, classes: int = 10) -> nn.Module:
    """The lecture's 2-layer dense network."""
    _positive(hidden=hidden, classes=classes)
    return nn.Sequential(nn.Flatten(), nn.Linear(PIXELS, hidden), nn.ReLU(), nn.Linear(hidden, classes))


@register_model("cnn", description="small CNN: 2x (5x5 conv, ReLU, max-pool), dense 128, 10", **_COMMON)
def cnn(pretrained: bool = False, width: int = 32, hidden: int = 128, classes: int = 10) -> nn.Module:
    """conv(1->width) pool conv(width->2*width) pool dense(hidden) dense(classes)."""
    _positive(width=width, hidden=hidden, classes=classes)
    return nn.Sequential(
        nn.Conv2d(1, width, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(width, 2 * width, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(2 * width * (INPUT_SIZE[0] // 4) * (INPUT_SIZE[1] // 4), hidden), nn.ReLU(),
        nn.Linear(hidden, classes),
    )


ARCHITECTURES = ("linear", "mlp", "cnn")
