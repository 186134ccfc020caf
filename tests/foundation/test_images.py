from __future__ import annotations

import http.server
import io
import pickle
import struct
import threading
import zlib
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from hoodwink import images as images_module
from hoodwink.errors import ImageError
from hoodwink.images import load_image, load_images, quantize, save_image


def _png_bytes(im: Image.Image, **kwargs: object) -> bytes:
    buffer = io.BytesIO()
    im.save(buffer, format="PNG", **kwargs)
    return buffer.getvalue()


# --- every mode becomes RGB in [0, 1] -------------------------------------------------------

def _check(t: torch.Tensor, h: int = 4, w: int = 6) -> None:
    assert t.shape == (3, h, w) and t.dtype == torch.float32
    assert float(t.min()) >= 0.0 and float(t.max()) <= 1.0


def test_rgb_exact() -> None:
    array = np.arange(4 * 6 * 3, dtype=np.uint8).reshape(4, 6, 3)
    t = load_image(Image.fromarray(array, "RGB"))
    _check(t)
    assert torch.equal(t, torch.from_numpy(array).permute(2, 0, 1).float() / 255)


@pytest.mark.parametrize("mode", ["L", "1", "P", "CMYK", "YCbCr", "LAB", "HSV", "I", "F", "I;16"])
def test_every_mode_to_rgb(mode: str) -> None:
    base = Image.fromarray((np.arange(24).reshape(4, 6) * 10).astype(np.uint8), "L")
    im = base.convert(mode) if mode not in ("I;16",) else Image.fromarray(
        (np.arange(24).reshape(4, 6) * 2000).astype(np.uint16))
    _check(load_image(im))


def test_16_bit_scales_to_unit_range() -> None:
    im = Image.fromarray(np.full((4, 6), 65535, dtype=np.uint16))
    assert torch.allclose(load_image(im), torch.ones(3, 4, 6))


def test_alpha_is_composited_over_white() -> None:
    rgba = np.zeros((4, 6, 4), dtype=np.uint8)  # fully transparent black
    t = load_image(Image.fromarray(rgba, "RGBA"))
    assert torch.allclose(t, torch.ones(3, 4, 6))
    la = Image.fromarray(np.zeros((4, 6, 2), dtype=np.uint8), "LA")
    assert torch.allclose(load_image(la), torch.ones(3, 4, 6))


def test_palette_with_transparency() -> None:
    im = Image.new("P", (6, 4), 0)
    im.putpalette([255, 0, 0] + [0, 0, 0] * 255)
    im.info["transparency"] = 0
    t = load_image(_png_bytes(im, transparency=0))
    assert torch.allclose(t, torch.ones(3, 4, 6))


def test_exif_orientation_is_applied(tmp_path: Path) -> None:
    im = Image.new("RGB", (6, 4), (255, 0, 0))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise on display
    path = tmp_path / "rotated.jpg"
    im.save(path, exif=exif.tobytes())
    assert load_image(path).shape == (3, 6, 4)


def test_animated_gif_uses_first_frame(tmp_path: Path) -> None:
    frames = [Image.new("RGB", (6, 4), c) for c in [(255, 255, 255), (0, 0, 0)]]
    path = tmp_path / "anim.gif"
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=10, loop=0)
    assert float(load_image(path).mean()) > 0.99


def test_arrays_and_tensors() -> None:
    _check(load_image(np.zeros((4, 6), dtype=np.uint8)))
    _check(load_image(np.ones((4, 6, 3), dtype=np.float32)))
    _check(load_image(torch.rand(3, 4, 6)))
    _check(load_image(torch.rand(1, 4, 6)))
    with pytest.raises(ImageError, match=r"\[0, 1\]"):
        load_image(np.full((4, 6, 3), 2.0, dtype=np.float32))
    with pytest.raises(ImageError):
        load_image(np.zeros((2, 4, 6, 3), dtype=np.uint8))


def test_samples_and_synthetic() -> None:
    assert load_image("chelsea").shape == (3, 300, 451)
    assert torch.equal(load_image("sample:coffee"), load_image("coffee"))
    assert float(load_image("black", size=(5, 7)).max()) == 0.0
    assert load_image("white", size=(5, 7)).shape == (3, 5, 7)
    noise = load_image("noise", seed=3)
    assert torch.equal(noise, load_image("noise", seed=3)) and not torch.equal(noise, load_image("noise", seed=4))
    assert torch.equal(noise, quantize(noise))


def test_directory_holds_every_image_sorted(tmp_path: Path) -> None:
    for name in ["b.png", "a.png"]:
        Image.new("RGB", (6, 4)).save(tmp_path / name)
    (tmp_path / "notes.txt").write_text("not an image")
    named = load_images(tmp_path)
    assert [Path(n.name).name for n in named] == ["a.png", "b.png"]
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ImageError, match="no image files"):
        load_images(empty)


