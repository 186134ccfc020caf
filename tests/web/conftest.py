"""Fixtures of the playground tests: a tiny ImageNet-labelled model and hostile uploads.

Gradio's own test habits: analytics off, Gradio's cache in a temporary folder, the app
launched without blocking on 127.0.0.1 and stopped by the fixture that started it.
"""

from __future__ import annotations

import io
import os
import struct
import tempfile
import zlib
from pathlib import Path

import pytest
import torch
from torch import nn

os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
os.environ.setdefault("GRADIO_TEMP_DIR", tempfile.mkdtemp(prefix="hoodwink-gradio-tests-"))


def tiny_model(size: int = 32, seed: int = 3):
    """A seeded linear ImageNet classifier on (3, size, size) images: fast, and (its vulture
    row doubled) tricked from chelsea ("Indian elephant") into "vulture" in 5 steps of 1/255."""
    from hoodwink import wrap
    from hoodwink.models import imagenet_labels

    generator = torch.Generator().manual_seed(seed)
    net = nn.Sequential(nn.AdaptiveAvgPool2d(8), nn.Flatten(), nn.Linear(3 * 64, 1000))
    with torch.no_grad():
        for p in net.parameters():
            p.copy_(torch.randn(p.shape, generator=generator) * 0.5)
        net[2].weight[23] *= 2  # vulture
    return wrap(net, imagenet_labels(), input_size=(size, size), mean=(0.5,) * 3, std=(0.5,) * 3,
                resize=None, device="cpu", name="tiny")


@pytest.fixture(scope="session")
def tiny() -> nn.Module:
    return tiny_model()


def png_bomb(width: int = 100_000, height: int = 100_000) -> bytes:
    """A few hundred bytes of PNG whose header claims width x height pixels."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    body = zlib.compress(b"\x00" * 1024)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", body) + chunk(b"IEND", b"")


def truncated_jpeg() -> bytes:
    from PIL import Image
    from skimage import data

    buffer = io.BytesIO()
    Image.fromarray(data.chelsea()).save(buffer, "JPEG")
    whole = buffer.getvalue()
    return whole[: len(whole) // 2]


@pytest.fixture()
def bad_uploads(tmp_path: Path) -> dict[str, Path]:
    """A text file, a JPEG cut in half and a decompression bomb, with what the page must say."""
    files = {"text": ("notes.png", b"this is not an image\n"), "truncated": ("cat.jpg", truncated_jpeg()),
             "bomb": ("bomb.png", png_bomb())}
    out = {}
    for kind, (name, data) in files.items():
        path = tmp_path / name
        path.write_bytes(data)
        out[kind] = path
    return out


#: What the page says about each bad upload (a piece of the one line).
BAD_UPLOAD_WORDS = {"text": "not an image", "truncated": "truncated", "bomb": "bomb"}
