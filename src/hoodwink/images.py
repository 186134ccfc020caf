"""Safe image decoding, synthetic and sample images, and 8-bit PNG saving.

Every image becomes a float tensor (3, H, W) in [0, 1]. Decoding applies EXIF
orientation, turns every Pillow mode into RGB (alpha over white), uses the
first frame of an animation, and is bounded before a pixel is decoded: an image
over the pixel cap (:data:`MAX_PIXELS`, a decompression bomb) or the aspect-ratio
cap (:data:`MAX_ASPECT`, a 10000x1 strip that resizing would blow up) is refused
from its header. Both caps are parameters, and ``HOODWINK_MAX_PIXELS`` /
``HOODWINK_MAX_ASPECT`` change their defaults. Pixels are decoded as 8 bits and
converted to float32 once. Any failure inside Pillow (whatever its exception type)
is an :class:`~hoodwink.errors.ImageError` naming the file, and no Pillow or numpy
warning reaches stderr. Saving writes an 8-bit PNG atomically.

Example:
    >>> cat = load_image("chelsea")          # scikit-image's sample photo
    >>> cat.shape, float(cat.min()) >= 0
    (torch.Size([3, 300, 451]), True)
"""

from __future__ import annotations

import contextlib
import errno
import io
import os
import stat
import struct
import sys
import warnings
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple, TypeGuard, Union, cast

import numpy as np
from PIL import Image, ImageFile, UnidentifiedImageError

from hoodwink.errors import DownloadError, HoodwinkError, ImageError
from hoodwink.io import check_output, fetch, write_atomic

if TYPE_CHECKING:
    import torch

#: Refuse images with more pixels than this, from their header (a 500-byte GIF can claim
#: 64 million pixels). Decoding one at the cap takes about 15 bytes per pixel (8-bit
#: planes, then one float32 copy): 600 MB at 40 million. ``HOODWINK_MAX_PIXELS`` changes it.
MAX_PIXELS = 40_000_000
#: Refuse images whose longer side is more than this many times the shorter one: the
#: classifier scales the shorter side to 256, so a 10000x1 strip would become 256x2,560,000
#: (7.9 GB). ``HOODWINK_MAX_ASPECT`` changes it.
MAX_ASPECT = 64.0
#: Refuse downloads bigger than this.
MAX_DOWNLOAD_BYTES = 32 * 1024 * 1024
#: The whole download (connection, headers, redirects, body) must finish within this.
DOWNLOAD_DEADLINE_S = 30.0
#: Any single read waits at most this long.
DOWNLOAD_TIMEOUT_S = 20.0

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".gif", ".bmp", ".tif", ".tiff", ".webp", ".ppm",
                  ".pgm", ".pbm", ".ico", ".jfif"}

#: Photos that ship with scikit-image, reachable by name without a file.
SAMPLES = ("astronaut", "chelsea", "coffee", "rocket", "camera", "cat", "coins", "moon")
SYNTHETIC = ("black", "white", "gray", "noise")

ImageSource = Union[str, "os.PathLike[str]", bytes, np.ndarray, Image.Image, "torch.Tensor"]


class _Caps(NamedTuple):
    """What one decode may do: the pixel and aspect caps, and the working side (see
    :func:`load_image`'s ``side``)."""

    pixels: int
    aspect: float
    side: int | None = None


def _is_tensor(value: object) -> TypeGuard[torch.Tensor]:
    """A torch tensor? (torch is imported only once an image is decoded: a file refused by
    its header never pays for it, so ``hoodwink predict`` refuses a hostile file fast.)"""
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(value, torch.Tensor)


def limits(max_pixels: int | None = None, max_aspect: float | None = None) -> tuple[int, float]:
    """The pixel and aspect caps in force: the arguments, else the environment, else the defaults.

    Example:
        >>> limits(1000, 4.0)
        (1000, 4.0)
    """
    def read(name: str, default: float) -> float:
        text = os.environ.get(name, "").strip()
        if not text:
            return default
        try:
            value = float(text.replace("_", ""))
        except ValueError:
            raise ImageError(f"{name}={text!r}: not a number") from None
        if not value >= 1:
            raise ImageError(f"{name}={text!r}: must be at least 1")
        return value

    pixels = max_pixels if max_pixels is not None else int(read("HOODWINK_MAX_PIXELS", MAX_PIXELS))
    aspect = max_aspect if max_aspect is not None else read("HOODWINK_MAX_ASPECT", MAX_ASPECT)
    return pixels, float(aspect)


