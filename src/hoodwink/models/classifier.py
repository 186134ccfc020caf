"""The classifier wrapper: pixels in [0, 1] in, logits out.

Normalisation lives inside the wrapper, so attacks and explanations work in
pixel space. Resizing and cropping (:meth:`Classifier.prepare`) are part of the
wrapper too, but an image already at the model's input size is used as is: an
adversarial image saved at 224x224 is read back exactly as it was attacked.

Example:
    >>> import torch
    >>> net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3 * 8 * 8, 2))
    >>> model = Classifier(net, Labels.from_names(["cat", "dog"]), input_size=(8, 8))
    >>> model(torch.rand(4, 3, 8, 8)).shape
    torch.Size([4, 2])
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from hoodwink.errors import ParameterError
from hoodwink.models.labels import Labels


class Classifier(nn.Module):
    """Wrap any PyTorch classifier so that it takes images in [0, 1].

    Args:
        net: the network; takes normalised (N, C, H, W) tensors, returns logits.
        labels: the class names, in output order.
        input_size: (height, width) the network expects.
        mean, std: per-channel normalisation applied inside ``forward``.
        resize: shorter side before the centre crop, or None to resize straight
            to ``input_size``.
        channels: 3 for RGB, 1 for grayscale (RGB input is converted).
        interpolation: torch interpolation mode for resizing.
        name: registry name or a description, for reports.
    """

    mean: torch.Tensor
    std: torch.Tensor

    def __init__(
        self,
        net: nn.Module,
        labels: Labels,
        *,
        input_size: tuple[int, int] = (224, 224),
        mean: Sequence[float] = (0.5, 0.5, 0.5),
        std: Sequence[float] = (0.5, 0.5, 0.5),
        resize: int | None = 256,
        channels: int = 3,
        interpolation: str = "bicubic",
        name: str = "custom",
        metadata: dict[str, Any] | None = None,
    ) -> None:
        super().__init__()
        if channels not in (1, 3):
            raise ParameterError(f"channels must be 1 or 3, not {channels}")
        if len(mean) != channels or len(std) != channels:
            raise ParameterError(f"mean and std need {channels} values each")
        if any(s <= 0 for s in std):
            raise ParameterError("std must be positive")
        self.net = net
        self.labels = labels
        self.input_size = (int(input_size[0]), int(input_size[1]))
        self.resize = resize
        self.channels = channels
        self.interpolation = interpolation
        self.name = name
        self.metadata: dict[str, Any] = dict(metadata or {})
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).view(1, -1, 1, 1))
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32).view(1, -1, 1, 1))
        self.requires_grad_(False)
        self.eval()

    def train(self, mode: bool = True) -> Classifier:
        """Stay in eval mode unless the wrapped net is trained on purpose.

        Attacks and explanations must see the deterministic function; use
        ``classifier.net.train()`` to train the network itself.
        """
        return super().train(False)

    @property
    def device(self) -> torch.device:
        return self.mean.device

    @property
    def num_classes(self) -> int:
        return len(self.labels)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """Logits for images in [0, 1], shape (N, C, H, W), any size."""
        x = self.prepare(images)
        logits: torch.Tensor = self.net((x - self.mean) / self.std)
        return logits

    def prepare(self, images: torch.Tensor) -> torch.Tensor:
        """Geometry and colour only: resize, centre-crop and convert channels.

        An image already at ``input_size`` with the right channels is returned
        unchanged. The result is still in [0, 1] pixel space (float, not yet on
        the 8-bit grid: :func:`model_input` gives the image the model is asked about).
        """
        return resize_and_crop(images, self.input_size, self.resize, self.interpolation,
                               self.channels)

    def describe(self) -> dict[str, Any]:
        """Metadata to save beside the weights, or show to a user."""
        return {
            "name": self.name,
            "labels": [list(s) for s in self.labels.synonyms],
            "label_ids": list(self.labels.ids),
            "input_size": list(self.input_size),
            "mean": self.mean.flatten().tolist(),
            "std": self.std.flatten().tolist(),
            "resize": self.resize,
            "channels": self.channels,
            "interpolation": self.interpolation,
            **self.metadata,
        }


def resize_and_crop(images: torch.Tensor, input_size: tuple[int, int], resize: int | None,
                    interpolation: str = "bicubic", channels: int = 3) -> torch.Tensor:
    """(N, C, H, W) images in [0, 1] to ``input_size``: convert channels, resize the
    shorter side to ``resize`` (or straight to ``input_size`` when None), centre-crop."""
    if images.dim() == 3:
        images = images.unsqueeze(0)
    if images.dim() != 4:
        raise ParameterError(f"images must be (N, C, H, W), got shape {tuple(images.shape)}")
    images = _convert_channels(images, channels)
    if tuple(images.shape[-2:]) == tuple(input_size):
        return images
    height, width = images.shape[-2:]
    th, tw = input_size
    if resize is None:
        size = (th, tw)
    else:
        scale = resize / min(height, width)
        size = (max(th, round(height * scale)), max(tw, round(width * scale)))
    if size != (height, width):
        antialias = interpolation in ("bilinear", "bicubic")
        images = F.interpolate(
            images, size=size, mode=interpolation,
            align_corners=False if antialias else None, antialias=antialias,
        ).clamp(0, 1)
    top, left = (size[0] - th) // 2, (size[1] - tw) // 2
    return images[..., top : top + th, left : left + tw]


def _convert_channels(images: torch.Tensor, channels: int) -> torch.Tensor:
    c = images.shape[1]
    if c == channels:
        return images
    if channels == 1 and c == 3:  # ITU-R 601-2 luma, as Pillow's "L"
        weights = images.new_tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)
        return (images * weights).sum(1, keepdim=True)
    if channels == 3 and c == 1:
        return images.expand(-1, 3, -1, -1)
    raise ParameterError(f"images have {c} channels; the model wants {channels}")


def model_input(model: object, images: torch.Tensor) -> torch.Tensor:
    """The images the model is asked about: (N, C, H, W) at its input size, on the 8-bit grid.

    Every command asks about exactly this image for an input (predict, trick,
    attack, explain, the demo), so they all report the same clean
    probabilities, and it is the image that ``--out`` saves.

    Example:
        >>> import torch
        >>> net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3 * 8 * 8, 2))
        >>> model = Classifier(net, Labels.from_names(["cat", "dog"]), input_size=(8, 8))
        >>> x = model_input(model, torch.rand(3, 20, 30))
        >>> x.shape, bool((x * 255 == (x * 255).round()).all())
        (torch.Size([1, 3, 8, 8]), True)
    """
    if images.dim() == 3:
        images = images.unsqueeze(0)
    device = getattr(model, "device", None)
    if isinstance(device, torch.device):
        images = images.to(device)
    prepare = getattr(model, "prepare", None)
    prepared = prepare(images.detach().float()) if callable(prepare) else images.detach().float()
    return torch.round(prepared.clamp(0, 1) * 255) / 255
