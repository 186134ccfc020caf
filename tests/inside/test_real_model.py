"""Inside EfficientNet-Lite0 itself: three short checks on the real weights."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from hoodwink.images import load_image
from hoodwink.inside import dream, explain_convolution, hook_count, look_inside, unseen
from hoodwink.inside.bias import PHOTOS
from hoodwink.inside.style import resize_shorter

pytestmark = pytest.mark.slow


def test_the_stem_convolution_with_same_padding_is_explained_exactly(imagenet_model) -> None:  # type: ignore[no-untyped-def]
    result = look_inside(imagenet_model, load_image("chelsea"), top=4)
    assert [row.name for row in result.table][:2] == ["_conv_stem", "_bn0"]
    assert result.predictions[0].name in ("tiger cat", "tabby", "Egyptian cat")
    for position in [(0, 0), (111, 111), (50, 60)]:   # corners reach into the "same" padding
        c = explain_convolution(imagenet_model, load_image("chelsea"), channel=5, position=position)
        expected = F.conv2d(c.patch[None], c.kernel[None])[0, 0, 0, 0]
        assert c.value == pytest.approx(float(expected), abs=1e-4)
        assert c.value == pytest.approx(float(c.output[position]), abs=1e-4)
    assert hook_count(imagenet_model) == 0


def test_deepdream_on_the_real_network_raises_the_norm_every_octave(imagenet_model) -> None:  # type: ignore[no-untyped-def]
    image = resize_shorter(load_image("chelsea"), 96)
    d = dream(imagenet_model, image, octaves=2, steps=3, seed=0)
    assert d.layer == "_blocks.8"
    assert all(a > b for b, a in zip(d.before, d.after))
    assert hook_count(imagenet_model) == 0


def test_photos_outside_imagenet_are_forced_into_its_classes(imagenet_model) -> None:  # type: ignore[no-untyped-def]
    result = unseen(imagenet_model, PHOTOS[:3])
    top = {p.name: p.predictions[0] for p in result.photos}
    assert top["camera"].name == "tripod" and top["camera"].probability > 0.5
    assert all(p.predictions[0].index in range(1000) for p in result.photos)
    assert torch.is_tensor(result.photos[0].image)