@dataclass(frozen=True)
class NamedImage:
    """An image with the name it is reported under (its path, URL or sample name)."""

    name: str
    pixels: torch.Tensor  #: (3, H, W) float32 in [0, 1]


def load_image(
    source: ImageSource,
    *,
    max_pixels: int | None = None,
    size: tuple[int, int] = (224, 224),
    seed: int = 0,
    max_aspect: float | None = None,
    side: int | None = None,
) -> torch.Tensor:
    """Decode one image into a (3, H, W) float tensor in [0, 1].

    ``source`` is a path, an http(s) URL, raw bytes, a numpy array (H, W) or
    (H, W, C), a PIL image, a (C, H, W) tensor, a scikit-image sample name
    (``"chelsea"``, ``"coffee"``, ...), or ``"black"``, ``"white"``, ``"gray"``,
    ``"noise"`` for a synthetic image of ``size`` (noise uses ``seed``).
    ``max_pixels`` and ``max_aspect`` bound a decoded image (see :func:`limits`).
    ``side`` (for callers that resize anyway, as ``hoodwink predict`` does): a decoded
    image whose shorter side is at least twice ``side`` is shrunk by a whole factor in
    8 bits, keeping that side at ``side`` or more (Pillow's JPEG draft decodes it smaller
    to begin with), so a 40-megapixel photo costs a fraction of the time and memory and
    the model's own resize to 224-260 pixels sees nearly the same image.

    Raises:
        ImageError: for anything that is not a readable image within the caps,
            with the file's name and the reason in one line.

    Example:
        >>> load_image(b"not an image")
        Traceback (most recent call last):
        hoodwink.errors.ImageError: bytes: not an image (or a format Pillow cannot read)
    """
    caps = _Caps(*limits(max_pixels, max_aspect), side)
    if _is_tensor(source):
        return _from_tensor(source)
    if isinstance(source, np.ndarray):
        return _from_array(source, "array")
    if isinstance(source, Image.Image):
        with _decoding("image"):
            return _decode(source, "image", caps)
    if isinstance(source, (bytes, bytearray)):
        return _decode_bytes(bytes(source), "bytes", caps)
    text = os.fspath(cast("str | os.PathLike[str]", source))
    if not text.strip():
        raise ImageError("an empty name is not an image (give a file, a URL or a sample name)")
    if text.startswith(("http://", "https://")):
        return _decode_bytes(_download(text), text, caps)
    path = Path(text)
    kind = _file_kind(path)
    if kind == "file":
        return _decode_file(path, caps)
    if kind == "directory":
        raise ImageError(f"{text}: is a directory; use load_images() for every image in it")
    if kind != "missing":
        raise ImageError(f"{text}: {kind}, not an image file")
    name = text.removeprefix("sample:").lower()
    if name in SYNTHETIC:
        return synthetic_image(name, size, seed=seed)
    if name in SAMPLES:
        return sample_image(name)
    raise ImageError(f"{text}: no such file (nor a sample: {', '.join(SAMPLES + SYNTHETIC)})")


def load_images(
    sources: ImageSource | Sequence[ImageSource],
    *,
    errors: list[ImageError] | None = None,
    **kwargs: Any,
) -> list[NamedImage]:
    """Decode several images; a directory stands for every image file in it, sorted.

    With ``errors`` (a list), an image that cannot be read is appended there as its
    :class:`ImageError` and skipped, so one bad file in a folder does not stop the
    others; without it, the first bad image raises.

    Example:
        >>> bad: list[ImageError] = []
        >>> [n.name for n in load_images(["chelsea", "nope.png"], errors=bad)], len(bad)
        (['chelsea'], 1)
    """
    if isinstance(sources, (str, os.PathLike, bytes, np.ndarray, Image.Image)) or _is_tensor(sources):
        sources = [sources]
    out: list[NamedImage] = []
    for i, source in enumerate(sources):
        if isinstance(source, (str, os.PathLike)) and _file_kind(Path(source)) == "directory":
            pairs: list[tuple[str, ImageSource]] = [(str(f), f) for f in image_files(Path(source))]
        else:
            name = os.fspath(source) if isinstance(source, (str, os.PathLike)) else f"<image {i}>"
            pairs = [(name, source)]
        for name, item in pairs:
            try:
                out.append(NamedImage(name, load_image(item, **kwargs)))
            except ImageError as exc:
                if errors is None:
                    raise
                errors.append(exc)
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
    import torch

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
    import torch

    return torch.round(images.clamp(0, 1) * 255) / 255


