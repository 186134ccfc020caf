"""Safe image decoding, synthetic and sample images, and 8-bit PNG saving.

Every image becomes a float tensor (3, H, W) in [0, 1]. Decoding applies EXIF
orientation, turns every Pillow mode into RGB (alpha over white), uses the
first frame of an animation and refuses images over a pixel cap (decompression
bombs). Saving writes an 8-bit PNG atomically.

Example:
    >>> cat = load_image("chelsea")          # scikit-image's sample photo
    >>> cat.shape, float(cat.min()) >= 0
    (torch.Size([3, 300, 451]), True)
"""

from __future__ import annotations

import io
import os
import urllib.error
import urllib.request
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Union

import numpy as np
import torch
from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError

from hoodwink.errors import ImageError
from hoodwink.io import check_output, write_atomic

#: Refuse images with more pixels than this (a 50 kB PNG can expand to gigabytes).
MAX_PIXELS = 64_000_000
#: Refuse downloads bigger than this.
MAX_DOWNLOAD_BYTES = 32 * 1024 * 1024
DOWNLOAD_TIMEOUT_S = 20.0

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".gif", ".bmp", ".tif", ".tiff", ".webp", ".ppm",
                  ".pgm", ".pbm", ".ico", ".jfif"}

#: Photos that ship with scikit-image, reachable by name without a file.
SAMPLES = ("astronaut", "chelsea", "coffee", "rocket", "camera", "cat", "coins", "moon")
SYNTHETIC = ("black", "white", "gray", "noise")

ImageSource = Union[str, "os.PathLike[str]", bytes, np.ndarray, Image.Image, torch.Tensor]


@dataclass(frozen=True)
class NamedImage:
    """An image with the name it is reported under (its path, URL or sample name)."""

    name: str
    pixels: torch.Tensor  #: (3, H, W) float32 in [0, 1]


def load_image(
    source: ImageSource,
    *,
    max_pixels: int = MAX_PIXELS,
    size: tuple[int, int] = (224, 224),
    seed: int = 0,
) -> torch.Tensor:
    """Decode one image into a (3, H, W) float tensor in [0, 1].

    ``source`` is a path, an http(s) URL, raw bytes, a numpy array (H, W) or
    (H, W, C), a PIL image, a (C, H, W) tensor, a scikit-image sample name
    (``"chelsea"``, ``"coffee"``, ...), or ``"black"``, ``"white"``, ``"gray"``,
    ``"noise"`` for a synthetic image of ``size`` (noise uses ``seed``).
    """
    if isinstance(source, torch.Tensor):
        return _from_tensor(source)
    if isinstance(source, np.ndarray):
        return _from_array(source, "array")
    if isinstance(source, Image.Image):
        return _decode(source, "image", max_pixels)
    if isinstance(source, (bytes, bytearray)):
        return _decode_bytes(bytes(source), "bytes", max_pixels)
    text = os.fspath(source)
    if text.startswith(("http://", "https://")):
        return _decode_bytes(_download(text), text, max_pixels)
    path = Path(text)
    if path.is_dir():
        raise ImageError(f"{text}: is a directory; use load_images() for every image in it")
    if path.is_file():
        return _decode_file(path, max_pixels)
    name = text.removeprefix("sample:").lower()
    if name in SYNTHETIC:
        return synthetic_image(name, size, seed=seed)
    if name in SAMPLES:
        return sample_image(name)
    raise ImageError(f"{text}: no such file (nor a sample: {', '.join(SAMPLES + SYNTHETIC)})")


def load_images(
    sources: ImageSource | Sequence[ImageSource],
    **kwargs: Any,
) -> list[NamedImage]:
    """Decode several images; a directory stands for every image file in it, sorted."""
    if isinstance(sources, (str, os.PathLike, bytes, np.ndarray, Image.Image, torch.Tensor)):
        sources = [sources]
    out: list[NamedImage] = []
    for i, source in enumerate(sources):
        if isinstance(source, (str, os.PathLike)) and Path(source).is_dir():
            files = image_files(Path(source))
            out += [NamedImage(str(f), load_image(f, **kwargs)) for f in files]
        else:
            name = os.fspath(source) if isinstance(source, (str, os.PathLike)) else f"<image {i}>"
            out.append(NamedImage(name, load_image(source, **kwargs)))
    return out


def image_files(folder: Path) -> list[Path]:
    """Image files (by suffix) directly inside ``folder``, sorted by name."""
    files = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise ImageError(f"{folder}: no image files in this directory")
    return files


