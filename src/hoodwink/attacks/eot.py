"""Tricks that survive the world: expectation over transformation and full-size photos.

**EOT** (Athalye, Engstrom, Ilyas and Kwok 2018, "Synthesizing robust adversarial
examples") makes an image adversarial for a *distribution* of transformations
(rotation, scale, translation, brightness, noise, blur, JPEG) by descending the
loss averaged over K random transformations at every step. Here it is a wrapper
of the model oracle (:class:`EOT`), so every gradient attack gets it without a
line of its own: the gradient an attack asks for is the mean of K gradients
through K transformed copies (K forward and K backward passes counted per
sample), while the logits that judge success stay the plain deterministic
forward of the untransformed image (one query).

Transformations are a small grammar (:func:`parse_transforms`)::

    rotate:22.5,scale:0.9-1.4,translate:0.1,brightness:0.05,noise:0.02,blur:1.0,jpeg:70-95

``physical`` names exactly that; ``none`` is the identity. Every draw is seeded
by (seed, the sample's draw count, the sample's global index), so a sharded
dataset gets the same transformations as a whole one. The transforms are
differentiable: one affine resampling (``grid_sample``) for rotation, scale and
translation, a Gaussian blur, additive brightness and noise, and JPEG through
Pillow's real encoder with a straight-through gradient (BPDA, Athalye, Carlini and
Wagner 2018) or kornia's differentiable JPEG (``jpeg_backend="kornia"``, the
``physical`` extra); a transformed copy is rounded to 8 bits (straight-through).

**Full size** (:class:`FullSize`): the attack runs on the photo at its own
resolution; the model's resize and centre crop are part of the differentiable
forward, so the saved full-size image, read back through the normal pipeline,
is what was judged.

Example:
    >>> model = hoodwink.load_model()                                     # doctest: +SKIP
    >>> robust = EOT(FullSize(model), parse_transforms("physical"), samples=4)  # doctest: +SKIP
    >>> trick(robust, "chelsea", into="vulture", eps="16/255")            # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import io
import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

from hoodwink.attacks.engine import mix_seed
from hoodwink.attacks.oracle import Evaluation, LossFn, Oracle
from hoodwink.errors import ParameterError
from hoodwink.models.classifier import _convert_channels

#: Named sets of transformations for ``--robust-to``.
PRESETS: dict[str, str] = {
    "physical": "rotate:22.5,scale:0.9-1.4,translate:0.1,brightness:0.05,noise:0.02,blur:1.0,"
                "jpeg:70-95",
    "jpeg": "jpeg:70-95",
    "geometry": "rotate:22.5,scale:0.9-1.4,translate:0.1",
    "none": "",
}

_NAMES = ("rotate", "scale", "translate", "brightness", "noise", "blur", "jpeg")

#: EOT batches its K copies when K * the images' values stay below this (else one at a time).
BATCH_VALUES = 1 << 24

#: The ``run`` part of the seed of verification draws (attacks use 0, 1, ... for restarts).
VERIFY_STREAM = 1 << 20


@dataclass(frozen=True)
class Transforms:
    """A distribution of transformations: each one drawn uniformly in its range.

    Attributes:
        rotate: largest angle in degrees (drawn in [-rotate, rotate]).
        scale: (low, high) zoom about the centre (1.2 shows the middle 1/1.2).
        translate: largest shift, a fraction of the width and of the height.
        brightness: largest change added to every pixel (pixel units).
        noise: largest standard deviation of Gaussian pixel noise.
        blur: largest Gaussian blur sigma, in pixels of the image.
        jpeg: (low, high) JPEG quality, or None for no JPEG.
    """

    rotate: float = 0.0
    scale: tuple[float, float] = (1.0, 1.0)
    translate: float = 0.0
    brightness: float = 0.0
    noise: float = 0.0
    blur: float = 0.0
    jpeg: tuple[int, int] | None = None

    def __post_init__(self) -> None:
        for name in ("rotate", "translate", "brightness", "noise", "blur"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0):
                raise ParameterError(f"{name} must be a non-negative number, not {value}")
        if self.rotate > 180:
            raise ParameterError(f"rotate is at most 180 degrees, not {self.rotate}")
        if self.translate > 1:
            raise ParameterError(f"translate is a fraction of the image (at most 1), not {self.translate}")
        lo, hi = self.scale
        if not (math.isfinite(lo) and math.isfinite(hi) and 0 < lo <= hi <= 10):
            raise ParameterError(f"scale must be a range inside (0, 10], not {lo}-{hi}")
        if self.jpeg is not None:
            qlo, qhi = self.jpeg
            if not (1 <= qlo <= qhi <= 100):
                raise ParameterError(f"jpeg quality must be a range inside 1-100, not {qlo}-{qhi}")

    @property
    def identity(self) -> bool:
        """True when every draw is the identity transformation."""
        return self == Transforms()

    @property
    def geometric(self) -> bool:
        return self.rotate > 0 or self.scale != (1.0, 1.0) or self.translate > 0

    def spec(self) -> str:
        """The grammar's text of these transforms (``parse_transforms(t.spec()) == t``)."""
        parts = []
        for name in _NAMES:
            value = getattr(self, name)
            if value == getattr(Transforms(), name):
                continue
            if isinstance(value, tuple):
                lo, hi = value
                parts.append(f"{name}:{_num(lo)}" if lo == hi else f"{name}:{_num(lo)}-{_num(hi)}")
            else:
                parts.append(f"{name}:{_num(value)}")
        return ",".join(parts) or "none"

    def sample(self, generator: torch.Generator, k: int) -> Draws:
        """``k`` transformations drawn with ``generator`` (CPU), as (1, k) tensors."""
        def uniform(lo: float, hi: float) -> torch.Tensor:
            return lo + (hi - lo) * torch.rand(k, generator=generator, dtype=torch.float64)

        angle = uniform(-self.rotate, self.rotate)
        scale = uniform(*self.scale)
        tx = uniform(-self.translate, self.translate)
        ty = uniform(-self.translate, self.translate)
        brightness = uniform(-self.brightness, self.brightness)
        noise = uniform(0.0, self.noise)
        blur = uniform(0.0, self.blur)
        qlo, qhi = self.jpeg if self.jpeg is not None else (0, 0)
        quality = torch.randint(qlo, qhi + 1, (k,), generator=generator)
        noise_seed = torch.randint(0, 1 << 62, (k,), generator=generator)
        return Draws(*(t[None] for t in (angle, scale, tx, ty, brightness, noise, blur, quality,
                                          noise_seed)))


