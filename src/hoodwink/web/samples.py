"""The images the playground offers without an upload.

scikit-image's photos (chelsea, coffee, ...), the synthetic starts of the talk
(black, white, gray, noise) and, when a folder of photos is given (the project's
``../shared/data/imagenet-samples/images`` by default, when it exists), one photo
per class named by its file (``388_n02510455_giant_panda.JPEG`` is "photo: giant
panda"). A sample becomes a file only when it is picked, in the playground's folder;
photos are copied byte for byte (the page shows, and the model is asked about,
exactly that file).

Example:
    >>> samples = Samples(Path("/tmp/hw-samples"), photos=None)
    >>> samples.names()[:3]
    ['chelsea', 'coffee', 'astronaut']
"""

from __future__ import annotations

import re
import shutil
import threading
from pathlib import Path

from hoodwink.errors import ImageError
from hoodwink.images import IMAGE_SUFFIXES, load_image, save_image

#: Bundled starts, in the order the page lists them (chelsea is the talk's cat).
BUILTIN = ("chelsea", "coffee", "astronaut", "rocket", "black", "white", "gray", "noise")
#: The project's shared photos, relative to the working directory.
SHARED_PHOTOS = Path("../shared/data/imagenet-samples/images")
#: Photos offered from a folder, at most.
MAX_PHOTOS = 500

_PHOTO_NAME = re.compile(r"^\d+_n\d{8}_(?P<name>.+)$")


def photo_name(path: Path) -> str:
    """The page's name of a photo file: ``388_n02510455_giant_panda.JPEG`` -> ``photo: giant panda``."""
    match = _PHOTO_NAME.match(path.stem)
    return "photo: " + (match.group("name") if match else path.stem).replace("_", " ")


class Samples:
    """Named sample images, written to ``folder`` on first use.

    Args:
        folder: where picked samples are written.
        photos: a folder of photos to offer too (None: none).
    """

    def __init__(self, folder: Path, photos: Path | None = SHARED_PHOTOS) -> None:
        self.folder = folder
        self._photos: dict[str, Path] = {}
        if photos is not None and photos.is_dir():
            files = sorted(p for p in photos.iterdir()
                           if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)[:MAX_PHOTOS]
            for path in files:
                self._photos.setdefault(photo_name(path), path)
        self._lock = threading.Lock()

    def names(self) -> list[str]:
        """Every sample's name, built-in ones first."""
        return [*BUILTIN, *self._photos]

    def path(self, name: str) -> Path:
        """The file of sample ``name`` (written on first use)."""
        if name in self._photos:
            source = self._photos[name]
            target = self.folder / f"photo-{_slug(name)}{source.suffix.lower()}"
            with self._lock:
                if not target.exists():
                    self.folder.mkdir(parents=True, exist_ok=True)
                    shutil.copyfile(source, target)
            return target
        if name not in BUILTIN:
            raise ImageError(f"unknown sample {name!r}; choose one of the list")
        target = self.folder / f"sample-{name}.png"
        with self._lock:
            if not target.exists():
                self.folder.mkdir(parents=True, exist_ok=True)
                save_image(load_image(name), target)
        return target


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "photo"
