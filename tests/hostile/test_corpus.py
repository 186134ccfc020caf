"""The hostile corpus (tests/data/hostile, written by its make.py): one-line errors, bounded time and memory."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from hoodwink.errors import ImageError
from hoodwink.images import load_image

CORPUS = Path(__file__).resolve().parents[1] / "data" / "hostile"

#: file -> what load_image must say (a regex), or None: it loads.
EXPECTED: dict[str, str | None] = {
    "gif-7440x8595.gif": r"7440x8595 is 63,946,800 pixels, over the cap",
    "tiff-16x1818636.tif": r"16x1818636 is a strip \(aspect ratio 113,665:1",
    "png-10000x1.png": r"10000x1 is a strip",
    "png-bomb-8000x8000.png": r"8000x8000 is 64,000,000 pixels, over the cap",
    "gif-6000x6000.gif": r"truncated or damaged image",
    "png-first-20-bytes.png": r"truncated or damaged image \(the data ends too early\)",
    "bmp-header-only.bmp": r"damaged or unsupported image, cannot decode it \(Unsupported BMP header",
    "ppm-bad-size.ppm": r"damaged or unsupported image, cannot decode it",
    "jpeg-half.jpg": r"truncated",
    "text.png": r"not an image",
    "jpeg-no-end-marker.jpg": None,
    "f-mode-range.tif": None,
    "png-rgb-6300x6300.png": None,
}


def test_every_corpus_file_is_listed() -> None:
    files = {p.name for p in CORPUS.iterdir() if p.suffix != ".py" and p.name != "__pycache__"}
    assert files == set(EXPECTED)


@pytest.mark.parametrize("name", [n for n, e in EXPECTED.items() if e is not None])
def test_each_reproducer_is_one_image_error_naming_the_file(name: str) -> None:
    start = time.perf_counter()
    with pytest.raises(ImageError) as info:
        load_image(CORPUS / name)
    message = str(info.value)
    assert message.startswith(str(CORPUS / name) + ": ") and "\n" not in message
    assert re.search(EXPECTED[name] or "", message), message
    assert time.perf_counter() - start < 1.0


def test_a_jpeg_missing_only_its_end_marker_loads_like_the_whole_file() -> None:
    import importlib.util

    spec = importlib.util.spec_from_file_location("make", CORPUS / "make.py")
    assert spec is not None and spec.loader is not None
    make = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(make)
    assert torch.equal(load_image(CORPUS / "jpeg-no-end-marker.jpg"), load_image(make.jpeg()))


def test_f_mode_is_scaled_by_its_real_range() -> None:
    image = load_image(CORPUS / "f-mode-range.tif")  # values -500 .. 1500, in 32 steps
    assert float(image.min()) == 0.0 and float(image.max()) == 1.0
    assert torch.allclose(image[0, 0, :2], torch.tensor([0.0, 1 / 31]), atol=1e-6)


_CHILD = """
import json, sys, time
import torch  # images.py imports it only once an image decodes: keep its import out of the times
from hoodwink.images import load_image
report = []
for path in sys.argv[1:]:
    start = time.perf_counter()
    try:
        result = list(load_image(path).shape)
    except Exception as exc:
        result = type(exc).__name__
    report.append({"seconds": time.perf_counter() - start, "result": result})
# VmHWM is this program's own peak (a new address space at exec); ru_maxrss can carry the
# forking parent's size over exec, which made the bound depend on the test runner's memory
with open("/proc/self/status") as status:
    peak = next(int(line.split()[1]) for line in status if line.startswith("VmHWM:")) / 1024
print(json.dumps({"peak_mb": peak, "files": report}))
"""


def _measure(*names: str) -> tuple[float, list[dict[str, object]]]:
    """Peak RSS (MB) of a fresh process that loads the files one after another, and each file's
    decode seconds and result (a shape, or the exception's type name)."""
    done = subprocess.run([sys.executable, "-c", _CHILD, *(str(CORPUS / n) for n in names)],
                          capture_output=True, text=True, timeout=120, check=True)
    assert done.stderr == ""  # no warning lines
    report = json.loads(done.stdout)
    return float(report["peak_mb"]), list(report["files"])


def test_the_issue_s_worst_shapes_are_refused_from_their_headers() -> None:
    # 580-byte GIF claiming 7440x8595 (was 18 s, 4.1 GB), 122-byte TIFF of 16x1,818,636 (21 s,
    # 2 GB), 10000x1 PNG (7.9 GB asked of torch by the resize)
    peak, files = _measure("gif-7440x8595.gif", "tiff-16x1818636.tif", "png-10000x1.png")
    assert [f["result"] for f in files] == ["ImageError"] * 3
    assert all(float(str(f["seconds"])) < 0.5 for f in files), files
    assert peak < 600, peak  # importing torch and hoodwink is most of it


@pytest.mark.slow  # a fresh Python process: seconds of start-up
def test_an_image_just_under_the_pixel_cap_is_bounded() -> None:
    peak, files = _measure("png-rgb-6300x6300.png")  # 39.7 million pixels in 116 kB
    assert files[0]["result"] == [3, 6300, 6300]
    assert float(str(files[0]["seconds"])) < 3.0, files
    assert peak < 1000, peak  # ~15 bytes a pixel over the import's ~250 MB