def _num(value: float) -> str:
    return f"{value:g}"


@dataclass(frozen=True)
class Draws:
    """Drawn transformation parameters, tensors (n, k): sample i, transformation j."""

    angle: torch.Tensor
    scale: torch.Tensor
    tx: torch.Tensor
    ty: torch.Tensor
    brightness: torch.Tensor
    noise: torch.Tensor
    blur: torch.Tensor
    quality: torch.Tensor
    noise_seed: torch.Tensor

    @staticmethod
    def stack(parts: list[Draws]) -> Draws:
        """The draws of several samples, one above the other."""
        return Draws(*(torch.cat([getattr(p, f.name) for p in parts])
                       for f in dataclasses.fields(Draws)))

    def column(self, j: int) -> Draws:
        """Transformation ``j`` of every sample, as (n, 1) tensors."""
        return Draws(*(getattr(self, f.name)[:, j : j + 1] for f in dataclasses.fields(Draws)))

    def row(self, i: int, j: int) -> dict[str, float]:
        """Sample ``i``'s transformation ``j`` by name (for reports and the PIL pipeline)."""
        return {f.name: float(getattr(self, f.name)[i, j]) for f in dataclasses.fields(Draws)}

    def __len__(self) -> int:
        return int(self.angle.shape[0])

    @property
    def samples(self) -> int:
        return int(self.angle.shape[1])