def sample_image(name: str) -> torch.Tensor:
    """One of scikit-image's bundled photos (``chelsea`` is a cat, ``coffee`` an espresso)."""
    from skimage import data

    name = "chelsea" if name == "cat" else name
    if name not in SAMPLES:
        raise ImageError(f"unknown sample {name!r}; samples: {', '.join(SAMPLES)}")
    return _from_array(getattr(data, name)(), f"sample:{name}")


def synthetic_image(kind: str, size: tuple[int, int] = (224, 224), *, seed: int = 0) -> torch.Tensor:
    """A black, white, mid-gray or uniform-noise RGB image of ``size`` (H, W)."""
    h, w = size
    if kind == "black":
        return torch.zeros(3, h, w)
    if kind == "white":
        return torch.ones(3, h, w)
    if kind == "gray":
        return torch.full((3, h, w), 128 / 255)
    if kind == "noise":
        generator = torch.Generator().manual_seed(seed)
        return torch.randint(0, 256, (3, h, w), generator=generator).float() / 255
    raise ImageError(f"unknown synthetic image {kind!r}; choose one of {', '.join(SYNTHETIC)}")


def quantize(images: torch.Tensor) -> torch.Tensor:
    """Round to the 8-bit grid (multiples of 1/255) and clip to [0, 1]."""
    return torch.round(images.clamp(0, 1) * 255) / 255


def to_pil(image: torch.Tensor) -> Image.Image:
    """An 8-bit PIL image from a (C, H, W) or (1, C, H, W) tensor in [0, 1]."""
    if image.dim() == 4 and image.shape[0] == 1:
        image = image[0]
    if image.dim() != 3 or image.shape[0] not in (1, 3):
        raise ImageError(f"expected one (C, H, W) image with 1 or 3 channels, got {tuple(image.shape)}")
    pixels = torch.round(image.detach().float().clamp(0, 1) * 255).to(torch.uint8).cpu()
    if pixels.shape[0] == 1:
        return Image.fromarray(pixels[0].numpy(), mode="L")
    return Image.fromarray(pixels.permute(1, 2, 0).numpy(), mode="RGB")


def save_image(image: torch.Tensor, path: str | os.PathLike[str]) -> Path:
    """Write an 8-bit PNG atomically (:func:`hoodwink.io.write_atomic`).

    Only PNG: a lossy format would undo a perturbation of 1/255.

    Example:
        >>> save_image(torch.zeros(3, 4, 4), "black.png")      # doctest: +SKIP
        PosixPath('black.png')
    """
    path = check_output(path, suffixes=(".png",), noun="images (lossless 8-bit)")
    picture = to_pil(image)
    return write_atomic(path, lambda handle: picture.save(handle, format="PNG"))


# --- decoding ---------------------------------------------------------------

def _download(url: str) -> bytes:
    request = urllib.request.Request(url, headers={"User-Agent": "hoodwink"})
    try:
        with urllib.request.urlopen(request, timeout=DOWNLOAD_TIMEOUT_S) as response:
            length = response.headers.get("Content-Length")
            if length and length.isdigit() and int(length) > MAX_DOWNLOAD_BYTES:
                raise ImageError(f"{url}: too large ({int(length)} bytes; the cap is {MAX_DOWNLOAD_BYTES})")
            body: bytes = response.read(MAX_DOWNLOAD_BYTES + 1)
    except urllib.error.HTTPError as exc:
        raise ImageError(f"{url}: HTTP {exc.code} {exc.reason}") from exc
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise ImageError(f"{url}: could not download ({reason})") from exc
    if len(body) > MAX_DOWNLOAD_BYTES:
        raise ImageError(f"{url}: too large (over {MAX_DOWNLOAD_BYTES} bytes)")
    return body


def _decode_file(path: Path, max_pixels: int) -> torch.Tensor:
    if path.stat().st_size == 0:
        raise ImageError(f"{path}: empty file")
    try:
        with Image.open(path) as im:
            return _decode(im, str(path), max_pixels)
    except UnidentifiedImageError as exc:
        raise ImageError(f"{path}: not an image (or a format Pillow cannot read)") from exc
    except Image.DecompressionBombError as exc:
        raise ImageError(f"{path}: refused as a decompression bomb ({exc})") from exc
    except PermissionError as exc:
        raise ImageError(f"{path}: permission denied") from exc


def _decode_bytes(data: bytes, name: str, max_pixels: int) -> torch.Tensor:
    if not data:
        raise ImageError(f"{name}: empty")
    try:
        with Image.open(io.BytesIO(data)) as im:
            return _decode(im, name, max_pixels)
    except UnidentifiedImageError as exc:
        raise ImageError(f"{name}: not an image (or a format Pillow cannot read)") from exc
    except Image.DecompressionBombError as exc:
        raise ImageError(f"{name}: refused as a decompression bomb ({exc})") from exc


