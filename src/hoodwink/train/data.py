"""Datasets for the digits lab: MNIST in its original IDX files, and folders of images.

* :func:`read_idx` / :func:`write_idx` read and write the IDX format of LeCun's
  MNIST files (gzipped or not), checking magic number, shape and size.
* :func:`load_mnist` loads a folder that holds the MNIST files. When it holds only
  the test files (``t10k-*``), the first 8,000 images train and the last 2,000
  test, and :attr:`DataSplit.note` says so.
* :func:`download_mnist` fetches the four files from the usual mirrors into a
  cache (``$HOODWINK_CACHE/mnist`` or ``~/.cache/hoodwink/mnist``), checking
  their md5 sums and writing atomically.
* :func:`load_image_folder` reads a user's own images, one sub-folder per class.
* :func:`export_pngs` writes samples as 8-bit PNGs that ``hoodwink predict`` reads.

Images are float tensors (N, 1, H, W) in [0, 1] on the 1/255 grid, white digits on
black as in MNIST; labels are int64 (N,).

Example:
    >>> split = load_dataset("../shared/data/mnist")          # doctest: +SKIP
    >>> split.note                                             # doctest: +SKIP
    'only test files found: training on the first 8,000, testing on the last 2,000'
    >>> split.train.images.shape, split.test.images.shape      # doctest: +SKIP
    (torch.Size([8000, 1, 28, 28]), torch.Size([2000, 1, 28, 28]))
"""

from __future__ import annotations

import gzip
import hashlib
import os
import struct
import urllib.parse
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from hoodwink.errors import DownloadError, HoodwinkError
from hoodwink.io import fetch, write_atomic

DIGITS = tuple(str(i) for i in range(10))

#: MNIST files and their md5 sums (the values torchvision and the original site publish).
MNIST_FILES: dict[str, str] = {
    "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
    "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
    "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
    "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
}
#: Tried in order; the first that serves a file with the right checksum wins.
MNIST_MIRRORS: tuple[str, ...] = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
    "http://yann.lecun.com/exdb/mnist/",
)
#: The split used when a folder holds only the 10,000 test images.
TEST_ONLY_SPLIT = (8000, 2000)
#: The largest random translation :func:`random_shift` (``TrainConfig.augment``) allows, in pixels.
MAX_SHIFT = 8
#: One read waits at most this long; the whole file must arrive within the deadline.
DOWNLOAD_TIMEOUT_S = 30.0
DOWNLOAD_DEADLINE_S = 600.0
#: The largest MNIST file is 9.9 MB.
MAX_DOWNLOAD_BYTES = 64 * 1024 * 1024