def draw(transforms: Transforms, seed: int, run: int, index: torch.Tensor, k: int) -> Draws:
    """``k`` transformations for each sample, seeded by (``seed``, ``run``, its global index)."""
    return Draws.stack([transforms.sample(torch.Generator().manual_seed(mix_seed(seed, run, int(i))), k)
                        for i in index.tolist()])


def parse_transforms(text: str | Transforms) -> Transforms:
    """Transforms from the ``--robust-to`` grammar: comma-separated ``name:value`` or
    ``name:low-high`` items and preset names (``physical``, ``jpeg``, ``geometry``,
    ``none``); a later item overrides an earlier one.

    Example:
        >>> parse_transforms("physical,jpeg:50-60").jpeg
        (50, 60)
        >>> parse_transforms("rotate:10,scale:0.8-1.2").spec()
        'rotate:10,scale:0.8-1.2'
        >>> parse_transforms("spin:3")
        Traceback (most recent call last):
        ...
        hoodwink.errors.ParameterError: unknown transformation 'spin' in --robust-to: use rotate, scale, translate, brightness, noise, blur, jpeg or a preset (physical, jpeg, geometry, none)
    """
    if isinstance(text, Transforms):
        return text
    values: dict[str, Any] = {}
    for item in _expand(str(text)):
        name, sep, value = item.partition(":")
        name = name.strip().lower()
        if name not in _NAMES:
            raise ParameterError(
                f"unknown transformation {name!r} in --robust-to: use {', '.join(_NAMES)} or a "
                f"preset ({', '.join(PRESETS)})")
        if not sep or not value.strip():
            raise ParameterError(f"--robust-to {name} needs a value, e.g. {name}:{_EXAMPLES[name]}")
        lo, hi = _range(name, value.strip())
        if name in ("scale", "jpeg"):
            if name == "jpeg" and (lo != int(lo) or hi != int(hi)):
                raise ParameterError(f"jpeg quality must be whole numbers, not {value}")
            values[name] = (int(lo), int(hi)) if name == "jpeg" else (lo, hi)
        else:
            if lo != hi:
                raise ParameterError(f"--robust-to {name} takes one largest value (drawn in "
                                     f"[-{name}, {name}] or [0, {name}]), not a range {value}")
            values[name] = lo
    return Transforms(**values)


_EXAMPLES = {"rotate": "22.5", "scale": "0.9-1.4", "translate": "0.1", "brightness": "0.05",
             "noise": "0.02", "blur": "1.0", "jpeg": "70-95"}


def _expand(text: str) -> Iterator[str]:
    for raw in text.split(","):
        item = raw.strip()
        if not item:
            continue
        if item.lower() in PRESETS:
            yield from _expand(PRESETS[item.lower()])
        else:
            yield item


def _range(name: str, value: str) -> tuple[float, float]:
    try:
        if "-" in value[1:]:
            cut = value.index("-", 1)
            lo, hi = float(value[:cut]), float(value[cut + 1 :])
        else:
            lo = hi = float(value)
    except ValueError:
        raise ParameterError(f"--robust-to {name}:{value}: not a number or a range like "
                             f"{_EXAMPLES[name]}") from None
    if not (math.isfinite(lo) and math.isfinite(hi)) or lo > hi:
        raise ParameterError(f"--robust-to {name}:{value}: not a range low-high")
    return lo, hi


# --- the differentiable transformations ----------------------------------------------

def affine_matrix(draws: Draws, height: int, width: int) -> torch.Tensor:
    """(n, 2, 3) float64: for every output pixel (x, y, pixels from the centre) the
    input pixel ``A @ (x, y) + b`` it shows: rotate by ``angle`` degrees, zoom by
    ``scale`` about the centre, shift by (tx * width, ty * height)."""
    a = torch.deg2rad(draws.angle[:, 0])
    s = draws.scale[:, 0]
    cos, sin = torch.cos(a) / s, torch.sin(a) / s
    # inverse of: u -> s R(a) u + t, R(a) = [[cos, -sin], [sin, cos]] (y points down)
    inv = torch.stack([torch.stack([cos, sin], 1), torch.stack([-sin, cos], 1)], 1)  # R(-a)/s
    t = torch.stack([draws.tx[:, 0] * width, draws.ty[:, 0] * height], 1)
    b = -(inv @ t[:, :, None])[:, :, 0]
    return torch.cat([inv, b[:, :, None]], 2)


