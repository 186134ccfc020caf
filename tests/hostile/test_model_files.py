"""Model files are checked before anything is built; every error names the file."""

from __future__ import annotations

import json
import os
import stat
import zipfile
from pathlib import Path
from typing import Any

import pytest
import torch
from safetensors.torch import save_file

from hoodwink.errors import ModelError
from hoodwink.models import load_model, save_model
from hoodwink.models.registry import check_metadata, load_state_dict, read_metadata


@pytest.fixture()
def saved(tmp_path: Path) -> Path:
    """A tiny mlp (hidden 4) saved by hoodwink: weights and metadata."""
    model = load_model_arch("mlp", hidden=4)
    return save_model(model, tmp_path / "mlp.safetensors")


def load_model_arch(arch: str, **options: int):  # type: ignore[no-untyped-def]
    from hoodwink.models.registry import model_info

    return model_info(arch).build(pretrained=False, device="cpu", **options)


def _rewrite(path: Path, meta_change: dict[str, object], state_change: dict[str, torch.Tensor] | None = None) -> Path:
    from safetensors.torch import load_file

    meta = read_metadata(path)
    meta.update(meta_change)
    state = load_file(str(path))
    state.update(state_change or {})
    out = path.with_name("edited.safetensors")
    save_file(state, str(out), metadata={"hoodwink": json.dumps(meta)})
    return out


def test_a_saved_model_loads_and_has_the_usual_file_mode(saved: Path) -> None:
    assert load_model(saved).labels.name(3) == "3"
    umask = os.umask(0o022)
    os.umask(umask)
    assert stat.S_IMODE(saved.stat().st_mode) == 0o666 & ~umask  # not mkstemp's 0600


def test_an_absurd_option_is_refused_before_allocating(saved: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    built: list[int] = []
    original = torch.nn.Linear.__init__

    def spy(self: torch.nn.Linear, *args: Any, **kwargs: Any) -> None:
        built.append(1)
        original(self, *args, **kwargs)

    edited = _rewrite(saved, {"options": {"hidden": 1_000_000}})
    monkeypatch.setattr(torch.nn.Linear, "__init__", spy)
    with pytest.raises(ModelError, match=r"edited\.safetensors: metadata: options\.hidden is 1000000"):
        load_model(edited)
    assert built == []


@pytest.mark.parametrize(("change", "message"), [
    ({"options": {"depth": 3}}, "unknown option 'depth' for mlp"),
    ({"options": {"hidden": "4"}}, "options.hidden must be an integer"),
    ({"arch": "nonsense"}, "unknown model 'nonsense'"),
    ({"labels": [["a"], ["b"]]}, "2 labels for a network with 10 outputs"),
    ({"channels": 7}, "channels must hold integers from 1 to 3"),
    ({"std": [0.0]}, "std must be positive"),
    ({"mean": [1.0, 2.0]}, "mean must be 1 finite numbers"),
    ({"input_size": [28, 100000]}, "input_size must hold integers from 1 to 4096"),
])
def test_metadata_is_checked_against_the_schema(saved: Path, change: dict[str, object], message: str) -> None:
    with pytest.raises(ModelError, match=f"edited.safetensors: .*{message.replace('(', '.').replace(')', '.')}"):
        load_model(_rewrite(saved, change))


def test_a_hidden_size_that_matches_no_tensor_names_the_tensor(saved: Path) -> None:
    with pytest.raises(ModelError, match=r"tensor '1\.weight' is \[4, 784\] in the file, the network needs \[8, 784\]"):
        load_model(_rewrite(saved, {"options": {"hidden": 8}}))


def test_nan_weights_are_refused(saved: Path) -> None:
    with pytest.raises(ModelError, match=r"edited\.safetensors: tensor '3\.bias' holds NaN"):
        load_model(_rewrite(saved, {}, {"3.bias": torch.full((10,), float("nan"))}))
    pt = saved.with_name("inf.pt")
    torch.save({"w": torch.tensor([1.0, float("inf")])}, pt)
    with pytest.raises(ModelError, match=r"inf\.pt: tensor 'w' holds NaN or infinite"):
        load_state_dict(pt)


def test_random_bytes_are_not_a_weights_file(tmp_path: Path) -> None:
    path = tmp_path / "random.pt"
    path.write_bytes(bytes(range(256)) * 4)
    with pytest.raises(ModelError, match=r"random\.pt: not a weights file"):
        load_state_dict(path)


def test_a_compressed_archive_is_refused_before_inflating(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    plain = tmp_path / "plain.pt"
    torch.save({"w": torch.zeros(4)}, plain)
    packed = tmp_path / "packed.pt"
    with zipfile.ZipFile(plain) as source, zipfile.ZipFile(packed, "w", zipfile.ZIP_DEFLATED) as target:
        for entry in source.infolist():
            target.writestr(entry.filename, source.read(entry))
    with pytest.raises(ModelError, match=r"packed\.pt: refused: compressed entries"):
        load_state_dict(packed)
    bomb = tmp_path / "bomb.pt"
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as target:
        target.writestr("archive/data/0", bytes(64 * 1024 * 1024))  # 64 MB of zeros in 64 kB
    assert bomb.stat().st_size < 200_000
    from hoodwink.models import registry

    monkeypatch.setattr(registry, "MAX_WEIGHTS_BYTES", 1_000_000)
    with pytest.raises(ModelError, match=r"bomb\.pt: refused: declares 67,108,864 bytes"):
        load_state_dict(bomb)


def test_the_pickle_protocol_warning_never_reaches_the_user(tmp_path: Path, recwarn: pytest.WarningsRecorder) -> None:
    path = tmp_path / "p4.pt"
    torch.save({"w": torch.zeros(2)}, path, pickle_protocol=4)  # torch warns, then cannot read it
    with pytest.raises(ModelError, match=r"p4\.pt: refused to load: a pickle feature"):
        load_state_dict(path)
    assert [str(w.message) for w in recwarn] == []


def test_check_metadata_needs_an_object() -> None:
    with pytest.raises(ModelError, match="m.safetensors: metadata: not a JSON object"):
        check_metadata([1, 2], Path("m.safetensors"))