# IDX type codes -> numpy dtypes (big-endian on disk).
_IDX_TYPES: dict[int, str] = {0x08: "u1", 0x09: "i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


class DataError(HoodwinkError):
    """A dataset that cannot be found, read, downloaded or verified."""


@dataclass(frozen=True)
class ImageSet:
    """Images with their labels.

    Attributes:
        images: (N, C, H, W) float32 in [0, 1].
        labels: (N,) int64 class indices into ``classes``.
        classes: class names in index order ("0".."9" for digits).
        source: where the images came from, for reports.
    """

    images: torch.Tensor
    labels: torch.Tensor
    classes: tuple[str, ...] = DIGITS
    source: str = ""

    def __post_init__(self) -> None:
        if self.images.dim() != 4 or self.labels.dim() != 1 or len(self.images) != len(self.labels):
            raise DataError(
                f"images (N, C, H, W) and labels (N,) do not match: "
                f"{tuple(self.images.shape)} and {tuple(self.labels.shape)}"
            )

    def __len__(self) -> int:
        return len(self.labels)

    def subset(self, start: int, stop: int | None = None) -> ImageSet:
        """Images ``start`` to ``stop`` (Python slice rules)."""
        return ImageSet(self.images[start:stop], self.labels[start:stop], self.classes, self.source)


@dataclass(frozen=True)
class DataSplit:
    """A training set and a test set, and a note on how they were chosen (or None)."""

    train: ImageSet
    test: ImageSet
    note: str | None = None


# --- augmentation ---------------------------------------------------------------

def random_shift(images: torch.Tensor, max_shift: int, generator: torch.Generator) -> torch.Tensor:
    """Translate each image by its own random (dy, dx), each in [-max_shift, max_shift], filling with 0.

    Data augmentation for small training sets (random translations, as in LeCun et al. 1998's
    distortions and Madry et al. 2018's CIFAR recipe of pad-and-crop): the image is padded by
    ``max_shift`` black pixels and a shifted window of the original size is cut out. The
    shifts are drawn from ``generator``, so a seeded run sees the same batches. Values stay
    in the input range; labels are unchanged.

    Args:
        images: (N, C, H, W) batch.
        max_shift: largest shift in pixels (0 returns the batch as is).
        generator: a CPU ``torch.Generator`` for the shifts.
    """
    if max_shift <= 0:
        return images
    n, _, height, width = images.shape
    shifts = torch.randint(-max_shift, max_shift + 1, (n, 2), generator=generator)
    padded = F.pad(images, (max_shift, max_shift, max_shift, max_shift))
    rows = torch.arange(height)[None, :] + max_shift + shifts[:, :1].to(images.device)
    cols = torch.arange(width)[None, :] + max_shift + shifts[:, 1:].to(images.device)
    batch = torch.arange(n, device=images.device)[:, None, None]
    # advanced indices around a slice put their dimensions first: (N, H, W, C)
    window = padded[batch, :, rows[:, :, None], cols[:, None, :]]
    return window.permute(0, 3, 1, 2).contiguous()


# --- IDX ----------------------------------------------------------------------

def read_idx(path: str | os.PathLike[str]) -> np.ndarray:
    """Read an IDX file (gzipped or not; detected from its first bytes).

    Example:
        >>> labels = read_idx("t10k-labels-idx1-ubyte.gz")    # doctest: +SKIP
        >>> labels.shape, labels.dtype                         # doctest: +SKIP
        ((10000,), dtype('uint8'))
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
        if raw[:2] == b"\x1f\x8b":
            raw = gzip.decompress(raw)
    except FileNotFoundError as exc:
        raise DataError(f"{path}: no such file") from exc
    except (OSError, EOFError) as exc:
        raise DataError(f"{path}: could not read ({exc})") from exc
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_TYPES or raw[3] == 0:
        raise DataError(f"{path}: not an IDX file (bad magic number)")
    dtype = np.dtype(_IDX_TYPES[raw[2]])
    ndim = raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DataError(f"{path}: truncated IDX header")
    shape = struct.unpack(f">{ndim}I", raw[4:header])
    expected = int(np.prod(shape)) * dtype.itemsize
    if len(raw) - header != expected:
        raise DataError(
            f"{path}: IDX size mismatch: shape {shape} needs {expected} bytes, "
            f"the file has {len(raw) - header}"
        )
    return np.frombuffer(raw, dtype=dtype, offset=header).reshape(shape).astype(dtype.newbyteorder("="))


def write_idx(array: np.ndarray, path: str | os.PathLike[str]) -> Path:
    """Write ``array`` as an IDX file (gzipped when the name ends in ``.gz``), atomically."""
    path = Path(path)
    codes = {np.dtype(v).newbyteorder(">") if np.dtype(v).itemsize > 1 else np.dtype(v): k
             for k, v in _IDX_TYPES.items()}
    big = array.astype(array.dtype.newbyteorder(">")) if array.dtype.itemsize > 1 else array
    code = codes.get(big.dtype)
    if code is None or array.ndim == 0:
        raise DataError(f"IDX cannot hold a {array.ndim}-d array of {array.dtype}")
    raw = bytes([0, 0, code, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape) + big.tobytes()
    write_atomic(path, gzip.compress(raw, mtime=0) if path.suffix == ".gz" else raw)
    return path


# --- MNIST ----------------------------------------------------------------------

def _find(folder: Path, stem: str) -> Path | None:
    # The files exist as "t10k-images-idx3-ubyte", "t10k-images.idx3-ubyte", with or without .gz.
    for name in (stem, stem.replace("-idx", ".idx")):
        for candidate in (folder / f"{name}.gz", folder / name):
            if candidate.is_file():
                return candidate
    return None


def is_mnist_folder(folder: str | os.PathLike[str]) -> bool:
    """True when ``folder`` holds at least the MNIST test (or training) files."""
    folder = Path(folder)
    return any(_find(folder, f"{part}-images-idx3-ubyte") and _find(folder, f"{part}-labels-idx1-ubyte")
               for part in ("train", "t10k"))


def read_mnist_part(folder: str | os.PathLike[str], part: str) -> ImageSet:
    """The ``"train"`` or ``"t10k"`` images of an MNIST folder as an :class:`ImageSet`."""
    folder = Path(folder)
    images_path = _find(folder, f"{part}-images-idx3-ubyte")
    labels_path = _find(folder, f"{part}-labels-idx1-ubyte")
    if images_path is None or labels_path is None:
        raise DataError(f"{folder}: no MNIST {part} files ({part}-images-idx3-ubyte[.gz] and labels)")
    images, labels = read_idx(images_path), read_idx(labels_path)
    if images.ndim != 3 or images.dtype != np.uint8:
        raise DataError(f"{images_path}: expected (N, H, W) bytes, got {images.shape} {images.dtype}")
    if labels.ndim != 1 or len(labels) != len(images):
        raise DataError(f"{labels_path}: {len(labels)} labels for {len(images)} images")
    if labels.size and int(labels.max()) > 9:
        raise DataError(f"{labels_path}: labels must be digits 0-9, found {int(labels.max())}")
    pixels = torch.from_numpy(images.copy()).unsqueeze(1).float().div_(255)
    return ImageSet(pixels, torch.from_numpy(labels.astype(np.int64)), DIGITS, str(folder))


def load_mnist(
    folder: str | os.PathLike[str], *, split: tuple[int, int] | None = None
) -> DataSplit:
    """Load MNIST from a folder of IDX files.

    With the training files, they train and ``t10k`` tests. With only the test
    files, the first ``split[0]`` images train and the last ``split[1]`` test
    (default 8,000 / 2,000), and the split's ``note`` says so. ``split`` with the
    training files takes the first ``split[0]`` training and first ``split[1]``
    test images.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(f"{folder}: no such folder")
    has_train = _find(folder, "train-images-idx3-ubyte") is not None
    test = read_mnist_part(folder, "t10k")
    if has_train:
        train = read_mnist_part(folder, "train")
        if split is not None:
            _check_split(split, len(train), len(test), separate=True)
            train, test = train.subset(0, split[0]), test.subset(0, split[1])
        return DataSplit(train, test, None)
    n_train, n_test = split if split is not None else TEST_ONLY_SPLIT
    if split is None and len(test) < n_train + n_test:  # small folders: keep the 4:1 ratio
        n_test = max(1, len(test) // 5)
        n_train = len(test) - n_test
    _check_split((n_train, n_test), len(test), 0, separate=False)
    note = (f"only test files found: training on the first {n_train:,}, "
            f"testing on the last {n_test:,}")
    return DataSplit(test.subset(0, n_train), test.subset(len(test) - n_test), note)


def _check_split(split: tuple[int, int], n_first: int, n_second: int, *, separate: bool) -> None:
    n_train, n_test = split
    if n_train < 1 or n_test < 1:
        raise DataError(f"split {n_train}/{n_test}: both parts need at least one image")
    if separate and (n_train > n_first or n_test > n_second):
        raise DataError(f"split {n_train}/{n_test}: only {n_first} training and {n_second} test images")
    if not separate and n_train + n_test > n_first:
        raise DataError(f"split {n_train}/{n_test}: only {n_first} images, and the parts may not overlap")


def cache_dir() -> Path:
    """Where downloads go: ``$HOODWINK_CACHE`` or ``~/.cache/hoodwink``."""
    root = os.environ.get("HOODWINK_CACHE")
    return Path(root) if root else Path.home() / ".cache" / "hoodwink"


def _md5(path: Path) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def download_mnist(
    root: str | os.PathLike[str] | None = None,
    *,
    mirrors: Sequence[str] = MNIST_MIRRORS,
    files: dict[str, str] | None = None,
    progress: Callable[[str], None] | None = None,
) -> Path:
    """Download the MNIST files into ``root`` (default: the cache) and return that folder.

    Files already there with the right md5 are kept; each file is tried on every
    mirror in turn, checked against its md5 and written atomically, so a failed or
    corrupt download never leaves a file behind.

    Args:
        root: target folder; default ``cache_dir() / "mnist"``.
        mirrors: base URLs (``https://``, ``http://`` or ``file://``) ending in ``/``.
        files: file name -> md5; default :data:`MNIST_FILES`.
        progress: called with a short message per file (e.g. to print on stderr).
    """
    folder = Path(root) if root is not None else cache_dir() / "mnist"
    folder.mkdir(parents=True, exist_ok=True)
    for name, md5 in (files or MNIST_FILES).items():
        target = folder / name
        if target.is_file() and _md5(target) == md5:
            continue
        errors: list[str] = []
        for mirror in mirrors:
            url = mirror.rstrip("/") + "/" + name
            if progress:
                progress(f"downloading {url}")
            try:
                data = _fetch(url)
            except DataError as exc:
                errors.append(str(exc))
                continue
            if hashlib.md5(data, usedforsecurity=False).hexdigest() != md5:
                errors.append(f"{url}: checksum mismatch")
                continue
            write_atomic(target, data)
            break
        else:
            raise DataError(f"could not download {name}: " + "; ".join(errors or ["no mirrors"]))
    return folder


def _fetch(url: str) -> bytes:
    """The bytes at an http(s) URL (within :data:`DOWNLOAD_DEADLINE_S` in all) or a file:// URL."""
    if url.startswith("file://"):
        path = Path(urllib.request.url2pathname(urllib.parse.urlsplit(url).path))
        try:
            if path.stat().st_size > MAX_DOWNLOAD_BYTES:
                raise DataError(f"{url}: too large (over {MAX_DOWNLOAD_BYTES} bytes)")
            return path.read_bytes()
        except OSError as exc:
            raise DataError(f"{url}: {exc.strerror or exc}") from exc
    if not url.startswith(("http://", "https://")):
        raise DataError(f"{url}: only http(s) and file URLs are supported")
    try:
        return fetch(url, max_bytes=MAX_DOWNLOAD_BYTES, deadline_s=DOWNLOAD_DEADLINE_S,
                     read_timeout_s=DOWNLOAD_TIMEOUT_S)
    except DownloadError as exc:
        raise DataError(str(exc)) from exc


# --- folders of images ----------------------------------------------------------

def load_image_folder(
    folder: str | os.PathLike[str],
    *,
    size: tuple[int, int] = (28, 28),
    channels: int = 1,
    classes: Sequence[str] | None = None,
) -> ImageSet:
    """A folder with one sub-folder of images per class (``folder/3/*.png``, ...).

    Classes are the sub-folder names in sorted order (or ``classes``, which must
    all exist). Every image is converted to ``channels`` (1: luma, as the
    classifier does) and resized to ``size`` (antialiased bilinear).
    """
    from hoodwink.images import IMAGE_SUFFIXES, load_image

    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(f"{folder}: no such folder")
    found = sorted(p.name for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))
    names = list(classes) if classes is not None else found
    missing = [c for c in names if c not in found]
    if missing:
        raise DataError(f"{folder}: no sub-folder for class {', '.join(missing)}")
    if len(names) < 2:
        raise DataError(f"{folder}: needs one sub-folder per class (at least two classes)")
    images: list[torch.Tensor] = []
    labels: list[int] = []
    weights = torch.tensor([0.299, 0.587, 0.114]).view(3, 1, 1)
    for index, name in enumerate(names):
        files = sorted(p for p in (folder / name).iterdir()
                       if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
        for path in files:
            pixels = load_image(path)
            if channels == 1:
                pixels = (pixels * weights).sum(0, keepdim=True)
            if tuple(pixels.shape[-2:]) != size:
                pixels = F.interpolate(pixels[None], size=size, mode="bilinear", antialias=True,
                                       align_corners=False)[0].clamp(0, 1)
            images.append(torch.round(pixels * 255) / 255)
            labels.append(index)
    if not images:
        raise DataError(f"{folder}: no image files in the class sub-folders")
    return ImageSet(torch.stack(images), torch.tensor(labels, dtype=torch.int64), tuple(names), str(folder))


def load_dataset(
    source: str | os.PathLike[str], *, split: tuple[int, int] | None = None, seed: int = 0
) -> DataSplit:
    """Training and test images from a folder, or ``"mnist"`` to download MNIST.

    * a folder with MNIST IDX files: :func:`load_mnist`;
    * a folder with ``train/`` and ``test/`` sub-folders, each one sub-folder per class;
    * a folder with one sub-folder per class: a seeded 4:1 train/test split
      (or ``split`` = (train, test) counts);
    * ``"mnist"`` (when no such folder exists): download MNIST into the cache.
    """
    text = os.fspath(source)
    folder = Path(text)
    if not folder.exists() and text.lower() == "mnist":
        folder = download_mnist()
    if not folder.is_dir():
        raise DataError(f"{folder}: no such folder (give a folder of MNIST files or of class folders)")
    if is_mnist_folder(folder):
        return load_mnist(folder, split=split)
    if (folder / "train").is_dir() and (folder / "test").is_dir():
        train = load_image_folder(folder / "train")
        return DataSplit(train, load_image_folder(folder / "test", classes=train.classes), None)
    full = load_image_folder(folder)
    order = torch.randperm(len(full), generator=torch.Generator().manual_seed(seed))
    n_train, n_test = split if split is not None else (len(full) - max(1, len(full) // 5), max(1, len(full) // 5))
    _check_split((n_train, n_test), len(full), 0, separate=False)
    train_idx, test_idx = order[:n_train], order[len(full) - n_test:]
    note = f"no train/test folders: a seeded split of {n_train:,} training and {n_test:,} test images"
    return DataSplit(
        ImageSet(full.images[train_idx], full.labels[train_idx], full.classes, full.source),
        ImageSet(full.images[test_idx], full.labels[test_idx], full.classes, full.source),
        note,
    )


def export_pngs(
    data: ImageSet, folder: str | os.PathLike[str], *, count: int = 10, start: int = 0
) -> list[Path]:
    """Write ``count`` images from ``start`` as 8-bit PNGs named ``{index:05d}-{class}.png``.

    The PNGs are grayscale at the dataset's size; ``hoodwink predict FILE --model
    digits.safetensors`` reads them.
    """
    from hoodwink.images import save_image

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    stop = min(len(data), start + count)
    paths = []
    for i in range(start, stop):
        name = data.classes[int(data.labels[i])]
        safe = "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in name)
        paths.append(save_image(data.images[i], folder / f"{i:05d}-{safe}.png"))
    return paths
