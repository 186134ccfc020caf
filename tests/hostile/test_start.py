"""Refusing a hostile file costs no torch import, and a huge photo is shrunk while it is decoded."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from hoodwink.images import load_image

CORPUS = Path(__file__).resolve().parents[1] / "data" / "hostile"


def _torch_imported(code: str) -> bool:
    out = subprocess.run([sys.executable, "-c", code + "\nimport sys; print('torch' in sys.modules)"],
                         check=False, capture_output=True, text=True, timeout=60)
    return out.stdout.strip().splitlines()[-1] == "True"


def test_import_hoodwink_does_not_import_torch() -> None:
    assert not _torch_imported("import hoodwink, hoodwink.cli, hoodwink.models\n"
                               "assert hoodwink.models.DEFAULT_MODEL")


@pytest.mark.parametrize("name", ["png-bomb-8000x8000.png", "png-first-20-bytes.png", "text.png"])
def test_predict_refuses_a_hostile_file_before_importing_torch(name: str) -> None:
    code = ("from hoodwink.cli import main\n"
            f"try:\n    main(['predict', {str(CORPUS / name)!r}])\n"
            "except SystemExit as exc:\n    assert exc.code == 1, exc.code\n")
    assert not _torch_imported(code)


def test_the_public_names_still_resolve() -> None:
    import hoodwink

    assert callable(hoodwink.predict) and callable(hoodwink.load_model)
    # a fresh process that imports the module hoodwink.predict before the name is asked for
    code = ("import hoodwink.predict, hoodwink\n"
            "assert callable(hoodwink.predict), hoodwink.predict\n"
            "from hoodwink import predict\nassert callable(predict)\n"
            "from hoodwink.predict import Prediction\nassert Prediction.__name__ == 'Prediction'")
    done = subprocess.run([sys.executable, "-c", code], check=False, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        _ = hoodwink.nope  # type: ignore[attr-defined]


def _stripes(width: int, height: int) -> Image.Image:
    rng = np.random.default_rng(0)
    tile = rng.integers(0, 256, (height // 8, width // 8, 3), dtype=np.uint8)
    return Image.fromarray(np.kron(tile, np.ones((8, 8, 1), dtype=np.uint8)))


def test_side_shrinks_a_big_png_by_a_whole_factor_in_8_bits(tmp_path: Path) -> None:
    path = tmp_path / "big.png"
    _stripes(800, 640).save(path)
    full = load_image(path)
    small = load_image(path, side=100)
    assert tuple(small.shape) == (3, 107, 134)      # 640 // 100 = 6: ceil(640 / 6), ceil(800 / 6)
    box = torch.nn.functional.avg_pool2d(full[None], 6)[0]     # the whole 6 x 6 blocks
    assert (small[:, :106, :133] - box).abs().max() <= 1 / 255 + 1e-6   # box means, in 8 bits
    assert load_image(path, side=400).shape == full.shape       # 640 < 2 * 400: as it is


def test_side_decodes_a_big_jpeg_smaller_to_begin_with() -> None:
    buffer = io.BytesIO()
    _stripes(1600, 1200).save(buffer, format="JPEG", quality=95)
    full = load_image(buffer.getvalue())
    small = load_image(buffer.getvalue(), side=256)
    assert min(small.shape[1:]) >= 256 and small.shape[1] <= full.shape[1] // 4
    shrunk = torch.nn.functional.interpolate(full[None], size=small.shape[1:], mode="area")[0]
    assert (small - shrunk).abs().mean() < 0.03
