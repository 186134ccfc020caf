"""ONNX models through ONNX Runtime: the same answers and the same attacks as in torch."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from hoodwink.attacks import Goal, QueryModel, ThreatModel, get_attack
from hoodwink.errors import ModelError
from hoodwink.models import Classifier, Labels, load_model

pytest.importorskip("onnxruntime", reason="hoodwink[onnx] (onnxruntime) is not installed")
pytest.importorskip("onnx", reason="hoodwink[onnx] (onnx, for the export) is not installed")

from hoodwink.models.onnx import export_onnx, load_onnx


@pytest.fixture
def conv() -> Classifier:
    """A tiny convolutional net (3, 8, 8) -> 10, with a normalisation to carry over."""
    torch.manual_seed(5)
    net = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(4),
                        nn.Flatten(), nn.Linear(8 * 16, 10))
    return Classifier(net, Labels.from_names([f"k{i}" for i in range(10)]), input_size=(8, 8),
                      mean=(0.4, 0.5, 0.6), std=(0.2, 0.25, 0.3), resize=None, name="conv")


@pytest.fixture
def exported(conv, tmp_path):  # type: ignore[no-untyped-def]
    return export_onnx(conv, tmp_path / "conv.onnx")


def test_an_exported_model_answers_as_the_torch_model(conv, exported) -> None:
    model = load_onnx(exported)
    assert isinstance(model, QueryModel) and model.labels.names == conv.labels.names
    assert (model.input_size, model.resize, model.name) == ((8, 8), None, "onnx:conv")
    pixels = np.random.default_rng(0).integers(0, 256, (70, 8, 8, 3), dtype=np.uint8)  # 2 chunks
    with torch.no_grad():
        expected = conv(torch.from_numpy(pixels).permute(0, 3, 1, 2).float() / 255).softmax(1)
    assert torch.allclose(model.ask(pixels), expected, atol=1e-5)


def test_onnx_and_torch_give_the_same_attack_on_the_same_seed(conv, exported, images) -> None:
    threat = ThreatModel("linf", 8 / 255)
    model = load_model(f"onnx:{exported}")
    assert isinstance(model, QueryModel)
    on_onnx = get_attack("square")(model, images, Goal.untargeted(), threat, queries=80)
    on_torch = get_attack("square")(conv, images, Goal.untargeted(), threat, queries=80)
    assert on_onnx.success.tolist() == on_torch.success.tolist()
    assert torch.equal(on_onnx.queries, on_torch.queries)
    assert torch.equal(on_onnx.adversarial, on_torch.adversarial)
    assert on_onnx.success.any()


def test_an_onnx_model_is_only_queried(exported, images) -> None:
    model = load_model(str(exported))                      # a path ending in .onnx works too
    with pytest.raises(ModelError, match="can only be queried"):
        get_attack("pgd")(model, images[:2])


def test_a_file_that_is_not_a_model_is_one_clear_error(tmp_path) -> None:
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"not a model")
    with pytest.raises(ModelError, match="junk.onnx: not a model ONNX Runtime can run"):
        load_onnx(junk)
    with pytest.raises(ModelError, match="no such ONNX file"):
        load_model(f"onnx:{tmp_path / 'missing.onnx'}")
