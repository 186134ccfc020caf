"""The registered digits networks, and training that learns, is deterministic and saves loadable files."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from hoodwink.errors import ModelError, ParameterError
from hoodwink.models import list_models, load_model, model_info, read_metadata
from hoodwink.train import TrainConfig, accuracy, build, load_dataset, save_trained, train
from hoodwink.train.data import DataSplit, ImageSet
from hoodwink.train.nets import ARCHITECTURES


@pytest.mark.parametrize("arch", ARCHITECTURES)
def test_registered_as_trainable_digit_models(arch: str) -> None:
    info = model_info(arch)
    assert arch in [m.name for m in list_models()]
    assert (info.bundled, info.channels, info.input_size, info.resize) == (False, 1, (28, 28), None)
    model = info.build(pretrained=False, device="cpu")
    assert [model.labels.name(i) for i in range(10)] == [str(i) for i in range(10)]
    assert model.labels.find("7") == 7
    # RGB in [0, 1] of any size works: luma conversion and resizing live in the wrapper
    assert model(torch.rand(2, 3, 28, 28)).shape == (2, 10)
    assert model(torch.rand(1, 3, 56, 40)).shape == (1, 10)
    with pytest.raises(ModelError, match="no bundled weights.*hoodwink train"):
        load_model(arch)


def test_architecture_options_and_bad_options() -> None:
    assert model_info("mlp").build(pretrained=False, device="cpu", hidden=32).net[1].out_features == 32
    with pytest.raises(ParameterError, match="hidden must be an integer >= 1"):
        model_info("mlp").build(pretrained=False, device="cpu", hidden=0)


@pytest.mark.parametrize("arch", ARCHITECTURES)
def test_training_learns_and_the_saved_file_loads(arch: str, mnist_dir: Path, tmp_path: Path) -> None:
    split = load_dataset(mnist_dir)
    options = {"width": 8, "hidden": 32} if arch == "cnn" else {"hidden": 64} if arch == "mlp" else {}
    untrained = build(arch, options=options, device="cpu")
    chance = accuracy(untrained, split.test)
    result = train(arch, split, TrainConfig(epochs=3, batch_size=32), options=options, device="cpu")
    assert result.test_accuracy >= 0.9 > chance + 0.3
    assert result.test_accuracy == accuracy(result.model, split.test)
    assert len(result.history) == 3 and result.history[-1].loss < result.history[0].loss
    assert (result.train_size, result.test_size) == (480, 120) and "first 480" in str(result.note)
    path = save_trained(result, str(tmp_path / f"{arch}.safetensors"))
    meta = read_metadata(path)
    assert meta["arch"] == arch and meta.get("options", {}) == options and meta["input_size"] == [28, 28]
    assert meta["training"]["test_accuracy"] == result.test_accuracy
    assert meta["training"]["config"]["epochs"] == 3
    loaded = load_model(path, device="cpu")
    images = split.test.images[:16]
    assert torch.equal(loaded(images), result.model(images))
    assert loaded.metadata["training"]["history"][0]["epoch"] == 1


def test_same_seed_same_weights_other_seed_other_weights(mnist_dir: Path) -> None:
    split = load_dataset(mnist_dir)
    config = TrainConfig(epochs=1, batch_size=64, seed=3)
    a = train("mlp", split, config, options={"hidden": 32}, device="cpu").model.net.state_dict()
    b = train("mlp", split, config, options={"hidden": 32}, device="cpu").model.net.state_dict()
    c = train("mlp", split, TrainConfig(epochs=1, batch_size=64, seed=4), options={"hidden": 32},
              device="cpu").model.net.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not all(torch.equal(a[k], c[k]) for k in a)


def test_training_leaves_the_classifier_frozen_and_the_global_rng_alone(mnist_dir: Path) -> None:
    split = load_dataset(mnist_dir)
    state = torch.random.get_rng_state()
    result = train("linear", split, TrainConfig(epochs=1), device="cpu")
    assert torch.equal(state, torch.random.get_rng_state())
    assert not any(p.requires_grad for p in result.model.parameters())
    assert not result.model.training and not result.model.net.training


def test_user_classes_from_an_image_folder_are_kept(tmp_path: Path) -> None:
    images = torch.zeros(40, 1, 28, 28)
    images[20:, :, 10:18, 10:18] = 1.0
    labels = torch.tensor([0] * 20 + [1] * 20)
    data = ImageSet(images, labels, ("empty", "square"))
    result = train("linear", DataSplit(data, data), TrainConfig(epochs=3, batch_size=8), device="cpu")
    assert result.model.num_classes == 2 and result.test_accuracy == 1.0
    loaded = load_model(save_trained(result, str(tmp_path / "m.safetensors")), device="cpu")
    assert loaded.labels.name(1) == "square" and loaded(images[:1]).shape == (1, 2)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"epochs": 0}, "epochs must be an integer >= 1"), ({"lr": -1.0}, "lr must be a number > 0"),
     ({"batch_size": True}, "batch_size must be an integer"),
     ({"adversarial": "cw"}, "unknown adversarial training 'cw'"),
     ({"eps": 1.5}, r"eps \(pixel units\) must be a number in \[0, 1\]"),
     ({"epochs": 2, "warmup": 3.0}, "warmup"), ({"augment": -1}, "augment"), ({"augment": 9}, "augment")],
)
def test_bad_configs(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ParameterError, match=message):
        TrainConfig(**kwargs)  # type: ignore[arg-type]


def test_bundled_models_are_not_trained_here(mnist_dir: Path) -> None:
    with pytest.raises(ParameterError, match="pretrained"):
        train("efficientnet-lite0", load_dataset(mnist_dir))
