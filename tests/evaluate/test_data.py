"""Labelled data from folders, CSV files, MNIST IDX, tensors and PyTorch datasets."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from hoodwink.evaluate import DataError, load_data
from hoodwink.images import save_image
from hoodwink.models.labels import Labels


def test_a_folder_named_by_class_index(digit_folder: Path, digits) -> None:  # type: ignore[no-untyped-def]
    images, labels = digits
    data = load_data(digit_folder)
    assert len(data) == 40
    names = [Path(n).name for n in data.names]
    assert names == sorted(names)
    for i, name in enumerate(names):
        k = int(name.split("_")[1].split(".")[0])
        assert int(data.labels[i]) == int(labels[k]) == int(name.split("_")[0])
        assert torch.allclose(data.image(i), images[k], atol=1e-6)
    assert load_data(digit_folder, limit=5).labels.tolist() == data.labels[:5].tolist()


def test_the_fingerprint_follows_the_bytes(digit_folder: Path) -> None:
    before = load_data(digit_folder).fingerprint
    assert load_data(digit_folder).fingerprint == before
    first = min(digit_folder.iterdir())
    save_image(torch.ones(1, 28, 28), first)
    assert load_data(digit_folder).fingerprint != before


def test_a_file_without_its_class_index_is_named(tmp_path: Path) -> None:
    save_image(torch.zeros(1, 4, 4), tmp_path / "3_ok.png")
    save_image(torch.zeros(1, 4, 4), tmp_path / "panda.png")
    with pytest.raises(DataError, match="panda.png does not start with its class index"):
        load_data(tmp_path)


def test_a_folder_per_class(tmp_path: Path) -> None:
    for name in ("giant_panda", "vulture"):
        (tmp_path / name).mkdir()
        save_image(torch.zeros(3, 4, 4), tmp_path / name / "a.png")
    data = load_data(tmp_path)  # no labels: sorted order, said in a note
    assert data.labels.tolist() == [0, 1] and data.classes == ("giant_panda", "vulture")
    assert data.note is not None and "sorted order" in data.note
    labels = Labels.from_names(["cat", "vulture", "giant panda"])
    assert load_data(tmp_path, labels=labels).labels.tolist() == [2, 1]
    (tmp_path / "zebra").mkdir()
    with pytest.raises(DataError, match="zebra"):
        load_data(tmp_path, labels=labels)


def test_a_csv_of_path_and_label(tmp_path: Path) -> None:
    (tmp_path / "img").mkdir()
    for i in range(3):
        save_image(torch.full((3, 4, 4), i / 10), tmp_path / "img" / f"{i}.png")
    csv = tmp_path / "data.csv"
    csv.write_text("path,label\nimg/0.png,7\nimg/1.png,vulture\nimg/2.png,2\n")
    data = load_data(csv, labels=Labels.from_names(["a", "b", "c", "d", "e", "f", "g", "h", "vulture"]))
    assert data.labels.tolist() == [7, 8, 2]
    assert abs(float(data.image(1).mean()) - 0.1) < 1 / 255
    with pytest.raises(DataError, match="not a class index"):
        load_data(csv)
    csv.write_text("img/0.png,7\nimg/nope.png,1\n")
    with pytest.raises(DataError, match=r"data.csv:2: img/nope.png: no such file"):
        load_data(csv)


def test_mnist_idx_files_give_their_test_part(tmp_path: Path, digits) -> None:  # type: ignore[no-untyped-def]
    from hoodwink.train.data import write_idx

    images, labels = digits
    pixels = np.round(images[:, 0].numpy() * 255).astype(np.uint8)
    write_idx(pixels, tmp_path / "t10k-images-idx3-ubyte.gz")
    write_idx(labels.numpy().astype(np.uint8), tmp_path / "t10k-labels-idx1-ubyte.gz")
    data = load_data(tmp_path)
    assert len(data) == 8  # the held-out fifth, as training used it
    assert data.labels.tolist() == labels[32:].tolist()
    assert torch.allclose(data.image(0), images[32], atol=1e-6)
    assert data.note is not None and "held-out" in data.note


def test_tensors_datasets_and_dataloaders(digits) -> None:  # type: ignore[no-untyped-def]
    from torch.utils.data import DataLoader, TensorDataset

    images, labels = digits
    direct = load_data((images, labels))
    dataset = load_data(TensorDataset(images, labels))
    loader = load_data(DataLoader(TensorDataset(images, labels), batch_size=16))
    for data in (direct, dataset, loader):
        assert data.labels.tolist() == labels.tolist()
        assert torch.equal(data.image(5), images[5])
    assert direct.fingerprint != load_data((images, (labels + 1) % 10)).fingerprint
    with pytest.raises(DataError, match="images must be in"):
        load_data((images * 2, labels))
    with pytest.raises(DataError, match="no such file or folder"):
        load_data("no/such/folder")
