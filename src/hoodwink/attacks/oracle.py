"""The model oracle: the only door through which an attack touches a model.

An :class:`Oracle` is made by the attack template for one call (N samples). It
evaluates images that lie on the 8-bit grid and returns logits, probabilities
or labels; when the model allows it, it also gives the gradient of a
per-sample loss. It counts, **per sample**, the forward passes, the backward
passes and the queries (images judged), from outside the attack, so no attack
can under-report its cost (adv_lib counts with hooks for the same reason). An
optional query budget per sample is enforced here: a query beyond it is
refused with :class:`QueryBudgetError`, never silently made.

A model is either white-box (a PyTorch module: logits and gradients) or
query-only (a :class:`QueryModel`: it answers with probabilities, or with a
label only, like an API). Query-only models receive every query as uint8
pixels (N, H, W, C), because an API takes real images and nothing else.

EOT wraps an oracle (averaged gradients over transformations, success judged
by the plain deterministic forward); black-box attacks use its query side.

Example:
    >>> import torch
    >>> net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(12, 3))
    >>> oracle = Oracle(net, 2, queries=1)
    >>> rows = torch.arange(2)
    >>> oracle.probabilities(torch.zeros(2, 3, 2, 2), rows).shape
    torch.Size([2, 3])
    >>> oracle.queries.tolist(), oracle.forward.tolist()
    ([1, 1], [1, 1])
    >>> oracle.probabilities(torch.zeros(1, 3, 2, 2), rows[:1])
    Traceback (most recent call last):
    ...
    hoodwink.attacks.oracle.QueryBudgetError: sample 0 has used its budget of 1 queries
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from hoodwink.errors import HoodwinkError, ModelError, ParameterError
from hoodwink.models.classifier import resize_and_crop
from hoodwink.models.labels import Labels

#: A per-sample loss (N,) of float logits (N, classes).
LossFn = Callable[[torch.Tensor], torch.Tensor]


class QueryBudgetError(HoodwinkError):
    """A query beyond a sample's budget was asked for (and refused)."""


@dataclass
class QueryModel:
    """A model that can only be asked: images in, probabilities or one label out.

    Args:
        fn: called with uint8 pixels (N, H, W, C) as a numpy array; returns
            probabilities (N, classes) or, with ``output="labels"``, labels (N,).
        labels: the class names in output order.
        output: ``"probabilities"`` or ``"labels"`` (an API that only says the class).
        input_size: (height, width) the images are prepared to before asking.
        resize: shorter side before the centre crop (None: straight to ``input_size``).
        channels: 3 for RGB, 1 for grayscale.
        name: for reports.

    Example:
        >>> import numpy as np
        >>> model = QueryModel(lambda x: np.full((len(x), 2), 0.5), Labels.from_names("ab"),
        ...                    input_size=(4, 4), resize=None)
        >>> model.ask(np.zeros((3, 4, 4, 3), np.uint8)).shape
        torch.Size([3, 2])
    """

    fn: Callable[[np.ndarray], Any]
    labels: Labels
    output: str = "probabilities"
    input_size: tuple[int, int] = (224, 224)
    resize: int | None = 256
    channels: int = 3
    interpolation: str = "bicubic"
    name: str = "query-only model"
    metadata: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.output not in ("probabilities", "labels"):
            raise ParameterError(f"output must be 'probabilities' or 'labels', not {self.output!r}")

    @property
    def num_classes(self) -> int:
        return len(self.labels)

    @property
    def labels_only(self) -> bool:
        return self.output == "labels"

    def prepare(self, images: torch.Tensor) -> torch.Tensor:
        """Geometry only, as :meth:`Classifier.prepare` (float, [0, 1])."""
        return resize_and_crop(images, self.input_size, self.resize, self.interpolation,
                               self.channels)

    def ask(self, pixels: np.ndarray) -> torch.Tensor:
        """One call of ``fn`` on uint8 pixels (N, H, W, C), checked: probabilities
        (N, classes) float, or labels (N,) long."""
        answer = torch.as_tensor(np.asarray(self.fn(pixels)))
        n = pixels.shape[0]
        if self.labels_only:
            if answer.shape != (n,) or answer.is_floating_point() and bool(
                    (answer != answer.round()).any()):
                raise ModelError(f"{self.name}: expected {n} labels, got shape {tuple(answer.shape)}")
            answer = answer.long()
            if n and (int(answer.min()) < 0 or int(answer.max()) >= self.num_classes):
                raise ModelError(f"{self.name}: a label is outside 0..{self.num_classes - 1}")
            return answer
        if answer.shape != (n, self.num_classes):
            raise ModelError(f"{self.name}: expected probabilities of shape {(n, self.num_classes)}, "
                             f"got {tuple(answer.shape)}")
        answer = answer.float()
        if not bool(torch.isfinite(answer).all()):
            raise ModelError(f"{self.name}: answered with a NaN or infinite probability")
        return answer


