from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from hoodwink.errors import ImageError, ParameterError
from hoodwink.viz.common import (
    as_hwc,
    figure_png,
    new_figure,
    percent,
    pixels,
    save_figure,
    write_atomic,
)


def test_save_figure_writes_a_png_of_the_figure_size_and_no_temporary_file(tmp_path: Path) -> None:
    fig = new_figure(4.0, 3.0)
    fig.add_subplot().plot([0, 1], [1, 0])
    path = save_figure(fig, tmp_path / "fig.png")
    assert path == tmp_path / "fig.png"
    with Image.open(path) as picture:
        assert picture.format == "PNG" and picture.size == (400, 300)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fig.png"]


@pytest.mark.parametrize("name", ["fig.jpg", "fig", "fig.svg"])
def test_save_figure_refuses_anything_but_png(tmp_path: Path, name: str) -> None:
    with pytest.raises(ImageError, match=r"\.png"):
        save_figure(new_figure(2, 2), tmp_path / name)
    assert list(tmp_path.iterdir()) == []


def test_save_figure_refuses_a_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(ImageError, match="does not exist"):
        save_figure(new_figure(2, 2), tmp_path / "nope" / "fig.png")


def test_a_failed_write_keeps_the_existing_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "fig.png"
    target.write_bytes(b"old")
    (tmp_path / "blocker").mkdir()
    monkeypatch.setattr(os, "replace", lambda a, b: os.rename(a, tmp_path / "blocker"))  # EISDIR
    with pytest.raises(ImageError, match="could not write"):
        write_atomic(target, b"new")
    assert target.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["blocker", "fig.png"]


def test_figure_png_is_png_bytes() -> None:
    fig = new_figure(2.0, 1.0)
    with Image.open(io.BytesIO(figure_png(fig))) as picture:
        assert picture.size == (200, 100)


@pytest.mark.parametrize(("value", "text"), [
    (0.391, "39.1%"), (1.0, "100.0%"), (0.99999, ">99.9%"), (0.0, "0.0%"), (0.00021, "0.021%"), (0.9, "90.0%"),
])
def test_percent(value: float, text: str) -> None:
    assert percent(value) == text


def test_pixels() -> None:
    assert pixels(8 / 255) == "8/255" and pixels(1 / 255) == "1/255" and pixels(0.01) == "2.55/255"


def test_as_hwc_moves_channels_last_and_keeps_values() -> None:
    image = torch.rand(3, 5, 7)
    array = as_hwc(image)
    assert array.shape == (5, 7, 3)
    np.testing.assert_allclose(array, image.permute(1, 2, 0).numpy(), atol=1e-6)
    assert as_hwc(torch.rand(1, 1, 5, 7)).shape == (5, 7)
    with pytest.raises(ParameterError):
        as_hwc(torch.rand(2, 3, 5, 7))
