"""Inside the network: neurons, layers, convolutions, feature visualisation, DeepDream, style transfer.

Rosie Campbell's "Demystifying deep neural networks" as code: what a neuron
computes (:mod:`~hoodwink.inside.neuron`), the network as a table of layers and
its feature maps (:mod:`~hoodwink.inside.layers`, :mod:`~hoodwink.inside.look`),
one convolution done by hand (:mod:`~hoodwink.inside.conv`), the pictures that
excite a class (:mod:`~hoodwink.inside.features`), DeepDream
(:mod:`~hoodwink.inside.dream`), style transfer (:mod:`~hoodwink.inside.style`),
and the photos it cannot name (:mod:`~hoodwink.inside.bias`). No module here
imports matplotlib; the figures are in :mod:`hoodwink.viz.inside`.

Example:
    >>> import hoodwink
    >>> from hoodwink.inside import dream, look_inside
    >>> model = hoodwink.load_model()                                   # doctest: +SKIP
    >>> look_inside(model, hoodwink.load_image("chelsea")).layers[0].channels   # doctest: +SKIP
    >>> dream(model, hoodwink.load_image("chelsea"), octaves=3).image.shape    # doctest: +SKIP
"""

from hoodwink.inside.bias import Unseen, unseen
from hoodwink.inside.conv import ConvolutionExplained, explain_convolution
from hoodwink.inside.dream import Dream, dream
from hoodwink.inside.features import Visualization, visualize
from hoodwink.inside.layers import (
    LayerInfo,
    LayerNotFoundError,
    activations,
    capture,
    default_layers,
    find_layer,
    hook_count,
    layer_table,
)
from hoodwink.inside.look import InsideResult, LayerMaps, look_inside
from hoodwink.inside.neuron import DenseLayer, Neuron, concert, dense_layer, neuron
from hoodwink.inside.style import Stylized, stylize
from hoodwink.viz import register_figure

# Each result draws itself through hoodwink.viz (figure, save, Jupyter); the drawers are
# named, not imported, so neither matplotlib nor hoodwink.viz.inside loads until a picture is drawn.
for _type, _drawer in (
    (Neuron, "neuron_figure"), (DenseLayer, "dense_figure"), (ConvolutionExplained, "convolution_figure"),
    (InsideResult, "inside_figure"), (Visualization, "visualization_figure"), (Dream, "dream_figure"),
    (Stylized, "style_figure"), (Unseen, "unseen_figure"),
):
    register_figure(_type, f"hoodwink.viz.inside:{_drawer}")

__all__ = [
    "ConvolutionExplained", "DenseLayer", "Dream", "InsideResult", "LayerInfo", "LayerMaps",
    "LayerNotFoundError", "Neuron", "Stylized", "Unseen", "Visualization", "activations", "capture",
    "concert", "default_layers", "dense_layer", "dream", "explain_convolution", "find_layer",
    "hook_count", "layer_table", "look_inside", "neuron", "stylize", "unseen", "visualize",
]
