"""LIME and KernelSHAP over superpixels: reproducible, and right on a model we understand."""

from __future__ import annotations

import pytest
import torch

from hoodwink.errors import ParameterError
from hoodwink.explain import KernelShap, Lime, segments

from .conftest import linear_model


def test_tiny_images_get_a_grid():
    labels = segments(torch.rand(3, 28, 28), cell=4)
    assert labels.shape == (28, 28)
    assert labels.unique().numel() == 49
    assert (labels[:4, :4] == labels[0, 0]).all() and labels[0, 4] != labels[0, 0]


def test_photos_get_slic_superpixels_deterministically():
    from hoodwink.images import load_image

    image = torch.nn.functional.interpolate(load_image("chelsea")[None], size=(96, 128))[0]
    a, b = segments(image, 30), segments(image, 30)
    assert torch.equal(a, b)
    count = int(a.max()) + 1
    assert 10 <= count <= 60
    assert sorted(a.unique().tolist()) == list(range(count))  # dense labels, no gaps


def test_lime_same_seed_same_map(cnn, images):
    a = Lime(samples=40, seed=7).explain(cnn, images[:2], 0)
    b = Lime(samples=40, seed=7).explain(cnn, images[:2], 0)
    c = Lime(samples=40, seed=8).explain(cnn, images[:2], 0)
    torch.testing.assert_close(a.maps, b.maps, rtol=0, atol=0)
    assert not torch.allclose(a.maps, c.maps)


def _block_model() -> tuple[torch.nn.Module, torch.Tensor]:
    # 16x16 image, 4x4 grid cells: class 0's logit = weight * pixels, weight only in two cells
    weight = torch.zeros(1, 3, 16, 16)
    weight[..., 0:4, 0:4] = 1.0   # cell 0 pushes towards class 0
    weight[..., 8:12, 4:8] = -1.0  # cell 9 pushes away
    return linear_model(weight), weight


@pytest.mark.parametrize("cls", [Lime, KernelShap])
def test_surrogates_find_the_cells_the_model_uses(cls):
    model, _ = _block_model()
    image = torch.full((1, 3, 16, 16), 0.9)
    e = cls(samples=200, cell=4, baseline=0.5).explain(model, image, "yes")
    cells = e.maps[0].reshape(4, 4, 4, 4).mean((1, 3))  # value per grid cell (rows, cols)
    assert cells.argmax() == 0       # the helpful cell ranks first
    assert cells.argmin() == 9       # the harmful cell ranks last
    others = torch.cat([cells.flatten()[1:9], cells.flatten()[10:]])
    assert cells.flatten()[0] > 5 * others.abs().max()


def test_kernelshap_values_add_up(cnn, images):
    # Shapley efficiency: the values of all features sum to p(x) - p(baseline)
    e = KernelShap(samples=300, cell=4, seed=0).explain(cnn, images[:1], 1)
    labels = segments(images[0], cell=4)
    values = torch.stack([e.maps[0][labels == k][0] for k in range(int(labels.max()) + 1)])
    p = cnn(images[:1]).softmax(-1)[0, 1]
    p0 = cnn(torch.full_like(images[:1], 0.5)).softmax(-1)[0, 1]
    torch.testing.assert_close(values.sum(), p - p0, atol=2e-3, rtol=0.05)


def test_bad_baseline():
    with pytest.raises(ParameterError, match="baseline"):
        Lime(baseline=2.0)
