"""What every figure shares: a fresh object-API figure, image conversion, labels, atomic PNG saving.

Figures are built with :class:`matplotlib.figure.Figure` directly (never pyplot's
global state), so they are thread-safe, need no display and can be inspected in
tests. :func:`save_figure` writes a PNG atomically; :func:`figure_png` gives the
bytes for Jupyter's ``_repr_png_`` and for HTML pages.

Example:
    >>> fig = new_figure(4, 3)
    >>> ax = fig.add_subplot()
    >>> png = figure_png(fig)
    >>> png[:8] == b"\\x89PNG\\r\\n\\x1a\\n"
    True
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import torch
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from hoodwink.errors import ParameterError
from hoodwink.io import check_output
from hoodwink.io import write_atomic as io_write_atomic
from hoodwink.predict import Prediction

#: Resolution of saved PNGs (dots per inch).
DPI = 100

#: Rows a many-image picture draws at most (the first images): hundreds of rows help nobody.
GRID_ROWS = 8

#: One colour per class, in the order classes are met (tab10, as matplotlib's default cycle).
PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
           "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf")


def new_figure(width: float, height: float) -> Figure:
    """A figure of ``width`` x ``height`` inches with a tight, constrained layout."""
    return Figure(figsize=(width, height), dpi=DPI, layout="constrained")


def as_hwc(image: torch.Tensor | np.ndarray) -> np.ndarray:
    """An (H, W, 3) or (H, W) float array in [0, 1] from a (C, H, W) or (1, C, H, W) image.

    Raises:
        ParameterError: for any other shape.
    """
    array = image.detach().float().cpu().numpy() if isinstance(image, torch.Tensor) else np.asarray(image)
    if array.ndim == 4 and array.shape[0] == 1:
        array = array[0]
    if array.ndim == 3 and array.shape[0] in (1, 3):
        array = array.transpose(1, 2, 0)
    elif array.ndim == 2:
        array = array[..., None]
    if array.ndim != 3 or array.shape[2] not in (1, 3):
        raise ParameterError(f"expected one image (C, H, W) with 1 or 3 channels, got shape {np.shape(image)}")
    if array.shape[2] == 1:
        array = array[..., 0]
    return np.clip(array.astype(np.float64), 0.0, 1.0)


def show_image(ax: Axes, image: torch.Tensor | np.ndarray, title: str = "") -> None:
    """Draw an image on ``ax`` without ticks; grayscale images in gray."""
    array = as_hwc(image)
    ax.imshow(array, cmap="gray" if array.ndim == 2 else None, vmin=0.0, vmax=1.0,
              interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(title, fontsize=9)


def describe_top(predictions: Sequence[Prediction], k: int = 2) -> str:
    """The top ``k`` classes as lines: ``"tiger cat 39.1%\\nEgyptian cat 35.0%"``."""
    return "\n".join(f"{p.name} {percent(p.probability)}" for p in list(predictions)[:k])


def percent(probability: float) -> str:
    """``0.391 -> "39.1%"``; tiny values keep two digits (``"0.021%"``); never a false "100.0%"."""
    value = 100.0 * float(probability)
    if value >= 99.95 and value < 100.0:
        return ">99.9%"
    if value >= 1.0 or value == 0.0:
        return f"{value:.1f}%"
    return f"{value:.2g}%"


def pixels(value: float) -> str:
    """A pixel distance in units of 1/255: ``8/255 -> "8/255"``, ``0.01 -> "2.55/255"``."""
    levels = float(value) * 255.0
    return f"{round(levels)}/255" if abs(levels - round(levels)) < 1e-6 else f"{levels:.3g}/255"


def figure_png(fig: Figure) -> bytes:
    """The figure as PNG bytes (for ``_repr_png_`` and data URIs)."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI)
    return buffer.getvalue()


def save_figure(fig: Figure, path: str | os.PathLike[str]) -> Path:
    """Write ``fig`` as a PNG atomically (temporary file, then rename); returns the path.

    Raises:
        ImageError: when the path does not end in ``.png``, its folder does not
            exist, or it cannot be written. No half-written file is left.
    """
    path = check_png_path(path)
    write_atomic(path, figure_png(fig))
    return path


def check_png_path(path: str | os.PathLike[str], *, inputs: Iterable[str | os.PathLike[str]] = (),
                   overwrite: bool = False) -> Path:
    """``path`` as a Path if a figure can be saved there (``.png``, existing folder, none of
    ``inputs`` unless ``overwrite``).

    Commands call this before their work, so that a bad ``--plot`` fails at once
    (:func:`hoodwink.io.check_output`).
    """
    return check_output(path, suffixes=(".png",), noun="figures", inputs=inputs, overwrite=overwrite)


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same folder (:func:`hoodwink.io.write_atomic`)."""
    io_write_atomic(path, data)
