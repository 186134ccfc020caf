"""Labelled images for an evaluation: what the model is judged against.

:func:`load_data` takes any of:

* a folder whose file names start with the class index
  (``388_n02510455_giant_panda.JPEG``, as ``imagenet-samples``);
* a folder with one sub-folder per class (named by index, by a class name or
  WordNet id the model knows, or else numbered in sorted order);
* a folder of MNIST IDX files (its test part: the images training held out);
* a CSV file of ``path,label`` rows (paths relative to the file; a header
  row is allowed; labels are indices or class names);
* in Python: an :class:`~hoodwink.train.data.ImageSet`, a pair of tensors
  ``(images, labels)``, or any PyTorch ``Dataset``/``DataLoader`` yielding
  ``(image, label)``.

Images are loaded lazily by dataset index (file sources) and fingerprinted
(a SHA-256 of every file's bytes and label, or of the tensors), so a store can
tell whether a rerun is on the same data.

Example:
    >>> import torch
    >>> data = load_data((torch.zeros(3, 1, 4, 4), torch.tensor([0, 1, 2])))
    >>> len(data), data.labels.tolist(), data.fingerprint[:8] == load_data(
    ...     (torch.zeros(3, 1, 4, 4), torch.tensor([0, 1, 2]))).fingerprint[:8]
    (3, [0, 1, 2], True)
"""

from __future__ import annotations

import csv
import hashlib
import os
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from hoodwink.errors import HoodwinkError
from hoodwink.models.labels import Labels


class DataError(HoodwinkError):
    """Labelled data that cannot be found, read or understood."""


#: A file name that starts with a class index: ``388_...``, ``7-...``, ``12.png``.
_INDEXED = re.compile(r"^(\d+)(?:[_\-. ]|$)")


@dataclass(frozen=True)
class LabelledData:
    """N labelled images, loaded by dataset index.

    Attributes:
        source: where the data came from, for reports.
        names: (N,) a name per image (its file path, or ``#i``).
        labels: (N,) long, the true class of each image.
        fingerprint: SHA-256 hex of the data (file bytes or tensors) and labels.
        classes: class names from the data itself (sub-folders), or None.
        note: how the data was read, when a user should know (or None).
    """

    source: str
    names: tuple[str, ...]
    labels: torch.Tensor
    fingerprint: str
    loader: Callable[[int], torch.Tensor] = field(repr=False)
    classes: tuple[str, ...] | None = None
    note: str | None = None

    def __len__(self) -> int:
        return len(self.names)

    def image(self, index: int) -> torch.Tensor:
        """Image ``index`` as (C, H, W) float in [0, 1]."""
        return self.loader(index)

    def images(self, indices: Iterable[int]) -> list[torch.Tensor]:
        """Images by index (their sizes may differ)."""
        return [self.loader(int(i)) for i in indices]


def file_label(name: str | os.PathLike[str]) -> int | None:
    """The class index a file name starts with (``388_panda.png`` -> 388), or None.

    Example:
        >>> file_label("photos/388_n02510455_giant_panda.JPEG"), file_label("panda.png")
        (388, None)
    """
    found = _INDEXED.match(Path(name).name)
    return None if found is None else int(found.group(1))


