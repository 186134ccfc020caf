from __future__ import annotations

import numpy as np
import pytest
import torch

from hoodwink import viz
from hoodwink.attacks import Goal, ThreatModel, get_attack, trick
from hoodwink.errors import ParameterError
from hoodwink.models import Classifier
from hoodwink.predict import Prediction
from hoodwink.viz.common import percent
from hoodwink.viz.trick import perturbation_pictures, trick_figure, trick_grid, trick_panel

VELVET = (Prediction(885, "velvet", 0.27), Prediction(700, "paper towel", 0.04))
TOWEL = (Prediction(700, "paper towel", 0.9), Prediction(885, "velvet", 0.01))


def test_black_image_perturbation_is_magnified_from_black_as_in_the_talk() -> None:
    black = torch.zeros(3, 4, 4)
    adversarial = black.clone()
    adversarial[0, 0, 0], adversarial[1, 2, 3] = 2 / 255, 9 / 255
    magnified, stretched = perturbation_pictures(black, adversarial, magnify=50)
    assert magnified[0, 0, 0] == pytest.approx(100 / 255) and magnified[2, 3, 1] == pytest.approx(1.0)  # 450/255 clips
    assert magnified.sum() == pytest.approx(100 / 255 + 1.0)  # everything else stays black
    assert stretched.max() == pytest.approx(1.0) and stretched[0, 0, 0] == pytest.approx(2 / 9)


def test_signed_perturbation_is_drawn_around_mid_gray() -> None:
    clean = torch.full((3, 4, 4), 0.5)
    delta = torch.zeros(3, 4, 4)
    delta[0, 1, 1], delta[2, 0, 0] = -4 / 255, 2 / 255
    magnified, stretched = perturbation_pictures(clean, clean + delta, magnify=50)
    np.testing.assert_allclose(magnified, np.clip(0.5 + 50 * delta.permute(1, 2, 0).numpy(), 0, 1), atol=1e-6)
    assert stretched[1, 1, 0] == pytest.approx(0.0) and stretched[0, 0, 2] == pytest.approx(0.75)
    assert stretched[3, 3, 1] == pytest.approx(0.5)


def test_panel_has_four_titled_panels_with_the_right_pictures() -> None:
    black = torch.zeros(3, 8, 8)
    adversarial = black + 3 / 255
    fig = trick_panel(black, adversarial, VELVET, TOWEL, title="bim, 3 steps")
    assert fig.get_suptitle() == "bim, 3 steps"
    titles = [ax.get_title() for ax in fig.axes]
    assert [t.splitlines()[0] for t in titles] == [
        "original", "perturbation x50", "perturbation, stretched", "adversarial"]
    assert titles[0].splitlines()[1:] == [f"velvet {percent(0.27)}", f"paper towel {percent(0.04)}"]
    assert titles[3].splitlines()[1:] == [f"paper towel {percent(0.9)}", f"velvet {percent(0.01)}"]
    assert "max change 3/255" in titles[1]
    shown = [np.asarray(ax.images[0].get_array()) for ax in fig.axes]
    np.testing.assert_allclose(shown[0], 0.0)
    np.testing.assert_allclose(shown[1], 150 / 255, atol=1e-6)  # 50 x 3/255
    np.testing.assert_allclose(shown[3], 3 / 255, atol=1e-6)


def test_panel_rejects_mismatched_images_and_bad_magnification() -> None:
    with pytest.raises(ParameterError, match="differ in shape"):
        trick_panel(torch.zeros(3, 4, 4), torch.zeros(3, 5, 4), VELVET, TOWEL)
    with pytest.raises(ParameterError, match="magnify"):
        trick_panel(torch.zeros(3, 4, 4), torch.zeros(3, 4, 4), VELVET, TOWEL, magnify=0)


def test_trick_figure_draws_an_engine_result(linear_model: Classifier, image: torch.Tensor) -> None:
    result = trick(linear_model, image, into="ostrich", eps=32 / 255, steps=30)
    assert bool(result.success[0])
    fig = trick_figure(result)
    original, adversarial = (np.asarray(fig.axes[i].images[0].get_array()) for i in (0, 3))
    np.testing.assert_allclose(original, result.original[0].permute(1, 2, 0).numpy(), atol=1e-6)
    np.testing.assert_allclose(adversarial, result.adversarial[0].permute(1, 2, 0).numpy(), atol=1e-6)
    assert fig.axes[3].get_title().splitlines()[1].startswith("ostrich ")
    steps = int(result.steps[0])
    assert fig.get_suptitle() == f"bim, targeted: ostrich, eps 32/255, {steps} steps: success"


def test_trick_figure_picks_one_sample_of_a_batch(linear_model: Classifier, image: torch.Tensor) -> None:
    images = torch.stack([image, image.flip(1), image.flip(2)])
    result = get_attack("bim", steps=5)(linear_model, images, Goal.targeted(2), ThreatModel("linf", 8 / 255))
    fig = trick_figure(result, index=2)
    np.testing.assert_allclose(np.asarray(fig.axes[0].images[0].get_array()),
                               result.original[2].permute(1, 2, 0).numpy(), atol=1e-6)
    with pytest.raises(ParameterError, match="out of range"):
        trick_figure(result, index=3)


def test_trick_grid_has_one_row_per_image_with_its_verdict(linear_model: Classifier, image: torch.Tensor) -> None:
    images = torch.stack([image, image.flip(1), image.flip(2)])
    result = get_attack("bim", steps=1, step_size=1 / 255)(linear_model, images, Goal.targeted(2),
                                                           ThreatModel("linf", 1 / 255))
    rows = [result[i] for i in range(len(result))]
    fig = trick_grid(rows, names=["a.png", "b.png", "c.png"])
    assert len(fig.axes) == 9
    for i, row in enumerate(rows):
        original, magnified, adversarial = fig.axes[3 * i: 3 * i + 3]
        assert original.get_title().splitlines()[0] == "abc"[i] + ".png"
        np.testing.assert_allclose(np.asarray(original.images[0].get_array()),
                                   row.original[0].permute(1, 2, 0).numpy(), atol=1e-6)
        np.testing.assert_allclose(np.asarray(adversarial.images[0].get_array()),
                                   row.adversarial[0].permute(1, 2, 0).numpy(), atol=1e-6)
        verdict = adversarial.get_title().splitlines()[0]
        assert verdict == ("fooled" if bool(row.success[0]) else "not fooled")
        assert adversarial.get_title().splitlines()[1].startswith(row.adversarial_predictions[0][0].name)
        assert "x50" in magnified.get_title()
    with pytest.raises(ParameterError, match="one sample per row"):
        trick_grid([result])
    with pytest.raises(ParameterError, match="2 names for 3 images"):
        trick_grid(rows, names=["a", "b"])


def test_attack_result_shows_itself_in_jupyter(linear_model: Classifier, image: torch.Tensor) -> None:
    one = trick(linear_model, image, into="ostrich", eps=32 / 255, steps=30)
    batch = get_attack("bim", steps=2)(linear_model, torch.stack([image, image.flip(1)]), Goal.targeted(2),
                                       ThreatModel("linf", 8 / 255))
    for result in (one, batch):
        assert viz.png(result)[:8] == b"\x89PNG\r\n\x1a\n"
