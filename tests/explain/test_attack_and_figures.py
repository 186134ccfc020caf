"""Explaining an attack, and the figures."""

from __future__ import annotations

import pytest
import torch

from hoodwink import viz
from hoodwink.errors import ImageError, ParameterError
from hoodwink.explain import explain, explain_attack


def test_attack_pair_explains_both_images_for_the_clean_class(cnn, images):
    clean = images[:1]
    # a one-step gradient attack away from the predicted class, on the 1/255 grid
    x = clean.clone().requires_grad_(True)
    label = cnn(clean).argmax(-1)
    torch.nn.functional.cross_entropy(cnn(x), label).backward()
    adversarial = ((clean + 0.3 * x.grad.sign()).clamp(0, 1) * 255).round() / 255

    pair = explain_attack(cnn, clean, adversarial, "saliency")
    assert pair.clean.targets == pair.adversarial.targets == (int(label),)
    assert pair.clean_prediction == cnn.labels.name(int(label))
    assert pair.adversarial_prediction == cnn.labels.name(int(cnn(adversarial).argmax(-1)))
    a, b = pair.clean.maps[0], pair.adversarial.maps[0]
    scale = torch.maximum(a.abs().max(), b.abs().max())
    torch.testing.assert_close(pair.difference[0], (b - a) / scale)
    assert float(pair.difference.abs().max()) <= 2.0
    assert float(pair.difference.abs().max()) > 0
    same = explain_attack(cnn, clean, clean, "saliency")
    assert float(same.difference.abs().max()) == 0.0
    doc = pair.to_dict()[0]
    assert doc["clean"]["target"] == doc["adversarial"]["target"]


def test_attack_pair_rejects_mismatched_images(cnn):
    with pytest.raises(ParameterError, match="differ in shape"):
        explain_attack(cnn, torch.rand(1, 3, 16, 16), torch.rand(2, 3, 16, 16))


def test_figures_are_pngs(cnn, images, tmp_path):
    e = explain(cnn, images[:2], "integrated-gradients", steps=4, sanity=True)
    png = viz.png(e)
    assert png.startswith(b"\x89PNG")
    fig = viz.figure(e)
    assert len(fig.axes) == 6  # two rows of image | map | overlay
    assert "integrated-gradients" in fig.axes[1].get_title()
    assert "deletion AUC" in fig.axes[1].get_xlabel()
    path = viz.save(e, tmp_path / "map.png")
    assert path.read_bytes().startswith(b"\x89PNG")
    with pytest.raises(ImageError):
        viz.save(e, tmp_path / "missing" / "map.png")
    pair = explain_attack(cnn, images[:1], images[1:2], "gradcam")
    assert viz.png(pair).startswith(b"\x89PNG")
    assert len(viz.figure(pair).axes) == 6