def _decode(im: Image.Image, name: str, max_pixels: int) -> torch.Tensor:
    width, height = im.size
    if width * height > max_pixels:
        raise ImageError(
            f"{name}: {width}x{height} is {width * height:,} pixels, over the cap of {max_pixels:,} "
            "(a decompression bomb, or just too big: resize it first)"
        )
    if width == 0 or height == 0:
        raise ImageError(f"{name}: image has no pixels")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            if getattr(im, "is_animated", False):
                im.seek(0)
            previous = ImageFile.LOAD_TRUNCATED_IMAGES
            ImageFile.LOAD_TRUNCATED_IMAGES = False
            try:
                im.load()
            finally:
                ImageFile.LOAD_TRUNCATED_IMAGES = previous
            im = ImageOps.exif_transpose(im)
            return _from_array(_rgb_array(im), name)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageError(f"{name}: refused as a decompression bomb ({exc})") from exc
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        text = str(exc) or type(exc).__name__
        if "truncated" in text.lower() or isinstance(exc, EOFError):
            raise ImageError(f"{name}: truncated or damaged image ({text})") from exc
        raise ImageError(f"{name}: cannot decode image ({text})") from exc


def _rgb_array(im: Image.Image) -> np.ndarray:
    """Float RGB (H, W, 3) in [0, 1] from any Pillow mode."""
    mode = im.mode
    if mode.startswith("I;16") or mode in ("I", "F"):
        values = np.asarray(im, dtype=np.float64)
        values = np.nan_to_num(values, nan=0.0, posinf=0.0, neginf=0.0)
        top = float(values.max(initial=0.0))
        if mode.startswith("I;16"):
            scale = 65535.0
        elif mode == "F" and top <= 1.0:
            scale = 1.0
        else:
            scale = 255.0 if top <= 255 else 65535.0 if top <= 65535 else top
        gray = np.clip(values / scale, 0.0, 1.0)
        return np.repeat(gray[..., None], 3, axis=2)
    if mode == "P" and "transparency" in im.info:
        im = im.convert("RGBA")
        mode = "RGBA"
    if mode in ("RGBA", "LA", "PA", "La", "RGBa"):
        rgba = np.asarray(im.convert("RGBA"), dtype=np.float64) / 255.0
        alpha = rgba[..., 3:4]
        return rgba[..., :3] * alpha + (1.0 - alpha)  # over a white background
    return np.asarray(im.convert("RGB"), dtype=np.float64) / 255.0


def _from_array(array: np.ndarray, name: str) -> torch.Tensor:
    if array.ndim == 2:
        array = array[..., None]
    if array.ndim != 3 or array.shape[2] not in (1, 3, 4):
        raise ImageError(f"{name}: expected an (H, W), (H, W, 3) or (H, W, 4) array, got {array.shape}")
    if array.shape[2] == 4:
        array = array[..., :3]
    if array.dtype == np.uint8:
        values = array.astype(np.float32) / 255.0
    elif array.dtype == np.uint16:
        values = array.astype(np.float32) / 65535.0
    elif np.issubdtype(array.dtype, np.floating) or array.dtype == bool:
        values = np.nan_to_num(array.astype(np.float32))
        if values.max(initial=0.0) > 1.0 + 1e-6 or values.min(initial=0.0) < -1e-6:
            raise ImageError(f"{name}: float images must be in [0, 1]")
    else:
        raise ImageError(f"{name}: unsupported array type {array.dtype}")
    values = np.clip(values, 0.0, 1.0)
    if values.shape[2] == 1:
        values = np.repeat(values, 3, axis=2)
    return torch.from_numpy(np.ascontiguousarray(values.transpose(2, 0, 1))).float()


def _from_tensor(tensor: torch.Tensor) -> torch.Tensor:
    if tensor.dim() == 4 and tensor.shape[0] == 1:
        tensor = tensor[0]
    if tensor.dim() == 2:
        tensor = tensor.unsqueeze(0)
    if tensor.dim() != 3 or tensor.shape[0] not in (1, 3):
        raise ImageError(f"expected a (C, H, W) tensor with 1 or 3 channels, got {tuple(tensor.shape)}")
    tensor = tensor.detach().float()
    if tensor.numel() and (tensor.min() < 0 or tensor.max() > 1):
        raise ImageError("tensor images must be in [0, 1]")
    return tensor.expand(3, -1, -1).clone() if tensor.shape[0] == 1 else tensor.clone()


def iter_image_sources(args: Iterable[str]) -> list[str]:
    """Expand CLI arguments: directories become their image files."""
    out: list[str] = []
    for arg in args:
        path = Path(arg)
        out += [str(f) for f in image_files(path)] if path.is_dir() else [arg]
    return out
