"""The demo's chapter "Inside the network": a neuron, a convolution, feature maps, a small dream.

Kept to a few seconds on a laptop CPU: one photo, one forward pass per picture,
and a DeepDream of two small octaves.

Example:
    >>> text, pictures = inside_chapter(model, picture)     # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hoodwink.images import load_image
from hoodwink.models.classifier import Classifier

#: ``picture(figure, name, alt, caption)`` -> a picture of the page (the demo's ``_Run.picture``).
PictureMaker = Callable[[Any, str, str, str], Any]


def inside_chapter(model: Classifier, picture: PictureMaker, *, photo: str = "chelsea",
                   seed: int = 0) -> tuple[str, tuple[Any, ...]]:
    """The chapter's text and pictures (made with ``picture``)."""
    from hoodwink import viz
    from hoodwink.inside.dream import dream
    from hoodwink.inside.look import look_inside
    from hoodwink.inside.neuron import concert
    from hoodwink.inside.style import resize_shorter

    n = concert()
    image = load_image(photo)
    inside = look_inside(model, image, top=8)
    c = inside.convolution
    dreamed = dream(model, resize_shorter(image, 160), octaves=2, steps=6, step_size=0.015, seed=seed)
    pictures = [
        picture(viz.figure(n), "neuron", "one neuron: should I go to the concert?", (
            f"Scores times importance, summed ({n.total:g}), minus the threshold 25: z = {n.z:g}. A step "
            "activation says go or not, a sigmoid how sure, a ReLU by how much. Right: the line where the "
            "sum is exactly 25 is the neuron's decision boundary.")),
        picture(viz.figure(inside), "inside", f"inside {model.name}", (
            (f"Top: kernel {c.channel} of {c.layer} on the photo: at the circle, kernel times patch, summed, "
             f"plus the bias, is {c.value:.2f}, the value the layer itself computed there. " if c else "")
            + "Below: the channels that respond most in four layers, from early (edges, colours, on a "
            "56 x 56 grid) to late (parts of the cat, on 7 x 7).")),
        picture(viz.figure(dreamed), "dream", f"DeepDream of {photo}", (
            f"DeepDream (Mordvintsev et al. 2015): gradient ascent on the photo to raise {dreamed.layer}'s "
            "activations, in two octaves; the norm rose "
            + ", ".join(f"{b:.2f} -> {a:.2f}" for b, a in zip(dreamed.before, dreamed.after))
            + ". `hoodwink dream chelsea --out dream.png` dreams bigger.")),
    ]
    text = (
        "What is inside? Rosie Campbell's \"Demystifying deep neural networks\": a neuron multiplies "
        "its inputs by their importance, adds them up and passes the sum through an activation; a "
        "layer is many neurons; a convnet slides small kernels over the image. "
        f"{model.name} has {inside.parameters:,} such numbers in {len(inside.table)} layers. "
        "`hoodwink inside`, `visualize`, `dream`, `style` and `unseen` show more.")
    return text, tuple(pictures)