def to_pil(image: torch.Tensor) -> Image.Image:
    """An 8-bit PIL image from a (C, H, W) or (1, C, H, W) tensor in [0, 1]."""
    import torch

    if image.dim() == 4 and image.shape[0] == 1:
        image = image[0]
    if image.dim() != 3 or image.shape[0] not in (1, 3):
        raise ImageError(f"expected one (C, H, W) image with 1 or 3 channels, got {tuple(image.shape)}")
    pixels = torch.round(image.detach().float().clamp(0, 1) * 255).to(torch.uint8).cpu()
    if pixels.shape[0] == 1:
        return Image.fromarray(pixels[0].numpy(), mode="L")
    return Image.fromarray(pixels.permute(1, 2, 0).numpy(), mode="RGB")


def save_image(image: torch.Tensor, path: str | os.PathLike[str], *,
               quality: int | None = None) -> Path:
    """Write an 8-bit PNG atomically (:func:`hoodwink.io.write_atomic`), or with
    ``quality`` (1-100) a JPEG (``.jpg``/``.jpeg``, Pillow's encoder, as
    :func:`hoodwink.physical.judge_jpeg` judges it).

    A lossy format can undo a perturbation of 1/255: judge the JPEG as it reads back.

    Example:
        >>> save_image(torch.zeros(3, 4, 4), "black.png")      # doctest: +SKIP
        PosixPath('black.png')
    """
    if quality is None:
        path = check_output(path, suffixes=(".png",), noun="images (lossless 8-bit)")
        picture = to_pil(image)
        return write_atomic(path, lambda handle: picture.save(handle, format="PNG"))
    if isinstance(quality, bool) or not isinstance(quality, int) or not 1 <= quality <= 100:
        raise ImageError(f"JPEG quality must be a whole number 1-100, not {quality!r}")
    path = check_output(path, suffixes=(".jpg", ".jpeg"), noun="JPEG images")
    picture = to_pil(image)
    return write_atomic(path, lambda handle: picture.save(handle, format="JPEG", quality=quality))


# --- decoding ---------------------------------------------------------------

def _download(url: str) -> bytes:
    try:
        return fetch(url, max_bytes=MAX_DOWNLOAD_BYTES, deadline_s=DOWNLOAD_DEADLINE_S,
                     read_timeout_s=DOWNLOAD_TIMEOUT_S)
    except DownloadError as exc:
        raise ImageError(str(exc)) from exc


def _file_kind(path: Path) -> str:
    """``"file"``, ``"directory"``, ``"missing"``, or what else the path is, in words."""
    try:
        mode = os.stat(path).st_mode
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return "a symbolic link loop (too many levels of symbolic links)"
        if exc.errno == errno.ENAMETOOLONG:
            return "a name too long for the file system"
        if exc.errno == errno.EACCES:
            return "not accessible (permission denied)"
        if exc.errno in (errno.ENOENT, errno.ENOTDIR):
            return "missing"
        return f"not readable ({exc.strerror or exc})"
    except ValueError:  # a NUL byte in the name
        return "a name with a NUL byte"
    if stat.S_ISREG(mode):
        return "file"
    if stat.S_ISDIR(mode):
        return "directory"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISCHR(mode):
        return "a character device"
    if stat.S_ISBLK(mode):
        return "a block device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


@contextlib.contextmanager
def _decoding(name: str) -> Iterator[None]:
    """Turn whatever Pillow, numpy or torch raise on a hostile file into one ImageError; hush warnings."""
    previous = ImageFile.LOAD_TRUNCATED_IMAGES
    try:
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            ImageFile.LOAD_TRUNCATED_IMAGES = False
            yield
    except HoodwinkError:
        raise
    except UnidentifiedImageError as exc:
        raise ImageError(f"{name}: not an image (or a format Pillow cannot read)") from exc
    except Image.DecompressionBombError as exc:
        raise ImageError(f"{name}: refused as a decompression bomb ({_first_line(exc)})") from exc
    except PermissionError as exc:
        raise ImageError(f"{name}: permission denied") from exc
    except MemoryError as exc:
        raise ImageError(f"{name}: too large to decode in the memory available") from exc
    except (EOFError, struct.error) as exc:
        raise ImageError(f"{name}: truncated or damaged image (the data ends too early)") from exc
    except Exception as exc:  # Pillow raises a dozen types on hostile input; all mean "damaged"
        text = _first_line(exc)
        if "truncated" in text.lower():
            raise ImageError(f"{name}: truncated or damaged image (the data ends too early)") from exc
        raise ImageError(f"{name}: damaged or unsupported image, cannot decode it ({text})") from exc
    finally:
        ImageFile.LOAD_TRUNCATED_IMAGES = previous


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


