"""Deletion/insertion scores and the randomisation check separate good maps from bad ones."""

from __future__ import annotations

import pytest
import torch

from hoodwink.errors import ParameterError
from hoodwink.explain import (
    GradCam,
    RandomMap,
    Saliency,
    deletion_insertion,
    explain,
    randomisation_check,
    scramble,
)
from hoodwink.explain.faithfulness import _ranks, blur, spearman

from .conftest import linear_model


def test_exact_importance_of_a_linear_model_beats_random_maps():
    generator = torch.Generator().manual_seed(0)
    weight = torch.randn(1, 3, 16, 16, generator=generator) * 0.2
    model = linear_model(weight)
    image = torch.rand(1, 3, 16, 16, generator=generator)
    start = blur(image, 0.5)
    # exact contribution of each pixel to the logit when it is swapped for the blurred copy
    exact = (weight * (image - start)).sum(1)
    good = deletion_insertion(model, image, exact, [0], steps=32, sigma=0.5)[0]
    for seed in range(5):
        noise = torch.rand(1, 16, 16, generator=torch.Generator().manual_seed(seed))
        bad = deletion_insertion(model, image, noise, [0], steps=32, sigma=0.5)[0]
        assert good.deletion_auc < bad.deletion_auc
        assert good.insertion_auc > bad.insertion_auc
    # and the reversed map is worse than random on both
    worst = deletion_insertion(model, image, -exact, [0], steps=32, sigma=0.5)[0]
    assert worst.deletion_auc > good.deletion_auc and worst.insertion_auc < good.insertion_auc


def test_curves_start_and_end_where_they_should(cnn, images):
    maps = torch.rand(4, 16, 16)
    scores = deletion_insertion(cnn, images, maps, [0, 1, 2, 0], steps=8)
    probs = cnn(images).softmax(-1)
    starts = cnn(blur(images, 0.5)).softmax(-1)
    for i, (f, t) in enumerate(zip(scores, [0, 1, 2, 0])):
        assert len(f.deletion_curve) == len(f.insertion_curve) == 9
        assert f.deletion_curve[0] == pytest.approx(float(probs[i, t]), abs=1e-5)
        assert f.insertion_curve[-1] == pytest.approx(float(probs[i, t]), abs=1e-5)
        assert f.deletion_curve[-1] == pytest.approx(float(starts[i, t]), abs=1e-5)
        assert f.insertion_curve[0] == pytest.approx(float(starts[i, t]), abs=1e-5)
        area = sum((a + b) / 2 for a, b in zip(f.deletion_curve, f.deletion_curve[1:])) / 8
        assert f.deletion_auc == pytest.approx(area, abs=1e-6)


def test_ties_are_broken_reproducibly_not_by_position():
    flat = torch.zeros(8, 8)
    a, b = _ranks(flat, 0), _ranks(flat, 0)
    assert torch.equal(a, b)
    assert sorted(a.flatten().tolist()) == list(range(64))
    assert not torch.equal(a.flatten(), torch.arange(64))  # not row-major order
    ordered = torch.arange(64.0).view(8, 8)
    assert _ranks(ordered, 0)[7, 7] == 0 and _ranks(ordered, 0)[0, 0] == 63


def test_shape_mismatch_is_a_clear_error(cnn, images):
    with pytest.raises(ParameterError, match="do not match"):
        deletion_insertion(cnn, images, torch.rand(4, 8, 8), [0] * 4)


def test_randomisation_flags_a_map_that_ignores_the_model(cnn, images):
    gradient = explain(cnn, images[:2], Saliency(), faithfulness=False, sanity=True)
    noise = explain(cnn, images[:2], RandomMap(), faithfulness=False, sanity=True)
    assert all(s.passed for s in gradient.sanity)
    assert not any(s.passed for s in noise.sanity)
    assert all(s.similarity > 0.99 for s in noise.sanity)


def test_scramble_keeps_weight_values_but_changes_the_function(cnn, images):
    other = scramble(cnn, seed=1)
    for p, q in zip(cnn.net.parameters(), other.net.parameters()):
        if p.dim() >= 2:
            torch.testing.assert_close(p.flatten().sort().values, q.flatten().sort().values)
            assert not torch.equal(p, q)
    assert not torch.allclose(cnn(images), other(images))
    assert cnn.net[0].weight.requires_grad is False  # the original is untouched


def test_spearman():
    a = torch.arange(10.0)
    assert spearman(a, a * 3 + 1) == pytest.approx(1.0)
    assert spearman(a, -a) == pytest.approx(-1.0)


def test_explanation_json_has_the_figures(cnn, images):
    e = explain(cnn, images[:2], "gradcam", steps=8)
    entries = e.to_dict()
    assert [d["method"] for d in entries] == ["gradcam", "gradcam"]
    for entry, f in zip(entries, e.faithfulness):
        assert entry["deletion_auc"] == f.deletion_auc and entry["insertion_auc"] == f.insertion_auc
        assert 0.0 <= entry["deletion_auc"] <= 1.0 and entry["target"] in cnn.labels.names
    checked = randomisation_check(cnn, GradCam(), e)
    assert checked.sanity is not None and len(checked.sanity) == 2
