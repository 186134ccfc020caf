"""Transfer: craft on models you hold, then test on a model you can only ask.

Adversarial images made for one network often fool another (Papernot et al.
2017): the attacker needs no query to craft them, only to check them. Three
things make them travel better, and all are here:

* **input diversity** (DI, Xie et al. 2019): each gradient is taken through a
  random resize-and-pad of the image (with probability ``diversity``), so the
  perturbation does not fit one exact pixel grid;
* **translation invariance** (TI, Dong et al. 2019): each gradient is smoothed
  by a Gaussian kernel, as if averaged over small shifts of the image;
* an **ensemble** of surrogates (:class:`Ensemble`, the mean of their logits).

``mifgsm-di-ti`` is MI-FGSM (momentum, Dong et al. 2018) with both, ``mifgsm-di``
(the default) with DI only: TI's smoothing is built for targets trained against
adversarial examples and costs transfer to undefended ones (lite0 -> lite2, 8/255:
81% with DI alone, 31% with both; ``benchmarks/results/blackbox.md``). Neither stops
when the surrogate is fooled (every step is spent, which is what makes a
perturbation transfer). :func:`transfer` crafts on the surrogates and
tests on the target through the oracle: two queries per image (the clean image
and the crafted one), counted.

**Transfer, then ask** (``then="square"``): the hybrid attack of Suya et al. 2020
(*Hybrid Batch Attacks*, USENIX Security, arXiv:1908.07000). Square runs on the
target from the crafted image (``start=``) within the same per-image budget: its
query 1 is the clean image and query 2 the crafted one, the two queries of the
plain test, so an image the transfer alone fooled costs 2 queries and the others
go on with squares from the transferred perturbation.

Example:
    >>> lite0, lite1 = load_model("efficientnet-lite0"), load_model("efficientnet-lite1")  # doctest: +SKIP
    >>> out = transfer([lite0, lite1], load_model("efficientnet-lite2"), images,
    ...                threat=ThreatModel("linf", 16 / 255))                    # doctest: +SKIP
    >>> out.success.float().mean()                                           # doctest: +SKIP
    >>> hybrid = transfer([lite0], asked, images, threat=ThreatModel("linf", 8 / 255),
    ...                   then="square", queries=1000)                       # doctest: +SKIP
    >>> hybrid.queries[hybrid.success].median()                              # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from hoodwink.attacks.engine import Attack, Batch, Model, Outcome, mix_seed
from hoodwink.attacks.goals import Goal
from hoodwink.attacks.gradient import State
from hoodwink.attacks.mifgsm import MIFGSM
from hoodwink.attacks.oracle import Evaluation, Oracle
from hoodwink.attacks.registry import ATTACKS, attacks_taking_start, get_attack, register_attack
from hoodwink.attacks.result import AttackResult
from hoodwink.attacks.threat import ThreatModel
from hoodwink.attacks.watch import announce
from hoodwink.errors import ParameterError
from hoodwink.models.classifier import model_input
from hoodwink.validate import check_float, check_int


class Ensemble(nn.Module):
    """Several classifiers with the same classes as one: the mean of their logits.

    Images come in at the first member's input size; each member prepares them to
    its own. ``labels``, ``input_size`` and ``resize`` are the first member's.
    """

    def __init__(self, members: Sequence[nn.Module]) -> None:
        super().__init__()
        if not members:
            raise ParameterError("an ensemble needs at least one model")
        sizes = {len(getattr(m, "labels", ())) for m in members}
        if len(sizes) != 1:
            raise ParameterError(f"the ensemble's models disagree on the number of classes: {sizes}")
        self.members = nn.ModuleList(members)
        first = members[0]
        self.labels = getattr(first, "labels", None)
        self.input_size = getattr(first, "input_size", None)
        self.resize = getattr(first, "resize", None)
        self.name = "+".join(str(getattr(m, "name", type(m).__name__)) for m in members)

    @property
    def device(self) -> torch.device:
        return next(iter(self.parameters())).device if any(True for _ in self.parameters()) \
            else torch.device("cpu")

    def prepare(self, images: torch.Tensor) -> torch.Tensor:
        prepare = getattr(self.members[0], "prepare", None)
        return prepare(images) if callable(prepare) else images

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        logits = [m(images) for m in self.members]
        return torch.stack(logits).mean(dim=0)


def gaussian_kernel(size: int, nsig: float = 3.0) -> torch.Tensor:
    """(size, size) a normalised Gaussian over ±nsig standard deviations (TI's kernel).

    Example:
        >>> round(float(gaussian_kernel(15).sum()), 6)
        1.0
    """
    x = torch.linspace(-nsig, nsig, size, dtype=torch.float64)
    g = torch.exp(-x ** 2 / 2)
    kernel = torch.outer(g, g)
    return (kernel / kernel.sum()).float()


def diverse(images: torch.Tensor, generators: Sequence[torch.Generator], prob: float,
            rate: float) -> torch.Tensor:
    """DI's random resize-and-pad, per image (with probability ``prob``), back to the size.

    Each image is resized to a random side in [H, H * rate), padded at a random place
    to H * rate and resized back to H (bilinear), as in Xie et al. 2019 and torchattacks.
    """
    n, _, h, w = images.shape
    big_h, big_w = max(h + 1, int(h * rate)), max(w + 1, int(w * rate))
    out = []
    for i in range(n):
        g = generators[i]
        u = torch.rand(4, generator=g).tolist()
        x = images[i:i + 1]
        if u[0] < prob:
            side_h = h + int(u[1] * (big_h - h))
            side_w = w + int(u[1] * (big_w - w))
            x = F.interpolate(x, size=(side_h, side_w), mode="bilinear", align_corners=False)
            top = int(u[2] * (big_h - side_h + 1))
            left = int(u[3] * (big_w - side_w + 1))
            x = F.pad(x, (left, big_w - side_w - left, top, big_h - side_h - top))
            x = F.interpolate(x, size=(h, w), mode="bilinear", align_corners=False)
        out.append(x)
    return torch.cat(out)


class _DiverseOracle(Oracle):
    """The batch's oracle, but gradients are taken through DI (success is judged on the
    plain image, by the plain forward pass); the extra forward pass is counted."""

    def __init__(self, base: Oracle, prob: float, rate: float,
                 generators: Sequence[torch.Generator]) -> None:
        self.__dict__.update(base.__dict__)
        self._prob, self._rate, self._generators = prob, rate, generators

    def evaluate(self, images: torch.Tensor, rows: torch.Tensor, *,
                 grad: bool = False) -> Evaluation:
        if not grad or not self.white_box:
            return super().evaluate(images, rows, grad=grad)
        plain = super().evaluate(images, rows)
        self.forward.index_add_(0, rows, torch.ones_like(rows))
        assert isinstance(self.model, nn.Module)
        gens = [self._generators[int(r)] for r in rows.tolist()]
        with torch.enable_grad():
            leaf = images.detach().requires_grad_(True)
            out = self.model(diverse(leaf, gens, self._prob, self._rate))
        return Evaluation(self, rows, plain.logits, leaf, out)


@register_attack("mifgsm-di-ti", description="MI-FGSM with input diversity and translation "
                 "invariance, for transfer to other models (Dong et al. 2018, Xie et al. 2019, "
                 "Dong et al. 2019)", norms=("linf", "l2"),
                 paper="Xie et al. 2019, arXiv:1803.06978; Dong et al. 2019, arXiv:1904.02884")
@dataclass(frozen=True)
class MIFGSMDITI(MIFGSM):
    """MI-FGSM with DI and TI; every step is spent (``early_stop=False``).

    Args:
        diversity: the probability of DI's resize-and-pad per step (0: no DI).
        resize_rate: how much larger DI's padded image is (Xie et al.: 330 / 299 ~ 1.1).
        kernel: TI's Gaussian kernel size, odd (1: no TI; None: about a 15th of the
            image's side, made odd: 15 for 224 x 224 as in torchattacks, none for tiny images).
        steps, decay, step_size, seed, ...: as for :class:`MIFGSM`.
    """

    diversity: float = 0.5
    resize_rate: float = 1.1
    kernel: int | None = None
    early_stop: bool = False

    def __post_init__(self) -> None:
        super().__post_init__()
        check_float("diversity", self.diversity, low=0.0, high=1.0)
        check_float("resize_rate", self.resize_rate, low=1.0, low_open=True)
        if self.kernel is not None and check_int("kernel", self.kernel) % 2 == 0:
            raise ParameterError(f"kernel must be odd, not {self.kernel}")

    def run(self, batch: Batch) -> Outcome:
        if self.diversity > 0:
            gens = [torch.Generator().manual_seed(mix_seed(self.seed, 7, int(i)))
                    for i in batch.index.tolist()]
            oracle = _DiverseOracle(batch.oracle, self.diversity, self.resize_rate, gens)
            batch = dataclasses.replace(batch, oracle=oracle)
        return super().run(batch)

    def update(self, x: torch.Tensor, grad: torch.Tensor, *, loss: torch.Tensor, state: State,
               step: int, clean: torch.Tensor, threat: ThreatModel, step_size: float
               ) -> torch.Tensor:
        size = self.kernel
        if size is None:
            size = min(grad.shape[2:]) // 15
            size += 1 - size % 2
        if size > 1:
            c = grad.shape[1]
            weight = gaussian_kernel(size).to(grad)[None, None].expand(c, 1, -1, -1)
            grad = F.conv2d(grad, weight, padding=size // 2, groups=c)
        return super().update(x, grad, loss=loss, state=state, step=step, clean=clean,
                              threat=threat, step_size=step_size)


@register_attack("mifgsm-di", description="MI-FGSM with input diversity, for transfer to "
                 "undefended models (Dong et al. 2018, Xie et al. 2019)", norms=("linf", "l2"),
                 paper="Xie et al. 2019, arXiv:1803.06978")
@dataclass(frozen=True)
class MIFGSMDI(MIFGSMDITI):
    """MI-FGSM with DI only (TI's ``kernel`` 1): every step is spent.

    TI's smoothing is made for targets trained against adversarial examples; on an
    undefended target it costs transfer (``benchmarks/results/blackbox.md``), so this is
    ``hoodwink transfer``'s default.

    Example:
        >>> MIFGSMDI().kernel
        1
    """

    kernel: int | None = 1


@dataclass(frozen=True)
class TransferResult:
    """Images crafted on surrogates and how the target answered them.

    Attributes:
        crafted: the attack's result on the surrogate(s).
        target_clean, target_adversarial: (N,) the target's top-1 class of the clean
            and of the final 8-bit images (the crafted ones, or ``then``'s).
        goal_classes: (N,) the goal's class on the target (its clean prediction when
            untargeted without labels).
        success: (N,) the target reached the goal on the final image.
        queries: (N,) the target's queries (2 per image; with ``then``, its queries:
            2 for an image the crafted start fooled, 1 for one already there).
        then: the query attack's result on the target (``transfer(then="square")``):
            its images, at the target's input size, are the final ones; else None.
    """

    crafted: AttackResult
    target_clean: torch.Tensor
    target_adversarial: torch.Tensor
    goal_classes: torch.Tensor
    success: torch.Tensor
    queries: torch.Tensor
    target_name: str
    then: AttackResult | None = None

    @property
    def adversarial(self) -> torch.Tensor:
        """(N, C, H, W) the final adversarial images: ``then``'s (at the target's input
        size) when a query attack followed, else the crafted ones."""
        return self.crafted.adversarial if self.then is None else self.then.adversarial

    @property
    def start_fooled(self) -> torch.Tensor:
        """(N,) bool: the crafted image alone fooled the target (at query 2)."""
        return self.success & (self.queries == 2)

    def median_queries(self) -> float | None:
        """The median queries of the fooled images (the mean of the middle two for an even
        count, as :func:`statistics.median`; None when none was fooled)."""
        fooled = self.queries[self.success].tolist()
        return float(statistics.median(fooled)) if fooled else None

    def to_dict(self) -> dict[str, Any]:
        names = self.crafted.names
        samples = []
        for i in range(len(self.success)):
            sample = self.crafted.sample_dict(i, top=3)
            final = sample if self.then is None else self.then.sample_dict(i, top=3)
            samples.append({
                "surrogate_success": sample["success"], "linf_255": final["linf_255"],
                "l2": final["l2"], "success": bool(self.success[i]),
                "target_clean": names.name(int(self.target_clean[i])),
                "target_adversarial": names.name(int(self.target_adversarial[i])),
                "goal_class": names.name(int(self.goal_classes[i])),
                "queries": int(self.queries[i]),
                "start_fooled": bool(self.start_fooled[i])})
        return {**self.crafted.header_dict(), "target": self.target_name,
                "then": None if self.then is None else self.then.attack,
                "then_params": None if self.then is None else self.then.params_json(),
                "success_rate": float(self.success.float().mean()) if len(samples) else 0.0,
                "surrogate_success_rate": self.crafted.success_rate,
                "median_queries": self.median_queries(),
                "samples": samples}


def transfer(sources: Sequence[Model], target: Model, images: torch.Tensor,
             goal: Goal | None = None, threat: ThreatModel | None = None, *,
             attack: str = "mifgsm-di", queries: int | None = None, then: str | None = None,
             **params: Any) -> TransferResult:
    """Craft on ``sources`` (one model or an :class:`Ensemble` of several), test on ``target``.

    The images are crafted at the first surrogate's input size and sent to the target
    as they are (8-bit); the target prepares them to its own size. ``queries`` is the
    target's budget per image (two are used). Returns a :class:`TransferResult`.

    ``then`` names a query attack that takes a start (``"square"``): it runs on the
    target from the crafted images, in the same threat (the crafting attack's, when
    ``threat`` is None) and within ``queries`` per image (None: the attack's own
    ``steps``); its first two queries are the plain test's two, which are not made
    again. The crafted image is projected into the threat around the target's clean
    view (a resize to the target's input size can move a pixel a level out of it).
    The crafting attack's ``seed`` seeds it too.
    """
    if not sources:
        raise ParameterError("transfer needs at least one surrogate model")
    if len(sources) > 1 and not all(isinstance(m, nn.Module) for m in sources):
        raise ParameterError("an ensemble of surrogates needs PyTorch models (gradients)")
    follow = None if then is None else _follower(then, threat, params.get("seed"))
    surrogate: Model = sources[0] if len(sources) == 1 else Ensemble(
        [m for m in sources if isinstance(m, nn.Module)])
    goal = Goal.untargeted() if goal is None else goal
    crafted = get_attack(attack, **params)(surrogate, images, goal, threat)
    name = str(getattr(target, "name", "target"))
    if follow is not None:
        after = follow(target, crafted.original, goal, crafted.threat,
                       start=crafted.adversarial, queries=queries)
        return TransferResult(
            crafted, after.clean_probabilities.argmax(1).cpu(),
            after.adversarial_probabilities.argmax(1).cpu(), after.goal_classes.cpu(),
            after.success.cpu(), after.queries.cpu().clone(), name, after)
    n = len(crafted)
    rows = torch.arange(n)
    oracle = announce(Oracle(target, n, queries=queries))
    # what the target is sent: each 8-bit image, prepared to its own input size
    clean_labels = oracle.labels(model_input(target, crafted.original), rows).cpu()
    adversarial = oracle.labels(model_input(target, crafted.adversarial), rows).cpu()
    k = max(int(clean_labels.max()), int(adversarial.max()), *(goal.classes or (0,))) + 1
    classes = goal.labels(F.one_hot(clean_labels, max(k, 2)).float())
    hit = adversarial == classes
    success = hit if goal.toward else ~hit
    return TransferResult(crafted, clean_labels, adversarial, classes, success,
                          oracle.queries.cpu().clone(), name)


def _follower(then: str, threat: ThreatModel | None, seed: int | None) -> Attack:
    """The query attack named ``then``, checked before any crafting is spent."""
    valid = attacks_taking_start()
    if ATTACKS.key(then) not in valid:
        raise ParameterError(f"then must be a query attack that takes a start "
                             f"({', '.join(valid)}), not {then!r}")
    follow = get_attack(then, seed=seed)
    if threat is not None and threat.norm not in follow.norms:
        raise ParameterError(f"attack {follow.name!r} supports the norms "
                             f"{', '.join(follow.norms)}, not {threat.norm!r}")
    return follow

