"""Write the hostile-input corpus: small files that once took gigabytes, hung, or escaped as tracebacks.

Run ``python tests/data/hostile/make.py`` to regenerate; the files are committed too, and
``tests/hostile/test_corpus.py`` holds what each must do (its one-line error, or loading).
Each file is built from bytes here, so the corpus documents exactly what it holds.
"""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

from PIL import Image

HERE = Path(__file__).resolve().parent


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png(width: int, height: int, rows: bytes = b"", color: int = 0, depth: int = 8) -> bytes:
    """A PNG header claiming ``width`` x ``height``; pixel data ``rows`` (raw scanlines, compressed)."""
    header = struct.pack(">IIBBBBB", width, height, depth, color, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", zlib.compress(rows, 9))
            + _chunk(b"IEND", b""))


def gif_claiming(width: int, height: int, size: int = 580) -> bytes:
    """A GIF whose screen and frame claim ``width`` x ``height``, with a few bytes of LZW data."""
    head = b"GIF89a" + struct.pack("<HHBBB", width, height, 0x80, 0, 0) + b"\x00\x00\x00\xff\xff\xff"
    frame = b"\x2c" + struct.pack("<HHHHB", 0, 0, width, height, 0) + b"\x02"
    body_len = size - len(head) - len(frame) - 2
    blocks = b""
    while body_len > 1:
        n = min(255, body_len - 1)
        blocks += bytes([n]) + bytes([0x44]) * n
        body_len -= n + 1
    return head + frame + blocks + b"\x00;"


def tiff_strip(width: int, height: int) -> bytes:
    """A little-endian TIFF header: 8-bit gray, ``width`` x ``height``, one strip past the file's end."""
    entries = [(256, 4, 1, width), (257, 4, 1, height), (258, 3, 1, 8), (259, 3, 1, 1),
               (262, 3, 1, 1), (273, 4, 1, 200), (277, 3, 1, 1), (278, 4, 1, height),
               (279, 4, 1, width * height)]
    ifd = struct.pack("<H", len(entries)) + b"".join(struct.pack("<HHII", *e) for e in entries) + b"\0\0\0\0"
    return b"II*\x00" + struct.pack("<I", 8) + ifd


def jpeg(cut: int = 0, strip_end: bool = False) -> bytes:
    """A 32x32 JPEG; ``strip_end`` drops only its end marker, ``cut`` drops that many trailing bytes."""
    picture = Image.new("RGB", (32, 32))
    for x in range(32):
        for y in range(32):
            picture.putpixel((x, y), (x * 8, y * 8, 128))
    buffer = io.BytesIO()
    picture.save(buffer, format="JPEG", quality=90)
    data = buffer.getvalue()
    if strip_end:
        return data[:-2]
    return data[:-cut] if cut else data


def f_mode_tiff() -> bytes:
    """A 32-bit float TIFF whose values run from -500 to 1500 (a depth map, say)."""
    picture = Image.new("F", (8, 4))
    for x in range(8):
        for y in range(4):
            picture.putpixel((x, y), -500.0 + 2000.0 * (x + 8 * y) / 31)
    buffer = io.BytesIO()
    picture.save(buffer, format="TIFF")
    return buffer.getvalue()


CORPUS: dict[str, bytes] = {
    # the worst shapes
    "gif-7440x8595.gif": gif_claiming(7440, 8595),
    "tiff-16x1818636.tif": tiff_strip(16, 1_818_636),
    "png-10000x1.png": png(10000, 1, b"\x00" + bytes(10000), color=0),
    # over the pixel cap (64 million pixels claimed by 65 bytes)
    "png-bomb-8000x8000.png": png(8000, 8000, b"", color=0, depth=1),
    # just under the pixel cap, and real: 39.7 million black RGB pixels in 116 kB, and a GIF
    # claiming 36 million pixels with almost no data
    "png-rgb-6300x6300.png": png(6300, 6300, bytes(6300 * 3 + 1) * 6300, color=2),
    "gif-6000x6000.gif": gif_claiming(6000, 6000),
    # the escaping exceptions
    "png-first-20-bytes.png": png(16, 16, bytes(16 * 17))[:20],
    "bmp-header-only.bmp": b"BM" + bytes(16),
    "ppm-bad-size.ppm": b"P6\n\xff 1\n255\n",
    # damaged and truncated data
    "jpeg-half.jpg": jpeg(cut=len(jpeg()) // 2),
    "jpeg-no-end-marker.jpg": jpeg(strip_end=True),
    "f-mode-range.tif": f_mode_tiff(),
    "text.png": b"hello, I am not a picture\n",
}


def main() -> None:
    for name, data in CORPUS.items():
        (HERE / name).write_bytes(data)
        print(f"{name}: {len(data)} bytes")


if __name__ == "__main__":
    main()
