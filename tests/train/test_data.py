"""MNIST IDX files, the test-only split, downloads from a local mirror, image folders, PNG export."""

from __future__ import annotations

import gzip
import hashlib
import http.server
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from hoodwink.images import load_image, save_image
from hoodwink.train.data import (
    DataError,
    download_mnist,
    export_pngs,
    load_dataset,
    load_image_folder,
    load_mnist,
    read_idx,
    write_idx,
)


@pytest.mark.parametrize("name", ["x-idx3-ubyte", "x-idx3-ubyte.gz"])
@pytest.mark.parametrize("dtype", [np.uint8, np.int16, np.int32, np.float32, np.float64])
def test_idx_round_trip(tmp_path: Path, name: str, dtype: type) -> None:
    array = (np.arange(2 * 3 * 5) - 7).reshape(2, 3, 5).astype(dtype)
    if dtype == np.uint8:
        array = np.arange(30, dtype=np.uint8).reshape(2, 3, 5)
    write_idx(array, tmp_path / name)
    back = read_idx(tmp_path / name)
    assert back.dtype == array.dtype and back.shape == (2, 3, 5)
    np.testing.assert_array_equal(back, array)


def test_idx_header_is_the_published_format(tmp_path: Path) -> None:
    # Labels file as LeCun describes it: magic 0x00000801, count (big-endian), then the bytes.
    raw = bytes([0, 0, 8, 1]) + (3).to_bytes(4, "big") + bytes([7, 2, 1])
    (tmp_path / "l-idx1-ubyte.gz").write_bytes(gzip.compress(raw))
    np.testing.assert_array_equal(read_idx(tmp_path / "l-idx1-ubyte.gz"), [7, 2, 1])
    write_idx(np.array([7, 2, 1], dtype=np.uint8), tmp_path / "w-idx1-ubyte")
    assert (tmp_path / "w-idx1-ubyte").read_bytes() == raw


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"\x89PNG\r\n\x1a\n....", "bad magic"),
        (bytes([0, 0, 8, 1]) + (5).to_bytes(4, "big") + b"\x01\x02", "size mismatch"),
        (bytes([0, 0, 8, 3]) + b"\x00\x00", "truncated"),
        (b"\x1f\x8b\x08\x00broken", "could not read"),
    ],
)
def test_bad_idx_files_raise_one_clear_error(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "bad-idx1-ubyte"
    path.write_bytes(content)
    with pytest.raises(DataError, match=message):
        read_idx(path)


def test_test_only_folder_splits_first_and_last(digits_maker: Any, mnist_dir: Path) -> None:
    images, labels = digits_maker(600)
    split = load_mnist(mnist_dir)
    assert len(split.train) == 480 and len(split.test) == 120
    assert split.note == "only test files found: training on the first 480, testing on the last 120"
    assert torch.equal(split.train.images[:, 0], torch.from_numpy(images[:480]).float() / 255)
    assert torch.equal(split.test.labels, torch.from_numpy(labels[480:]).long())
    assert split.train.images.shape[1:] == (1, 28, 28) and split.train.classes[3] == "3"
    custom = load_mnist(mnist_dir, split=(100, 50))
    assert torch.equal(custom.test.images[:, 0], torch.from_numpy(images[550:]).float() / 255)
    assert "first 100" in str(custom.note) and "last 50" in str(custom.note)
    with pytest.raises(DataError, match="overlap"):
        load_mnist(mnist_dir, split=(500, 200))


def test_full_size_test_only_folder_uses_8000_and_2000(mnist_writer: Any, tmp_path: Path) -> None:
    mnist_writer(tmp_path, 10_000, gz=False)
    split = load_dataset(tmp_path)
    assert (len(split.train), len(split.test)) == (8000, 2000)
    assert split.note == "only test files found: training on the first 8,000, testing on the last 2,000"


def test_train_and_test_files_are_used_as_published(
    mnist_writer: Any, digits_maker: Any, tmp_path: Path
) -> None:
    mnist_writer(tmp_path, 50, part="train", seed=1)
    mnist_writer(tmp_path, 20, part="t10k", seed=2)
    split = load_dataset(tmp_path)
    assert (len(split.train), len(split.test), split.note) == (50, 20, None)
    assert torch.equal(split.train.labels, torch.from_numpy(digits_maker(50, 1)[1]).long())


def test_mismatched_labels_are_refused(mnist_writer: Any, tmp_path: Path) -> None:
    mnist_writer(tmp_path, 20)
    write_idx(np.zeros(19, dtype=np.uint8), tmp_path / "t10k-labels-idx1-ubyte.gz")
    with pytest.raises(DataError, match="19 labels for 20 images"):
        load_mnist(tmp_path)


# --- downloads, from a mirror on the loopback interface ------------------------------------------

@pytest.fixture()
def mirror(tmp_path: Path) -> Iterator[tuple[str, Path, list[str]]]:
    """A tiny HTTP server on 127.0.0.1 serving ``tmp_path / 'www'``; yields (url, folder, requests)."""
    www = tmp_path / "www"
    www.mkdir()
    requests: list[str] = []

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args: object, **kwargs: object) -> None:
            super().__init__(*args, directory=str(www), **kwargs)  # type: ignore[arg-type]

        def do_GET(self) -> None:
            requests.append(self.path)
            super().do_GET()

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/", www, requests
    finally:
        server.shutdown()
        server.server_close()


