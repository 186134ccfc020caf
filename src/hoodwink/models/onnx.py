"""A model in an ONNX file, run by ONNX Runtime: a model hoodwink can only query.

``--model onnx:model.onnx`` loads the file as a
:class:`~hoodwink.attacks.QueryModel`: black-box attacks ask it for
probabilities through the oracle (8-bit images, counted, budgeted); gradient
attacks refuse it. The file takes float32 images (N, C, H, W) with pixels in
[0, 1] (normalisation inside the graph) and gives logits, or probabilities when
its metadata says so. :func:`export_onnx` writes a hoodwink classifier that way,
with its labels, input size and resize in the file's metadata
(``hoodwink.labels``, ``hoodwink.resize``, ``hoodwink.outputs``), so that the
loaded model prepares images exactly as the PyTorch one does.

Needs the optional extra ``onnx`` (``onnxruntime``; ``onnx`` to export).

Example:
    >>> export_onnx(load_model("efficientnet-lite0"), "lite0.onnx")        # doctest: +SKIP
    >>> model = load_onnx("lite0.onnx")                                     # doctest: +SKIP
    >>> get_attack("square")(model, images, queries=1000)                   # doctest: +SKIP
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from hoodwink.attacks.oracle import QueryModel
from hoodwink.errors import ModelError, ParameterError
from hoodwink.io import write_atomic
from hoodwink.models.classifier import Classifier
from hoodwink.models.labels import Labels, imagenet_labels

#: Images per ONNX Runtime call.
CHUNK = 64


def _runtime() -> Any:
    try:
        import onnxruntime
    except ImportError as exc:
        raise ModelError("ONNX models need ONNX Runtime: pip install 'hoodwink[onnx]'") from exc
    return onnxruntime


def _softmax(x: np.ndarray) -> np.ndarray:
    z = x - x.max(axis=1, keepdims=True)
    e = np.exp(z)
    out: np.ndarray = e / e.sum(axis=1, keepdims=True)
    return out


def load_onnx(path: str | os.PathLike[str], *, labels: Labels | Sequence[str] | None = None,
              input_size: tuple[int, int] | None = None, resize: int | None | str = "auto",
              outputs: str | None = None, threads: int | None = None) -> QueryModel:
    """A query-only model for an ONNX file (see the module's notes for what it must take).

    Args:
        labels: class names (default: the file's ``hoodwink.labels``, else ImageNet's
            for 1000 outputs, else the indices).
        input_size: (height, width) when the file's input shape does not fix it.
        resize: shorter side before the centre crop (default: the file's
            ``hoodwink.resize``, else 256 for 224 x 224 inputs, else straight to size).
        outputs: ``"logits"`` or ``"probabilities"`` (default: the file's
            ``hoodwink.outputs``, else logits).
        threads: ONNX Runtime's intra-op threads (default: its own choice).
    """
    runtime = _runtime()
    file = Path(os.fspath(path))
    if not file.is_file():
        raise ModelError(f"{file}: no such ONNX file")
    options = runtime.SessionOptions()
    if threads is not None:
        options.intra_op_num_threads = int(threads)
    try:
        session = runtime.InferenceSession(str(file), sess_options=options,
                                           providers=["CPUExecutionProvider"])
    except Exception as exc:  # noqa: BLE001 - ONNX Runtime's errors derive from Exception only
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelError(f"{file}: not a model ONNX Runtime can run ({first[:200]})") from None
    meta = dict(session.get_modelmeta().custom_metadata_map)
    inputs, outs = session.get_inputs(), session.get_outputs()
    if len(inputs) != 1 or len(inputs[0].shape) != 4:
        raise ModelError(f"{file}: expected one input of shape (N, C, H, W)")
    _, c, h, w = inputs[0].shape
    channels = c if isinstance(c, int) else 3
    if channels not in (1, 3):
        raise ModelError(f"{file}: the input has {channels} channels (1 or 3 are supported)")
    if input_size is None:
        if not (isinstance(h, int) and isinstance(w, int)):
            raise ParameterError(f"{file}: the input size is not fixed in the file; give input_size")
        input_size = (h, w)
    input_name = inputs[0].name
    size = (int(input_size[0]), int(input_size[1]))

    def run(x: np.ndarray) -> np.ndarray:
        try:
            out = session.run(None, {input_name: x})[0]
        except Exception as exc:  # noqa: BLE001 - as above
            raise ModelError(f"{file}: ONNX Runtime failed ({str(exc).strip()[:200]})") from None
        return np.asarray(out, dtype=np.float32)

    k = outs[0].shape[-1] if outs and isinstance(outs[0].shape[-1], int) else None
    if k is None:
        k = int(run(np.zeros((1, channels, *size), np.float32)).shape[-1])
    chosen = _labels(labels, meta.get("hoodwink.labels"), k, file)
    kind = outputs or meta.get("hoodwink.outputs", "logits")
    if kind not in ("logits", "probabilities"):
        raise ParameterError(f"outputs must be 'logits' or 'probabilities', not {kind!r}")
    if resize == "auto":
        stored = meta.get("hoodwink.resize")
        if stored is not None:
            resize = None if stored in ("", "none", "null") else int(stored)
        else:
            resize = 256 if size == (224, 224) and k == 1000 else None

    def ask(pixels: np.ndarray) -> np.ndarray:
        x = pixels.astype(np.float32).transpose(0, 3, 1, 2) / 255.0
        if not len(x):
            return np.zeros((0, k), np.float32)
        out = np.concatenate([run(np.ascontiguousarray(x[i:i + CHUNK]))
                              for i in range(0, len(x), CHUNK)])
        return out if kind == "probabilities" else _softmax(out)

    return QueryModel(ask, chosen, output="probabilities", input_size=size,
                      resize=resize if resize is None else int(resize),
                      channels=channels, name=meta.get("hoodwink.name", f"onnx:{file.name}"),
                      metadata={"file": str(file), "outputs": kind})


def _labels(given: Labels | Sequence[str] | None, stored: str | None, k: int, file: Path
            ) -> Labels:
    if isinstance(given, Labels):
        labels = given
    elif given is not None:
        labels = Labels.from_names(given)
    elif stored:
        try:
            names = json.loads(stored)
        except ValueError:
            raise ModelError(f"{file}: hoodwink.labels in its metadata is not JSON") from None
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise ModelError(f"{file}: hoodwink.labels in its metadata is not a list of names")
        labels = imagenet_labels() if names == imagenet_labels().names else \
            Labels.from_names(names)
    elif k == 1000:
        labels = imagenet_labels()
    else:
        labels = Labels.from_names(str(i) for i in range(k))
    if len(labels) != k:
        raise ModelError(f"{file}: {len(labels)} labels for {k} outputs")
    return labels


class _Pixels(nn.Module):
    """The classifier on images already at its input size: normalisation, then the net."""

    def __init__(self, model: Classifier) -> None:
        super().__init__()
        self.net, self.mean, self.std = model.net, model.mean, model.std

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.net((x - self.mean) / self.std)
        return out


def export_onnx(model: Classifier, path: str | os.PathLike[str], *, opset: int = 17) -> Path:
    """Write ``model`` as an ONNX file that :func:`load_onnx` loads back as the same model
    (pixels in [0, 1] at the input size, logits out, labels and resize in the metadata)."""
    try:
        import onnx
    except ImportError as exc:
        raise ModelError("exporting to ONNX needs onnx: pip install 'hoodwink[onnx]'") from exc
    import tempfile
    import warnings

    target = Path(os.fspath(path))
    module = _Pixels(model).cpu().eval()
    x = torch.rand(1, model.channels, *model.input_size)
    with tempfile.TemporaryDirectory() as folder, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        raw = Path(folder) / "model.onnx"
        torch.onnx.export(module, (x,), str(raw), dynamo=False, opset_version=opset,
                          input_names=["pixels"], output_names=["logits"],
                          dynamic_axes={"pixels": {0: "n"}, "logits": {0: "n"}})
        proto = onnx.load(str(raw))
    meta = {"hoodwink.labels": json.dumps(model.labels.names),
            "hoodwink.resize": "none" if model.resize is None else str(model.resize),
            "hoodwink.outputs": "logits", "hoodwink.name": f"onnx:{model.name}"}
    for key, value in meta.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
    return write_atomic(target, proto.SerializeToString())
