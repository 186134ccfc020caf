"""One call to explain images (with faithfulness built in) or an attack.

Example:
    >>> import hoodwink
    >>> model = hoodwink.load_model()                                   # doctest: +SKIP
    >>> e = explain(model, "chelsea", method="gradcam")                 # doctest: +SKIP
    >>> e.target_names[0], round(e.faithfulness[0].insertion_auc, 2)    # doctest: +SKIP
    ('tiger cat', 0.61)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from hoodwink.errors import ParameterError
from hoodwink.explain.faithfulness import randomisation_check, with_faithfulness
from hoodwink.explain.registry import Method, Target, as_batch, get_method
from hoodwink.explain.result import AttackExplanation, Explanation
from hoodwink.models.classifier import Classifier


def explain(
    model: Classifier,
    images: Any,
    method: str | Method = "gradcam",
    *,
    target: Target = None,
    faithfulness: bool = True,
    sanity: bool = False,
    steps: int = 32,
    names: Sequence[str] = (),
    **params: Any,
) -> Explanation:
    """Explain ``images`` with ``method`` (a name or a :class:`Method`) and score the maps.

    Args:
        model: the classifier.
        images: a tensor (C, H, W) / (N, C, H, W) in [0, 1], a list of tensors,
            or anything :func:`hoodwink.load_images` reads.
        method: ``saliency``, ``smoothgrad``, ``integrated-gradients``, ``gradcam``,
            ``occlusion``, ``lime``, ``kernelshap`` or ``random``.
        target: the class to explain (index or name, or one per image);
            default the predicted class.
        faithfulness: compute deletion/insertion AUCs (``2 * (steps + 1)``
            forward passes per image).
        sanity: run the model-randomisation check (explains again on a
            scrambled copy of the network).
        steps: points of the deletion/insertion curves.
        **params: the method's hyperparameters (``samples=``, ``seed=``, ``layer=``...).
    """
    chosen = get_method(method, **params)
    result = chosen.explain(model, images, target, names=names)
    if faithfulness:
        result = with_faithfulness(model, result, steps=steps)
    if sanity:
        result = randomisation_check(model, chosen, result)
    return result


def explain_attack(
    model: Classifier,
    clean: torch.Tensor,
    adversarial: torch.Tensor,
    method: str | Method = "gradcam",
    *,
    target: Target = None,
    faithfulness: bool = False,
    **params: Any,
) -> AttackExplanation:
    """Maps of a clean image and its adversarial version for the same class, and their difference.

    Args:
        clean, adversarial: images (C, H, W) or (N, C, H, W) in [0, 1]; they are
            prepared (resized/cropped) by the model alike.
        target: the class both maps explain; default the clean image's
            prediction, so the figure shows where that class's evidence went.

    Example:
        >>> pair = explain_attack(model, panda, panda_as_vulture)      # doctest: +SKIP
        >>> pair.save_plot("pair.png")                                 # doctest: +SKIP
    """
    chosen = get_method(method, **params)
    x, _ = as_batch(model, clean)
    x_adv, _ = as_batch(model, adversarial)
    if x.shape != x_adv.shape:
        raise ParameterError(
            f"clean and adversarial images differ in shape: {tuple(x.shape)} vs {tuple(x_adv.shape)}")
    with torch.no_grad():
        clean_class = model(x).argmax(-1)
        adversarial_class = model(x_adv).argmax(-1)
    targets: Target = target if target is not None else clean_class
    a = chosen.explain(model, x, targets, names=["clean"] * len(x))
    b = chosen.explain(model, x_adv, list(a.targets), names=["adversarial"] * len(x))
    if faithfulness:
        a, b = with_faithfulness(model, a), with_faithfulness(model, b)
    return AttackExplanation(
        clean=a, adversarial=b, difference=(b.maps - a.maps) / _common_scale(a.maps, b.maps),
        clean_prediction=model.labels.name(int(clean_class[0])),
        adversarial_prediction=model.labels.name(int(adversarial_class[0])),
    )


def _common_scale(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """(N, 1, 1): the largest absolute value in either map of each pair (never 0)."""
    both = torch.cat([a.flatten(1), b.flatten(1)], 1).abs()
    return both.amax(1).clamp_min(1e-12).view(-1, 1, 1)