def to_uint8(images: torch.Tensor) -> np.ndarray:
    """uint8 pixels (N, H, W, C) of images (N, C, H, W) on the 1/255 grid."""
    pixels = torch.round(images.detach().float().clamp(0, 1) * 255).to(torch.uint8)
    return pixels.permute(0, 2, 3, 1).cpu().numpy()


class Evaluation:
    """One evaluation of some samples: the logits that judge them (detached), and on
    demand the gradient of a per-sample loss (one backward pass per sample)."""

    def __init__(self, oracle: Oracle, rows: torch.Tensor, logits: torch.Tensor,
                 leaf: torch.Tensor | None, output: torch.Tensor | None) -> None:
        self._oracle = oracle
        self._rows = rows
        self._leaf = leaf
        self._output = output
        self.logits = logits

    def gradient(self, loss: LossFn, *, retain: bool = False) -> torch.Tensor:
        """d loss(logits).sum() / d images (N, C, H, W); counts one backward pass per
        sample. ``retain`` keeps the graph for another call (DeepFool's classes)."""
        if self._leaf is None or self._output is None:
            raise ParameterError("this evaluation was made without a gradient")
        with torch.enable_grad():
            value = loss(self._output.float())
        (grad,) = torch.autograd.grad(value.sum(), self._leaf, retain_graph=retain)
        self._oracle.backward[self._rows] += 1
        if not retain:
            self._output = None
        return grad


