"""What the playground allows, because it is a server: caps on steps, eps, uploads and time.

Nothing here imports Gradio. The caps are checked again on every request (a request
made through the API, not the page, gets the same answers), and an upload is decoded
exactly as the command line decodes a file (:func:`hoodwink.images.load_image`: header
checks, the pixel and aspect caps, one-line :class:`~hoodwink.errors.ImageError`).

Example:
    >>> limits = Limits(max_steps=50, max_eps=16 / 255)
    >>> limits.check_steps(20), round(limits.check_eps(8) * 255)
    (20, 8)
    >>> limits.check_steps(500)
    Traceback (most recent call last):
    hoodwink.errors.ParameterError: steps must be between 1 and 50 on this server, not 500
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import math
import os
from dataclasses import dataclass
from pathlib import Path

import torch

from hoodwink.errors import ImageError, ParameterError
from hoodwink.images import load_image

#: Hosts that only this machine can reach.
LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


@dataclass(frozen=True)
class Limits:
    """Caps for one server.

    Attributes:
        max_steps: the most attack steps one request may ask for.
        max_eps: the largest Linf radius, in [0, 1] pixel units (16/255 by default).
        max_upload_bytes: the largest upload (Gradio refuses bigger files before they
            reach us; :func:`read_upload` checks again).
        max_pixels: decoded images above this are refused from their header (None: the
            command line's cap, :func:`hoodwink.images.limits`).
        time_limit_s: a request that runs longer is stopped and shows what it has.
        queue_size: requests waiting beyond this are refused ("the server is busy").
        concurrency: requests that use the model at once (1: the CPU model is shared).
    """

    max_steps: int = 200
    max_eps: float = 16 / 255
    max_upload_bytes: int = 10 * 1024 * 1024
    max_pixels: int | None = None
    time_limit_s: float = 120.0
    queue_size: int = 32
    concurrency: int = 1

    def __post_init__(self) -> None:
        if not (isinstance(self.max_steps, int) and 1 <= self.max_steps <= 10_000):
            raise ParameterError(f"max_steps must be an integer from 1 to 10000, not {self.max_steps!r}")
        if not (math.isfinite(self.max_eps) and 0 < self.max_eps <= 1):
            raise ParameterError(f"max_eps must be in (0, 1] (pixel units), not {self.max_eps!r}")
        if self.max_upload_bytes < 1024:
            raise ParameterError(f"max_upload_bytes must be at least 1024, not {self.max_upload_bytes}")
        if self.max_pixels is not None and self.max_pixels < 1:
            raise ParameterError(f"max_pixels must be positive, not {self.max_pixels}")
        if not (math.isfinite(self.time_limit_s) and self.time_limit_s > 0):
            raise ParameterError(f"time_limit_s must be positive, not {self.time_limit_s!r}")
        if self.queue_size < 1 or self.concurrency < 1:
            raise ParameterError("queue_size and concurrency must be at least 1")

    @property
    def max_eps_255(self) -> int:
        """The eps cap in 8-bit levels (at least 1)."""
        return max(1, math.floor(self.max_eps * 255 + 1e-9))

    def check_steps(self, steps: float | None) -> int:
        """``steps`` as an int within 1..max_steps, or a ParameterError that says the cap."""
        if steps is None or isinstance(steps, bool):
            raise ParameterError("choose a number of steps")
        value = float(steps)
        if not (math.isfinite(value) and value == int(value) and 1 <= value <= self.max_steps):
            raise ParameterError(f"steps must be between 1 and {self.max_steps} on this server, "
                                 f"not {value:g}")
        return int(value)

    def check_eps(self, eps_255: float | None) -> float:
        """An eps given in 8-bit levels (``8`` means 8/255) as pixel units, within the cap."""
        if eps_255 is None or isinstance(eps_255, bool):
            raise ParameterError(f"choose an eps from 1/255 to {self.max_eps_255}/255")
        value = float(eps_255)
        if not (math.isfinite(value) and 0 < value <= self.max_eps_255):
            raise ParameterError(f"eps must be between 1/255 and {self.max_eps_255}/255 on this server, "
                                 f"not {value:g}/255")
        return value / 255


def read_upload(source: str | os.PathLike[str] | bytes | None, limits: Limits) -> torch.Tensor:
    """Decode an uploaded image (a path in Gradio's cache, or the bytes of a data URL)
    as the command line decodes a file; anything else is one :class:`ImageError` line.

    Example:
        >>> read_upload(b"hello", Limits())
        Traceback (most recent call last):
        hoodwink.errors.ImageError: upload: not an image (or a format Pillow cannot read)
    """
    if source is None:
        raise ImageError("no image yet: upload one, take one with the webcam or pick a sample")
    cap = limits.max_upload_bytes
    if isinstance(source, (bytes, bytearray)):
        if len(source) > cap:
            raise ImageError(f"upload: {len(source):,} bytes is more than this server takes ({cap:,})")
        try:
            return load_image(bytes(source), max_pixels=limits.max_pixels)
        except ImageError as exc:
            raise ImageError(str(exc).replace("bytes:", "upload:", 1)) from None
    path = Path(source)
    try:
        size = path.stat().st_size
    except OSError:
        raise ImageError("upload: the file is gone (uploads are kept for a while only); upload it again") from None
    if size > cap:
        raise ImageError(f"{path.name}: {size:,} bytes is more than this server takes ({cap:,})")
    try:
        return load_image(path, max_pixels=limits.max_pixels)
    except ImageError as exc:
        raise ImageError(str(exc).replace(str(path), path.name)) from None


def decode_data_url(url: str, limits: Limits) -> bytes:
    """The bytes of a ``data:image/...;base64,...`` URL (a webcam frame), within the upload cap."""
    header, _, body = url.partition(",")
    if not header.startswith("data:") or ";base64" not in header:
        raise ImageError("upload: not a base64 data URL")
    if len(body) * 3 // 4 > limits.max_upload_bytes:
        raise ImageError(f"upload: more than this server takes ({limits.max_upload_bytes:,} bytes)")
    try:
        return base64.b64decode(body, validate=True)
    except (binascii.Error, ValueError):
        raise ImageError("upload: the data URL is not valid base64") from None


def is_local(host: str) -> bool:
    """True when only this machine can reach ``host`` (loopback)."""
    if host in LOCAL_HOSTS:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False