def _geometry(images: torch.Tensor, draws: Draws) -> torch.Tensor:
    n, _, h, w = images.shape
    m = affine_matrix(draws, h, w)
    # pixels from the centre -> grid_sample's [-1, 1] (align_corners=False)
    d = torch.tensor([w / 2, h / 2], dtype=torch.float64)
    theta = torch.empty(n, 2, 3, dtype=torch.float64)
    theta[:, :, :2] = m[:, :, :2] * d[None, None, :] / d[None, :, None]
    theta[:, :, 2] = m[:, :, 2] / d[None, :]
    grid = F.affine_grid(theta.to(images), [n, 1, h, w], align_corners=False)
    return F.grid_sample(images, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def gaussian_kernels(sigma: torch.Tensor, radius: int) -> torch.Tensor:
    """(n, 2 * radius + 1) normalised 1-D Gaussian kernels (a delta where sigma is 0)."""
    x = torch.arange(-radius, radius + 1, dtype=torch.float64)
    s = sigma.double().clamp_min(1e-3)[:, None]
    k = torch.exp(-(x[None] ** 2) / (2 * s * s))
    return k / k.sum(1, keepdim=True)


def _blur(images: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
    n, c, h, w = images.shape
    radius = min(math.ceil(3 * float(sigma.max())), (min(h, w) - 1) // 2)
    if radius < 1:
        return images
    k = gaussian_kernels(sigma, radius).to(images).repeat_interleave(c, 0)  # (n * c, size)
    x = images.reshape(1, n * c, h, w)
    x = F.pad(x, (radius, radius, 0, 0), mode="reflect")
    x = F.conv2d(x, k[:, None, None, :], groups=n * c)
    x = F.pad(x, (0, 0, radius, radius), mode="reflect")
    x = F.conv2d(x, k[:, None, :, None], groups=n * c)
    return x.reshape(n, c, h, w)


def _noise(images: torch.Tensor, draws: Draws) -> torch.Tensor:
    fields = [torch.randn(images.shape[1:], generator=torch.Generator().manual_seed(int(s)))
              * float(std) for s, std in zip(draws.noise_seed[:, 0], draws.noise[:, 0])]
    return images + torch.stack(fields).to(images)


def jpeg_pillow(images: torch.Tensor, quality: torch.Tensor) -> torch.Tensor:
    """Each image (N, C, H, W) in [0, 1] through Pillow's JPEG encoder and decoder at its
    ``quality`` (N,), with 4:2:0 chroma subsampling as Pillow saves by default."""
    out = torch.empty_like(images)
    for i, q in enumerate(quality.tolist()):
        out[i] = jpeg_roundtrip(images[i], int(q)).to(images)
    return out


def jpeg_bytes(image: torch.Tensor, quality: int) -> bytes:
    """One image (C, H, W) in [0, 1] as JPEG bytes at ``quality`` (Pillow, 8-bit)."""
    pixels = torch.round(image.detach().float().clamp(0, 1) * 255).to(torch.uint8)
    array = pixels.permute(1, 2, 0).cpu().numpy()
    picture = Image.fromarray(array[:, :, 0] if array.shape[2] == 1 else array)
    buffer = io.BytesIO()
    picture.save(buffer, format="JPEG", quality=int(quality))
    return buffer.getvalue()


def decode_jpeg(data: bytes, channels: int = 3) -> torch.Tensor:
    """JPEG bytes back to (C, H, W) float in [0, 1] on the 8-bit grid."""
    with Image.open(io.BytesIO(data)) as picture:
        array = np.asarray(picture.convert("RGB" if channels == 3 else "L"), dtype=np.uint8)
    tensor = torch.from_numpy(array.copy()).float().div_(255)
    return tensor.permute(2, 0, 1) if tensor.dim() == 3 else tensor[None]


def jpeg_roundtrip(image: torch.Tensor, quality: int) -> torch.Tensor:
    """One image (C, H, W) as it reads back after being saved as JPEG at ``quality``."""
    return decode_jpeg(jpeg_bytes(image, quality), int(image.shape[0]))


def _jpeg(images: torch.Tensor, quality: torch.Tensor, backend: str) -> torch.Tensor:
    if backend == "kornia":
        from kornia.enhance import jpeg_codec_differentiable

        h, w = images.shape[-2:]
        ph, pw = -h % 16, -w % 16  # kornia codes whole 16x16 blocks
        x = F.pad(images, (0, pw, 0, ph), mode="replicate") if ph or pw else images
        y = jpeg_codec_differentiable(x, quality.to(images))
        return y[..., :h, :w]
    # BPDA: Pillow's real codec forward, the identity backward
    real = jpeg_pillow(images.detach(), quality)
    return images + (real - images).detach()


def transform(images: torch.Tensor, draws: Draws, transforms: Transforms,
              jpeg_backend: str = "pillow") -> torch.Tensor:
    """Images (n, C, H, W) in [0, 1] under transformation 0 of ``draws`` (n, 1),
    differentiably: geometry, blur, brightness, noise, JPEG, 8-bit rounding.

    The identity transformation returns ``images`` itself.
    """
    if transforms.identity:
        return images
    x = images
    if transforms.geometric:
        x = _geometry(x, draws)
    if transforms.blur > 0:
        x = _blur(x, draws.blur[:, 0])
    if transforms.brightness > 0:
        x = x + draws.brightness.to(x)[:, :, None, None]
    if transforms.noise > 0:
        x = _noise(x, draws)
    x = x.clamp(0, 1)
    if transforms.jpeg is not None:
        x = _jpeg(x, draws.quality[:, 0], jpeg_backend)
    return x + (torch.round(x * 255) / 255 - x).detach()


# --- EOT: a wrapper of the model oracle ------------------------------------------------

class _Delegates:
    """What the attack template asks of a model, read from the wrapped ``self.model``."""

    model: Any

    @property
    def labels(self) -> Any:
        return getattr(self.model, "labels", None)

    @property
    def device(self) -> torch.device:
        device = getattr(self.model, "device", None)
        return device if isinstance(device, torch.device) else torch.device("cpu")

    @property
    def num_classes(self) -> Any:
        return getattr(self.model, "num_classes", None)

    @property
    def name(self) -> str:
        return str(getattr(self.model, "name", type(self.model).__name__))


class _ModelProxy(_Delegates):
    """A wrapper that passes everything else through to the wrapped model too."""

    def __init__(self, model: Any) -> None:
        if not isinstance(model, nn.Module):
            raise ParameterError("EOT and full-size attacks need a white-box PyTorch model")
        self.model = model

    def prepare(self, images: torch.Tensor) -> torch.Tensor:
        prepare = getattr(self.model, "prepare", None)
        return prepare(images) if callable(prepare) else images

    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.model(images)
        return out

    def __getattr__(self, name: str) -> Any:  # input_size, resize, metadata, describe, ...
        if name == "model":
            raise AttributeError(name)
        return getattr(self.model, name)


class EOT(_ModelProxy):
    """Expectation over transformation for every gradient attack (a model wrapper).

    Args:
        model: a white-box model (a :class:`~hoodwink.models.Classifier`, or a
            :class:`FullSize` one).
        transforms: a :class:`Transforms` or its ``--robust-to`` text.
        samples: K, the transformations averaged per gradient (K forward and K
            backward passes per sample and step).
        seed: seeds the draws with each sample's global index and draw count.
        jpeg_backend: ``"pillow"`` (the real codec, straight-through gradient) or
            ``"kornia"`` (its differentiable JPEG; ``pip install hoodwink[physical]``).

    Example:
        >>> import torch
        >>> net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3 * 8 * 8, 2))
        >>> robust = EOT(net, "rotate:10,noise:0.01", samples=3)
        >>> oracle = robust.oracle(2)
        >>> x = torch.rand(2, 3, 8, 8)
        >>> g = oracle.evaluate(x, torch.arange(2), grad=True).gradient(lambda z: z[:, 0])
        >>> g.shape, oracle.forward.tolist(), oracle.backward.tolist(), oracle.queries.tolist()
        (torch.Size([2, 3, 8, 8]), [4, 4], [3, 3], [1, 1])
    """

    def __init__(self, model: Any, transforms: Transforms | str = "physical", *,
                 samples: int = 4, seed: int = 0, jpeg_backend: str = "pillow") -> None:
        super().__init__(model)
        if isinstance(samples, bool) or not isinstance(samples, int) or samples < 1:
            raise ParameterError(f"samples must be a positive integer, not {samples!r}")
        if jpeg_backend not in ("pillow", "kornia"):
            raise ParameterError(f"jpeg_backend must be 'pillow' or 'kornia', not {jpeg_backend!r}")
        if jpeg_backend == "kornia":
            try:
                import kornia  # noqa: F401
            except ImportError:
                raise ParameterError("jpeg_backend='kornia' needs kornia: pip install "
                                     "'hoodwink[physical]'") from None
        self.transforms = parse_transforms(transforms)
        self.samples = samples
        self.seed = int(seed)
        self.jpeg_backend = jpeg_backend

    def oracle(self, n: int, *, queries: int | None = None) -> EOTOracle:
        """The attack template's door to the model for ``n`` samples."""
        return EOTOracle(self, n, queries=queries)

    def params(self) -> dict[str, Any]:
        """What a report should say about the EOT."""
        return {"robust_to": self.transforms.spec(), "eot_samples": self.samples,
                "eot_seed": self.seed}


class EOTOracle(Oracle):
    """An :class:`Oracle` whose gradients are averaged over K random transformations.

    Attributes:
        draws: (N,) long, how many gradients each sample has drawn transformations for
            (the second part of a draw's seed).
        history: when a list, every :class:`Draws` used is appended (tests, reports).
    """

    def __init__(self, eot: EOT, n: int, *, queries: int | None = None) -> None:
        super().__init__(eot.model, n, queries=queries, device=eot.device)
        self.eot = eot
        self.draws = torch.zeros(n, dtype=torch.long)
        self.history: list[Draws] | None = None

    def view(self, start: int, stop: int) -> Oracle:
        out = super().view(start, stop)
        assert isinstance(out, EOTOracle)
        out.draws = self.draws[start:stop]
        return out

    def evaluate(self, images: torch.Tensor, rows: torch.Tensor, *,
                 grad: bool = False) -> Evaluation:
        """The plain logits of ``images`` (one query, one forward pass); with ``grad``,
        :meth:`Evaluation.gradient` averages K transformed gradients."""
        if not grad:
            return super().evaluate(images, rows)
        self._charge(rows)
        return _EOTEvaluation(self, rows, self._logits(images), images)

    def sample(self, rows: torch.Tensor) -> Draws:
        """The next K transformations of samples ``rows`` (each sample's count moves on)."""
        cpu_rows = rows.cpu()
        counts, index = self.draws[cpu_rows], self.index.cpu()[cpu_rows]
        eot = self.eot
        parts = [eot.transforms.sample(torch.Generator().manual_seed(
            mix_seed(eot.seed, int(c), int(i))), eot.samples) for c, i in zip(counts, index)]
        self.draws[cpu_rows] += 1
        draws = Draws.stack(parts)
        if self.history is not None:
            self.history.append(draws)
        return draws


class _EOTEvaluation(Evaluation):
    def __init__(self, oracle: EOTOracle, rows: torch.Tensor, logits: torch.Tensor,
                 images: torch.Tensor) -> None:
        super().__init__(oracle, rows, logits, None, None)
        self._eot_oracle = oracle
        self._images = images.detach()
        self._draws: Draws | None = None

    def gradient(self, loss: LossFn, *, retain: bool = False) -> torch.Tensor:
        """The mean over K transformations of d loss / d images (N, C, H, W); counts K
        forward and K backward passes per sample. Calls on one evaluation (``retain``)
        reuse its transformations."""
        oracle, rows = self._eot_oracle, self._rows
        if self._draws is None:
            self._draws = oracle.sample(rows)
        eot, model = oracle.eot, oracle.model
        assert isinstance(model, nn.Module)
        k = eot.samples
        if k > 1 and not eot.transforms.identity and self._images.numel() * k <= BATCH_VALUES:
            # small images: the K copies in one batch (one forward and one backward call)
            with torch.enable_grad():
                leaf = self._images.requires_grad_(True)
                copies = torch.cat([transform(leaf, self._draws.column(j), eot.transforms,
                                              eot.jpeg_backend) for j in range(k)])
                outs = model(copies).float().chunk(k)
                value = sum(loss(out).sum() for out in outs)
                (grad,) = torch.autograd.grad(value, leaf)  # type: ignore[arg-type]
            oracle.forward[rows] += k
            oracle.backward[rows] += k
            return grad / k
        total = torch.zeros_like(self._images, dtype=torch.float64)
        for j in range(eot.samples):
            with torch.enable_grad():
                leaf = self._images.requires_grad_(True)
                out = model(transform(leaf, self._draws.column(j), eot.transforms,
                                      eot.jpeg_backend))
                value = loss(out.float())
                (grad,) = torch.autograd.grad(value.sum(), leaf)
            total += grad
            del out, value, grad
        oracle.forward[rows] += eot.samples
        oracle.backward[rows] += eot.samples
        # float64 sums of float32 values: K equal gradients average to exactly that gradient
        return (total / eot.samples).to(self._images.dtype)


# --- full size --------------------------------------------------------------------------

class FullSize(_Delegates, nn.Module):
    """Attack a photo at its own resolution: the model's resize and centre crop are part of
    the (differentiable) forward, so the perturbation lives on the full-size 8-bit grid.

    ``prepare`` only converts channels (the size is kept); ``forward`` is the wrapped
    classifier's, which resizes and crops any size. Memory grows with the photo
    (about 2 GB peak for 12 megapixels with BIM, see docs/physical.md).

    Example:
        >>> import torch
        >>> from hoodwink.models import Classifier, Labels
        >>> net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3 * 8 * 8, 2))
        >>> model = FullSize(Classifier(net, Labels.from_names("ab"), input_size=(8, 8), resize=10))
        >>> model.prepare(torch.rand(1, 3, 30, 40)).shape, model(torch.rand(1, 3, 30, 40)).shape
        (torch.Size([1, 3, 30, 40]), torch.Size([1, 2]))
    """

    def __init__(self, model: Any) -> None:
        super().__init__()
        if not isinstance(model, nn.Module):
            raise ParameterError("full-size attacks need a white-box PyTorch model")
        self.model = model
        self.channels = int(getattr(model, "channels", 3))

    def prepare(self, images: torch.Tensor) -> torch.Tensor:
        """Channels only: the photo keeps its size."""
        if images.dim() == 3:
            images = images.unsqueeze(0)
        return _convert_channels(images, self.channels)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """Logits as ``hoodwink predict`` computes them for the saved photo: resize and crop
        (differentiable), round to 8 bits (straight-through), then the network."""
        prepare = getattr(self.model, "prepare", None)
        x = prepare(images) if callable(prepare) else images
        x = x + (torch.round(x.clamp(0, 1) * 255) / 255 - x).detach()
        out: torch.Tensor = self.model(x)
        return out