class Oracle:
    """Per-sample counted, budgeted access to a model for N samples.

    Args:
        model: a PyTorch module (white-box: logits and gradients), or a
            :class:`QueryModel` (probabilities or labels only).
        n: the number of samples; ``rows`` arguments index them.
        queries: the most queries (judged images) per sample, or None.
        gradients: False makes even a PyTorch module query-only.

    Attributes:
        forward, backward, queries: (N,) long counters, on the model's device.
    """

    def __init__(self, model: nn.Module | QueryModel, n: int, *, queries: int | None = None,
                 gradients: bool = True, device: torch.device | None = None) -> None:
        self.model = model
        self.white_box = isinstance(model, nn.Module) and gradients
        if device is None:
            device = getattr(model, "device", None) if isinstance(model, nn.Module) else None
            device = device if isinstance(device, torch.device) else torch.device("cpu")
        self.device = device
        if queries is not None and (isinstance(queries, bool) or not isinstance(queries, int)
                                    or queries < 1):
            raise ParameterError(f"queries must be a positive integer budget, not {queries!r}")
        self.budget = queries
        self.forward = torch.zeros(n, dtype=torch.long, device=device)
        self.backward = torch.zeros(n, dtype=torch.long, device=device)
        self.queries = torch.zeros(n, dtype=torch.long, device=device)
        #: (N,) each sample's global dataset index (the template sets it; EOT seeds follow it).
        self.index = torch.arange(n, device=device)

    # --- what the model is -------------------------------------------------------

    @property
    def labels_only(self) -> bool:
        """True when the model answers with a label only (no scores)."""
        return isinstance(self.model, QueryModel) and self.model.labels_only

    def view(self, start: int, stop: int) -> Oracle:
        """The same oracle for samples ``start:stop`` (counters shared, rows from 0)."""
        out = type(self).__new__(type(self))
        out.__dict__.update(self.__dict__)
        out.index = self.index[start:stop]
        out.forward = self.forward[start:stop]
        out.backward = self.backward[start:stop]
        out.queries = self.queries[start:stop]
        return out

    # --- the budget ------------------------------------------------------------------

    def left(self, rows: torch.Tensor | None = None) -> torch.Tensor:
        """Queries left per sample (a large number without a budget)."""
        used = self.queries if rows is None else self.queries[rows]
        if self.budget is None:
            return torch.full_like(used, 1 << 62)
        return self.budget - used

    def _charge(self, rows: torch.Tensor, passes: int = 1) -> None:
        # a row may repeat (several probes of one sample in one call): each one counts
        ones = torch.ones_like(rows, dtype=torch.long)
        if self.budget is not None and rows.numel():
            over = self.queries.index_add(0, rows, ones)[rows] > self.budget
            if bool(over.any()):
                first = int(rows[over.nonzero()[0, 0]])
                raise QueryBudgetError(
                    f"sample {first} has used its budget of {self.budget} queries")
        self.queries.index_add_(0, rows, ones)
        self.forward.index_add_(0, rows, ones * passes)

    # --- asking --------------------------------------------------------------------

    def evaluate(self, images: torch.Tensor, rows: torch.Tensor, *,
                 grad: bool = False) -> Evaluation:
        """Logits of ``images`` (one query per sample); with ``grad``,
        :meth:`Evaluation.gradient` gives the gradient of a loss of them afterwards."""
        if grad and not self.white_box:
            raise ModelError(f"{_name(self.model)} can only be queried: gradient attacks need a "
                             "white-box model (use a query-based attack such as square)")
        self._charge(rows)
        if not grad:
            return Evaluation(self, rows, self._logits(images), None, None)
        assert isinstance(self.model, nn.Module)
        with torch.enable_grad():
            leaf = images.detach().requires_grad_(True)
            out = self.model(leaf)
        return Evaluation(self, rows, out.detach().float(), leaf, out)

    def logits(self, images: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
        """Logits (N, classes) of a white-box model, or log-probabilities of a scoring one."""
        self._charge(rows)
        return self._logits(images)

    def probabilities(self, images: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
        """Probabilities (N, classes): one query per sample."""
        if self.labels_only:
            raise ModelError(f"{_name(self.model)} answers with labels only: use a decision-based "
                             "attack (hopskipjump, boundary)")
        self._charge(rows)
        if isinstance(self.model, QueryModel):
            return self.model.ask(to_uint8(images)).to(self.device)
        return self._logits(images).softmax(dim=1)

    def labels(self, images: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
        """The top-1 class (N,) long: one query per sample; works for every model."""
        self._charge(rows)
        if isinstance(self.model, QueryModel):
            answer = self.model.ask(to_uint8(images)).to(self.device)
            return answer if self.model.labels_only else answer.argmax(dim=1)
        return self._logits(images).argmax(dim=1)

    def _logits(self, images: torch.Tensor) -> torch.Tensor:
        if isinstance(self.model, QueryModel):
            if self.model.labels_only:
                raise ModelError(f"{_name(self.model)} answers with labels only")
            return self.model.ask(to_uint8(images)).to(self.device).clamp_min(1e-30).log()
        with torch.no_grad():
            return self.model(images).float()  # type: ignore[no-any-return]


def _name(model: object) -> str:
    return str(getattr(model, "name", type(model).__name__))


def model_labels(model: object, num_classes: int) -> Labels:
    """The model's class labels, or the indices as names."""
    labels = getattr(model, "labels", None)
    return labels if isinstance(labels, Labels) else Labels.from_names(
        str(i) for i in range(num_classes))


def num_classes(model: object) -> int | None:
    """The number of classes when the model says it, else None."""
    labels = getattr(model, "labels", None)
    return len(labels) if isinstance(labels, (Labels, Sequence)) else None