# --- bad input: one clear error naming the file ----------------------------------------------

def test_missing_file() -> None:
    with pytest.raises(ImageError, match="nope.png: no such file"):
        load_image("nope.png")


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.png"
    path.write_bytes(b"")
    with pytest.raises(ImageError, match="empty.png: empty file"):
        load_image(path)


def test_not_an_image(tmp_path: Path) -> None:
    path = tmp_path / "fake.jpg"
    path.write_text("hello, I am text")
    with pytest.raises(ImageError, match="fake.jpg: not an image"):
        load_image(path)


@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
def test_truncated_image(tmp_path: Path, fmt: str) -> None:
    rng = np.random.default_rng(0)
    im = Image.fromarray(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8))
    buffer = io.BytesIO()
    im.save(buffer, format=fmt)
    path = tmp_path / f"cut.{fmt.lower()}"
    path.write_bytes(buffer.getvalue()[: len(buffer.getvalue()) // 2])
    with pytest.raises(ImageError, match=f"cut.{fmt.lower()}: .*(truncated|damaged|decode)"):
        load_image(path)


def _bomb_png(width: int, height: int) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)  # 1-bit grayscale
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"")) + chunk(b"IEND", b"")


@pytest.mark.parametrize("side", [9_000, 100_000])  # over our cap, and over Pillow's own
def test_decompression_bomb_is_refused_before_decoding(tmp_path: Path, side: int) -> None:
    path = tmp_path / "bomb.png"
    path.write_bytes(_bomb_png(side, side))
    with pytest.raises(ImageError, match="bomb.png: .*(bomb|cap)"):
        load_image(path)


def test_pixel_cap_is_a_parameter() -> None:
    with pytest.raises(ImageError, match="over the cap of 100"):
        load_image(_png_bytes(Image.new("RGB", (20, 20))), max_pixels=100)


# --- URLs, on a loopback server ----------------------------------------------------------------

@pytest.fixture()
def server(tmp_path: Path) -> Iterator[str]:
    Image.new("RGB", (6, 4), (0, 255, 0)).save(tmp_path / "green.png")

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args: object, **kwargs: object) -> None:
            super().__init__(*args, directory=str(tmp_path), **kwargs)  # type: ignore[arg-type]

        def log_message(self, *args: object) -> None:
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


def test_url(server: str) -> None:
    t = load_image(f"{server}/green.png")
    assert torch.allclose(t[1], torch.ones(4, 6)) and float(t[0].max()) == 0.0


def test_url_errors(server: str, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ImageError, match="HTTP 404"):
        load_image(f"{server}/missing.png")
    monkeypatch.setattr(images_module, "MAX_DOWNLOAD_BYTES", 10)
    with pytest.raises(ImageError, match="too large"):
        load_image(f"{server}/green.png")


def test_unreachable_url() -> None:
    with pytest.raises(ImageError, match="could not download"):
        load_image("http://127.0.0.1:9/x.png")


# --- saving ----------------------------------------------------------------------------------

def test_save_round_trip_is_exact_on_the_grid(tmp_path: Path) -> None:
    x = quantize(torch.rand(3, 9, 11))
    path = save_image(x, tmp_path / "x.png")
    assert torch.equal(load_image(path), x)
    gray = quantize(torch.rand(1, 28, 28))
    with Image.open(save_image(gray, tmp_path / "g.png")) as im:
        assert im.mode == "L"
    assert torch.equal(load_image(tmp_path / "g.png")[0], gray[0])


def test_save_refuses_lossy_formats_and_missing_dirs(tmp_path: Path) -> None:
    with pytest.raises(ImageError, match=r"\.png"):
        save_image(torch.rand(3, 4, 4), tmp_path / "x.jpg")
    with pytest.raises(ImageError, match="does not exist"):
        save_image(torch.rand(3, 4, 4), tmp_path / "nope" / "x.png")


def test_a_failed_save_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "x.png"
    target.write_bytes(b"previous")

    def broken_save(self: Image.Image, fp: io.BufferedWriter, *args: object, **kwargs: object) -> None:
        fp.write(b"half")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Image.Image, "save", broken_save)
    with pytest.raises(ImageError, match=r"x\.png: could not write \(no space left on the device"):
        save_image(torch.rand(3, 4, 4), target)
    assert target.read_bytes() == b"previous"
    assert [p.name for p in tmp_path.iterdir()] == ["x.png"]


def test_pickle_is_never_needed_for_images() -> None:
    # A pickled array is not an image format: refuse, never unpickle
    with pytest.raises(ImageError, match="not an image"):
        load_image(pickle.dumps(np.zeros((4, 4))))
