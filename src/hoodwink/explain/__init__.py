"""Explanations: where did the network look, and should you believe the map?

Attribution methods come from Captum (saliency, SmoothGrad, integrated
gradients, Grad-CAM, occlusion, LIME, KernelSHAP); every map can be scored by
deletion/insertion AUC and by the model-randomisation sanity check.

Example:
    >>> import hoodwink
    >>> from hoodwink.explain import explain
    >>> model = hoodwink.load_model()                                   # doctest: +SKIP
    >>> e = explain(model, "chelsea", method="gradcam")                 # doctest: +SKIP
    >>> e.save_plot("map.png")                                          # doctest: +SKIP
"""

from hoodwink.explain.explainer import explain, explain_attack
from hoodwink.explain.faithfulness import (
    RandomMap,
    deletion_insertion,
    randomisation_check,
    scramble,
    with_faithfulness,
)
from hoodwink.explain.gradcam import GradCam, find_target_layer
from hoodwink.explain.gradients import IntegratedGradients, Saliency, SmoothGrad
from hoodwink.explain.occlusion import Occlusion
from hoodwink.explain.registry import (
    Method,
    MethodInfo,
    get_method,
    list_methods,
    method_info,
    register_method,
)
from hoodwink.explain.result import AttackExplanation, Explanation, Faithfulness, SanityCheck
from hoodwink.explain.surrogate import KernelShap, Lime, segments

__all__ = [
    "AttackExplanation", "Explanation", "Faithfulness", "GradCam", "IntegratedGradients",
    "KernelShap", "Lime", "Method", "MethodInfo", "Occlusion", "RandomMap", "Saliency",
    "SanityCheck", "SmoothGrad", "deletion_insertion", "explain", "explain_attack",
    "find_target_layer", "get_method", "list_methods", "method_info", "randomisation_check",
    "register_method", "scramble", "segments", "with_faithfulness",
]