def is_class_folder(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` is a folder of class sub-folders (and no images of its own)."""
    folder = Path(path)
    if not folder.is_dir() or _image_files(folder):
        return False
    return any(p.is_dir() and not p.name.startswith(".") for p in folder.iterdir())


def load_data(source: Any, *, labels: Labels | None = None, limit: int | None = None) -> LabelledData:
    """Labelled data from a folder, a CSV file, tensors, an ImageSet or a Dataset/DataLoader.

    Args:
        source: see the module docstring.
        labels: the model's labels, to read class names (``giant panda``) or
            WordNet ids (``n02510455``) in sub-folder names and CSV files.
        limit: keep only the first ``limit`` images.
    """
    if limit is not None and limit < 1:
        raise DataError(f"limit must be a positive number of images, not {limit}")
    data = _load(source, labels)
    if limit is not None and limit < len(data):
        data = _cut(data, limit)
    if len(data) == 0:
        raise DataError(f"{data.source}: no images")
    return data


def _load(source: Any, labels: Labels | None) -> LabelledData:
    from hoodwink.train.data import ImageSet

    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        if path.is_dir():
            return _folder(path, labels)
        if path.is_file() and path.suffix.lower() in (".csv", ".txt"):
            return _csv(path, labels)
        if path.exists():
            raise DataError(f"{path}: give a folder of images or a CSV of path,label")
        raise DataError(f"{path}: no such file or folder")
    if isinstance(source, ImageSet):
        return from_tensors(source.images, source.labels, source=source.source or "images",
                            classes=source.classes)
    if isinstance(source, tuple) and len(source) == 2 and all(isinstance(t, torch.Tensor) for t in source):
        return from_tensors(source[0], source[1])
    if hasattr(source, "__getitem__") and hasattr(source, "__len__"):
        return _dataset(source)
    if hasattr(source, "__iter__"):
        return _iterable(source)
    raise DataError(f"cannot read labelled images from a {type(source).__name__}")


def from_tensors(images: torch.Tensor, labels: torch.Tensor, *, source: str = "tensors",
                 classes: Sequence[str] | None = None) -> LabelledData:
    """Data from images (N, C, H, W) in [0, 1] and labels (N,)."""
    if images.dim() != 4 or labels.dim() != 1 or len(images) != len(labels):
        raise DataError(f"images (N, C, H, W) and labels (N,) do not match: "
                        f"{tuple(images.shape)} and {tuple(labels.shape)}")
    if labels.is_floating_point() or (len(labels) and int(labels.min()) < 0):
        raise DataError("labels must be non-negative class indices")
    if images.numel() and (float(images.min()) < 0 or float(images.max()) > 1):
        raise DataError("images must be in [0, 1]")
    images = images.detach().float().cpu()
    labels = labels.detach().long().cpu()
    digest = hashlib.sha256()
    digest.update(str(tuple(images.shape)).encode())
    digest.update(images.contiguous().numpy().tobytes())
    digest.update(labels.numpy().tobytes())
    return LabelledData(source, tuple(f"#{i}" for i in range(len(labels))), labels,
                        digest.hexdigest(), lambda i: images[i],
                        tuple(classes) if classes is not None else None)


def _cut(data: LabelledData, n: int) -> LabelledData:
    digest = hashlib.sha256(f"{data.fingerprint}:first {n}".encode()).hexdigest()
    return LabelledData(data.source, data.names[:n], data.labels[:n], digest, data.loader,
                        data.classes, data.note)


def _to_image(item: Any) -> torch.Tensor:
    if isinstance(item, torch.Tensor) and item.dim() == 3 and item.is_floating_point():
        return item.detach().float().cpu().clamp(0, 1)
    from hoodwink.images import load_image

    return load_image(item)


def _label(value: Any) -> int:
    if isinstance(value, torch.Tensor):
        value = value.item()
    if isinstance(value, bool) or int(value) != value or int(value) < 0:
        raise DataError(f"a label must be a non-negative class index, not {value!r}")
    return int(value)


def _dataset(dataset: Any) -> LabelledData:
    """A map-style Dataset: fingerprinted by reading every item once, then loaded lazily."""
    n = len(dataset)
    labels, digest = [], hashlib.sha256()
    for i in range(n):
        image, label = dataset[i]
        labels.append(_label(label))
        digest.update(_to_image(image).contiguous().numpy().tobytes())
    return LabelledData(type(dataset).__name__, tuple(f"#{i}" for i in range(n)),
                        torch.tensor(labels, dtype=torch.long),
                        hashlib.sha256(digest.digest() + str(labels).encode()).hexdigest(),
                        lambda i: _to_image(dataset[i][0]))


def _iterable(loader: Iterable[Any]) -> LabelledData:
    """A DataLoader (or any iterable of (image, label) or batches of them): read once."""
    images: list[torch.Tensor] = []
    labels: list[int] = []
    for item in loader:
        try:
            image, label = item
        except (TypeError, ValueError):
            raise DataError("a DataLoader must yield (image, label) pairs") from None
        if isinstance(image, torch.Tensor) and image.dim() == 4:
            images.extend(_to_image(x) for x in image)
            labels.extend(_label(v) for v in torch.as_tensor(label).flatten())
        else:
            images.append(_to_image(image))
            labels.append(_label(label))
    digest = hashlib.sha256()
    for image in images:
        digest.update(str(tuple(image.shape)).encode())
        digest.update(image.contiguous().numpy().tobytes())
    digest.update(str(labels).encode())
    return LabelledData(type(loader).__name__, tuple(f"#{i}" for i in range(len(images))),
                        torch.tensor(labels, dtype=torch.long), digest.hexdigest(),
                        lambda i: images[i])


def _files(paths: Sequence[Path], labels: Sequence[int], source: str, root: Path,
           classes: tuple[str, ...] | None = None, note: str | None = None) -> LabelledData:
    """Image files with labels: fingerprinted by their bytes, decoded when asked for."""
    digest = hashlib.sha256()
    for path, label in zip(paths, labels):
        try:
            content = path.read_bytes()
        except OSError as exc:
            raise DataError(f"{path}: could not read ({exc.strerror or exc})") from exc
        digest.update(f"{path.relative_to(root).as_posix()}\0{label}\0".encode())
        digest.update(hashlib.sha256(content).digest())
    frozen = tuple(paths)

    def load(i: int) -> torch.Tensor:
        from hoodwink.images import load_image

        return load_image(frozen[i])

    return LabelledData(source, tuple(str(p) for p in frozen),
                        torch.tensor(list(labels), dtype=torch.long), digest.hexdigest(), load,
                        classes, note)


def _image_files(folder: Path) -> list[Path]:
    from hoodwink.images import IMAGE_SUFFIXES

    return sorted(p for p in folder.iterdir()
                  if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith("."))


def _folder(folder: Path, labels: Labels | None) -> LabelledData:
    from hoodwink.train.data import is_mnist_folder, load_mnist

    if is_mnist_folder(folder):
        split = load_mnist(folder)
        test = split.test
        data = from_tensors(test.images, test.labels, source=str(folder), classes=test.classes)
        note = ("MNIST: the test images" if split.note is None else
                f"MNIST: the {len(test):,} held-out test images ({split.note})")
        return LabelledData(data.source, data.names, data.labels, data.fingerprint, data.loader,
                            data.classes, note)
    files = _image_files(folder)
    if files:
        found = [file_label(p) for p in files]
        missing = [p.name for p, label in zip(files, found) if label is None]
        if missing:
            raise DataError(f"{folder}: {missing[0]} does not start with its class index "
                            "(name files like 388_panda.jpg, or use one sub-folder per class)")
        return _files(files, [label for label in found if label is not None], str(folder), folder)
    subfolders = sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not subfolders:
        raise DataError(f"{folder}: no images and no class sub-folders")
    names = [p.name for p in subfolders]
    class_of, how = _class_names(names, labels, folder)
    paths: list[Path] = []
    targets: list[int] = []
    for sub in subfolders:
        for path in _image_files(sub):
            paths.append(path)
            targets.append(class_of[sub.name])
    if not paths:
        raise DataError(f"{folder}: no image files in the class sub-folders")
    classes = tuple(names) if how == "sorted" else None
    numbered = (f"classes numbered in sorted order of the {len(names)} sub-folders"
                if how == "sorted" else None)
    return _files(paths, targets, str(folder), folder, classes, numbered)


def _class_names(names: list[str], labels: Labels | None, where: Path) -> tuple[dict[str, int], str]:
    """Sub-folder name -> class: integers, names the model knows, or sorted order."""
    if all(n.isdigit() for n in names):
        return {n: int(n) for n in names}, "index"
    if labels is not None:
        out: dict[str, int] = {}
        for n in names:
            try:
                out[n] = labels.find(n.replace("_", " "))
            except HoodwinkError:
                try:
                    out[n] = labels.find(n)
                except HoodwinkError as exc:
                    raise DataError(f"{where / n}: not a class of the model ({exc})") from None
        return out, "labels"
    return {n: i for i, n in enumerate(names)}, "sorted"


def _csv(path: Path, labels: Labels | None) -> LabelledData:
    root = path.parent
    paths: list[Path] = []
    targets: list[int] = []
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            rows = [r for r in csv.reader(handle) if r and not r[0].startswith("#")]
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise DataError(f"{path}: could not read ({exc})") from exc
    for line, row in enumerate(rows, 1):
        if len(row) < 2:
            raise DataError(f"{path}:{line}: expected path,label")
        file, label = row[0].strip(), row[1].strip()
        if line == 1 and label.lower() in ("label", "class", "target"):
            continue
        if label.isdigit():
            target = int(label)
        elif labels is not None:
            try:
                target = labels.find(label)
            except HoodwinkError as exc:
                raise DataError(f"{path}:{line}: {exc}") from None
        else:
            raise DataError(f"{path}:{line}: label {label!r} is not a class index")
        image = Path(file) if Path(file).is_absolute() else root / file
        if not image.is_file():
            raise DataError(f"{path}:{line}: {file}: no such file")
        paths.append(image)
        targets.append(target)
    if not paths:
        raise DataError(f"{path}: no rows of path,label")
    common = Path(os.path.commonpath([str(p.resolve()) for p in paths] + [str(root.resolve())]))
    return _files([p.resolve() for p in paths], targets, str(path), common)


__all__ = ["DataError", "LabelledData", "file_label", "from_tensors", "is_class_folder", "load_data"]
