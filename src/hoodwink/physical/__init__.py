"""Tricks that survive the world: checks through the real pipeline (PIL, Pillow's JPEG).

:func:`verify` draws fresh transformations with a seed of its own and applies them
with PIL (resize, rotate, Gaussian blur), numpy (brightness, noise, rounded to 8 bits)
and Pillow's JPEG encoder, never with the differentiable stand-ins the attack used;
:func:`judge_jpeg` judges an attack's images as they read back from JPEG. EOT itself
and full-size attacks live in :mod:`hoodwink.attacks.eot`.

Example:
    >>> result = trick(model, "chelsea", into="vulture", eps="16/255", robust_to="physical")  # doctest: +SKIP
    >>> verify(model, result, "physical", samples=100).fraction                            # doctest: +SKIP
    tensor([0.9400])
"""

from __future__ import annotations

from hoodwink.physical.verify import Verification, judge_jpeg, real_transform, unwrap, verify
from hoodwink.viz import register_figure

register_figure("hoodwink.physical.verify.Verification", "hoodwink.viz.physical:verification_figure")

__all__ = ["Verification", "judge_jpeg", "real_transform", "unwrap", "verify"]