def _decode_file(path: Path, caps: _Caps) -> torch.Tensor:
    name = str(path)
    with _decoding(name):
        if path.stat().st_size == 0:
            raise ImageError(f"{path}: empty file")
        with Image.open(path) as im:
            if im.format == "JPEG" and not _ends_with_eoi(path):
                _check_size(im.size[0], im.size[1], name, caps)
                with path.open("rb") as handle:
                    return _decode_bytes(handle.read(), name, caps)
            return _decode(im, name, caps, release=True)


def _ends_with_eoi(path: Path) -> bool:
    with path.open("rb") as handle:
        handle.seek(max(0, path.stat().st_size - 2))
        return handle.read(2) == b"\xff\xd9"


def _decode_bytes(data: bytes, name: str, caps: _Caps) -> torch.Tensor:
    if not data:
        raise ImageError(f"{name}: empty")
    with _decoding(name):
        if data[:3] == b"\xff\xd8\xff" and not data.rstrip(b"\x00").endswith(b"\xff\xd9"):
            return _to_tensor(*_jpeg_without_end(data, name, caps))
        with Image.open(io.BytesIO(data)) as im:
            return _decode(im, name, caps, release=True)


def _jpeg_without_end(data: bytes, name: str, caps: _Caps) -> tuple[list[np.ndarray], int]:
    """A JPEG that lacks only its end marker loads (as viewers show it); one cut short does not.

    libjpeg fills missing scan data with zero bits, so the file is decoded twice, once with
    the end marker appended and once with filler bits before it: if all the scan data is
    there, the filler is ignored and both agree; if not, the filler shows in the pixels.
    """
    end = b"\xff\xd9"
    with Image.open(io.BytesIO(data + end)) as im:
        planes, orientation = _decode_planes(im, name, caps, release=True)
    with Image.open(io.BytesIO(data + b"\x55" * 4096 + end)) as im:
        check, _ = _decode_planes(im, name, caps, release=True)
    if len(check) != len(planes) or not all(np.array_equal(a, b) for a, b in zip(check, planes)):
        raise ImageError(f"{name}: truncated JPEG (its scan data is cut short)")
    return planes, orientation


def _check_size(width: int, height: int, name: str, caps: _Caps) -> None:
    max_pixels, max_aspect = caps.pixels, caps.aspect
    if width <= 0 or height <= 0:
        raise ImageError(f"{name}: image has no pixels ({width}x{height})")
    if width * height > max_pixels:
        raise ImageError(
            f"{name}: {width}x{height} is {width * height:,} pixels, over the cap of {max_pixels:,} "
            "(a decompression bomb, or just too big: resize it first, or raise HOODWINK_MAX_PIXELS)"
        )
    if max(width, height) > max_aspect * min(width, height):
        raise ImageError(
            f"{name}: {width}x{height} is a strip (aspect ratio {max(width, height) / min(width, height):,.0f}:1, "
            f"over the cap of {max_aspect:g}:1; crop it first, or raise HOODWINK_MAX_ASPECT)"
        )


def _decode(im: Image.Image, name: str, caps: _Caps, *, release: bool = False) -> torch.Tensor:
    return _to_tensor(*_decode_planes(im, name, caps, release=release))