def _publish(mnist_writer: Any, www: Path) -> dict[str, str]:
    mnist_writer(www, 30)
    return {p.name: hashlib.md5(p.read_bytes()).hexdigest() for p in sorted(www.iterdir())}


def test_download_tries_mirrors_in_turn_checks_md5_and_caches(
    mnist_writer: Any, mirror: tuple[str, Path, list[str]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url, www, requests = mirror
    files = _publish(mnist_writer, www)
    monkeypatch.setenv("HOODWINK_CACHE", str(tmp_path / "cache"))
    folder = download_mnist(mirrors=[url + "missing/", url], files=files)
    assert folder == tmp_path / "cache" / "mnist"
    assert sorted(p.name for p in folder.iterdir()) == sorted(files)
    # each file: a 404 on the first mirror, then found on the second
    assert requests == [path for name in files for path in (f"/missing/{name}", f"/{name}")]
    assert len(load_mnist(folder).train) == 24
    requests.clear()
    download_mnist(mirrors=[url], files=files)  # cached, checksums good: no request
    assert requests == []
    (folder / "t10k-labels-idx1-ubyte.gz").write_bytes(b"damaged")
    download_mnist(mirrors=[url], files=files)  # a damaged cache file is fetched again
    assert len(requests) == 1 and hashlib.md5((folder / "t10k-labels-idx1-ubyte.gz").read_bytes()).hexdigest() == files["t10k-labels-idx1-ubyte.gz"]


def test_download_with_a_wrong_checksum_leaves_nothing(
    mnist_writer: Any, mirror: tuple[str, Path, list[str]], tmp_path: Path
) -> None:
    url, www, _ = mirror
    files = dict.fromkeys(_publish(mnist_writer, www), "0" * 32)
    with pytest.raises(DataError, match="checksum mismatch"):
        download_mnist(tmp_path / "out", mirrors=[url], files=files)
    assert list((tmp_path / "out").iterdir()) == []


def test_download_from_a_file_mirror(mnist_writer: Any, tmp_path: Path) -> None:
    files = _publish(mnist_writer, tmp_path / "www")
    folder = download_mnist(tmp_path / "out", mirrors=[(tmp_path / "www").as_uri() + "/"], files=files)
    assert len(load_mnist(folder).test) == 6


def test_download_with_no_mirror_answering_says_so(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="could not download t10k-images"):
        download_mnist(tmp_path, mirrors=[(tmp_path / "nowhere").as_uri() + "/"],
                       files={"t10k-images-idx3-ubyte.gz": "0" * 32})


# --- image folders ------------------------------------------------------------------------------

def test_image_folder_converts_to_gray_and_resizes(tmp_path: Path) -> None:
    for cls, value in (("cat", 0.2), ("dog", 0.8)):
        (tmp_path / cls).mkdir()
        for i in range(3):
            rgb = torch.full((3, 40, 56), value)
            rgb[0] = 1.0  # a red cast: luma, not the mean of the channels
            save_image(rgb, tmp_path / cls / f"{i}.png")
    (tmp_path / "dog" / "notes.txt").write_text("not an image")
    data = load_image_folder(tmp_path)
    assert data.classes == ("cat", "dog") and data.images.shape == (6, 1, 28, 28)
    assert data.labels.tolist() == [0, 0, 0, 1, 1, 1]
    luma = 0.299 * 1.0 + (0.587 + 0.114) * 0.2
    assert abs(float(data.images[0].mean()) - luma) < 2 / 255
    split = load_dataset(tmp_path)
    assert (len(split.train), len(split.test)) == (5, 1) and "seeded split" in str(split.note)


def test_train_and_test_class_folders(tmp_path: Path) -> None:
    for part in ("train", "test"):
        for cls in ("a", "b"):
            (tmp_path / part / cls).mkdir(parents=True)
            save_image(torch.rand(3, 28, 28), tmp_path / part / cls / "x.png")
    split = load_dataset(tmp_path)
    assert split.note is None and len(split.train) == 2 and split.test.classes == ("a", "b")


def test_folder_errors(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no such folder"):
        load_dataset(tmp_path / "absent")
    (tmp_path / "only").mkdir()
    with pytest.raises(DataError, match="at least two classes"):
        load_image_folder(tmp_path)


def test_exported_pngs_read_back_as_the_same_pixels(mnist_dir: Path, tmp_path: Path) -> None:
    test = load_mnist(mnist_dir).test
    paths = export_pngs(test, tmp_path / "pngs", count=4, start=2)
    assert [p.name for p in paths] == [f"{i:05d}-{int(test.labels[i])}.png" for i in range(2, 6)]
    for i, path in zip(range(2, 6), paths):
        rgb = load_image(path)
        assert rgb.shape == (3, 28, 28) and torch.equal(rgb[0], test.images[i, 0])