def _decode_planes(
    im: Image.Image, name: str, caps: _Caps, *, release: bool = False
) -> tuple[list[np.ndarray], int]:
    """Check the header's size against the caps, then decode frame 0 once, as 8 bits where possible.

    ``release`` closes ``im`` once its planes are copied out, so that Pillow's copy of the
    pixels is freed before the float32 tensor is made (a third less peak memory).
    """
    _check_size(im.size[0], im.size[1], name, caps)
    if getattr(im, "is_animated", False):
        im.seek(0)
        _check_size(im.size[0], im.size[1], name, caps)
    factor = _factor(im.size, caps.side)
    if factor > 1 and im.format == "JPEG":
        im.draft(im.mode, (im.size[0] // factor, im.size[1] // factor))
    im.load()
    _check_size(im.size[0], im.size[1], name, caps)  # some formats learn their real size only when decoding
    orientation = _orientation(im)
    planes = _planes(im, _factor(im.size, caps.side))
    if release:
        im.close()
    return planes, orientation


def _orientation(im: Image.Image) -> int:
    try:
        value = im.getexif().get(0x0112, 1)
    except Exception:  # noqa: BLE001 (a damaged EXIF block: show the pixels as stored, as viewers do)
        return 1
    return value if isinstance(value, int) and 1 <= value <= 8 else 1


def _factor(size: tuple[int, int], side: int | None) -> int:
    """The whole factor that shrinks ``size`` while its shorter side stays at ``side`` or more."""
    return 1 if side is None else max(1, min(size) // max(side, 1))


def _planes(im: Image.Image, factor: int = 1) -> list[np.ndarray]:
    """The pixels as contiguous (H, W) planes: three uint8 (R, G, B), one uint8 (gray, for L and 1),
    or one float32 in [0, 1] (16-bit, 32-bit and float modes); 8-bit ones shrunk by ``factor``
    (box filter) before they are copied out."""
    mode = im.mode
    if mode.startswith("I;16"):
        gray: np.ndarray = np.asarray(im, dtype=np.float32) / np.float32(65535.0)
        return [gray]
    if mode in ("I", "F"):
        return [_scaled(np.asarray(im, dtype=np.float32), integer=mode == "I")]
    if mode in ("L", "1"):
        gray8 = im.convert("L")
        return [np.asarray(gray8.reduce(factor) if factor > 1 else gray8)]
    if mode == "P" and "transparency" in im.info:
        im = im.convert("RGBA")
        mode = "RGBA"
    if mode in ("RGBA", "LA", "PA", "La", "RGBa"):
        rgba = im.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        im = Image.alpha_composite(white, rgba)  # over a white background
        del rgba, white
    rgb = im if im.mode == "RGB" else im.convert("RGB")
    if factor > 1:
        rgb = rgb.reduce(factor)
    return [np.asarray(band) for band in rgb.split()]  # contiguous planes convert fastest


def _scaled(values: np.ndarray, *, integer: bool) -> np.ndarray:
    """Gray values to [0, 1] by their real range: as they are when already in [0, 1], by the
    type's range when they fit 8 or 16 bits, else from their smallest to their largest finite value."""
    finite = np.isfinite(values)
    if not finite.all():
        values = np.where(finite, values, np.float32(0.0))
    low = float(values.min(initial=0.0))
    high = float(values.max(initial=0.0))
    scaled: np.ndarray
    if low >= 0.0 and high <= 1.0 and not integer:
        scaled = values
    elif low >= 0.0 and high <= 255.0:
        scaled = values / np.float32(255.0)
    elif low >= 0.0 and high <= 65535.0 and integer:
        scaled = values / np.float32(65535.0)
    elif high - low <= 0.0:
        scaled = np.zeros_like(values)
    else:
        scaled = (values - np.float32(low)) / np.float32(high - low)
    return scaled


def _to_tensor(planes: list[np.ndarray], orientation: int = 1) -> torch.Tensor:
    """One float32 (3, H, W) tensor from 1 or 3 (H, W) planes (uint8, or float32 in [0, 1]),
    EXIF orientation applied; the only full-size float copy that decoding makes."""
    import torch

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Pillow's buffers are read-only; they are only read here
        bands = [_orient(torch.from_numpy(plane), orientation) for plane in planes]
    out = torch.empty((3, *bands[0].shape), dtype=torch.float32)
    for c in range(3):
        out[c].copy_(bands[c if len(bands) == 3 else 0])
    if planes[0].dtype == np.uint8:
        out.div_(255.0)
    return out.clamp_(0.0, 1.0)


def _orient(plane: torch.Tensor, orientation: int) -> torch.Tensor:
    """Apply an EXIF orientation (as ``ImageOps.exif_transpose``) to an (H, W) plane."""
    if orientation == 2:
        return plane.flip(1)
    if orientation == 3:
        return plane.flip(0).flip(1)
    if orientation == 4:
        return plane.flip(0)
    if orientation == 5:
        return plane.t()
    if orientation == 6:
        return plane.t().flip(1)
    if orientation == 7:
        return plane.t().flip(0).flip(1)
    if orientation == 8:
        return plane.t().flip(0)
    return plane


def _from_array(array: np.ndarray, name: str) -> torch.Tensor:
    import torch

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
