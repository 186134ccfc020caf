from __future__ import annotations

import numpy as np
import pytest
import torch

from hoodwink.errors import ParameterError
from hoodwink.linearity import LinearitySweep, linearity_sweep
from hoodwink.models import Classifier
from hoodwink.viz.linearity import linearity_figure


def test_a_linear_model_gives_straight_lines_that_match_the_closed_form(
        linear_model: Classifier, image: torch.Tensor) -> None:
    weight, bias = linear_model.net[1].weight.detach(), linear_model.net[1].bias.detach()
    sweep = linearity_sweep(linear_model, image, eps=8 / 255, points=9, top=2)
    x = image.flatten()
    logits = weight @ x + bias
    source = int(logits.argmax())
    assert sweep.source == source and not sweep.toward
    probs = logits.softmax(-1)
    direction = -torch.sign(weight[source] - probs @ weight)  # the fast gradient sign step, away from source
    expected = (x[None] + sweep.eps[:, None] * direction[None]) @ weight.T + bias
    index = list(sweep.classes)
    torch.testing.assert_close(sweep.logits, expected[:, index], rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(sweep.slopes, (weight[index] @ direction), rtol=1e-4, atol=1e-4)
    assert sweep.linearity() == pytest.approx((1.0,) * len(index), abs=1e-6)
    assert sweep.eps[0] == pytest.approx(-8 / 255) and sweep.eps[-1] == pytest.approx(8 / 255)
    assert sweep.names == tuple(linear_model.labels.name(c) for c in index)
    assert len(sweep.classes) >= 2 and sweep.classes[0] == source


def test_toward_a_target_the_target_logit_rises(linear_model: Classifier, image: torch.Tensor) -> None:
    sweep = linearity_sweep(linear_model, image, target="weasel", eps=4 / 255, points=5)
    k = sweep.classes.index(3)
    assert sweep.toward and sweep.source_name == "weasel"
    assert sweep.slopes[k] > 0 and bool((sweep.logits[1:, k] > sweep.logits[:-1, k]).all())


def test_linearity_score_is_low_for_a_curve() -> None:
    e = torch.linspace(-1, 1, 21)
    sweep = LinearitySweep(eps=e, logits=torch.stack([e**2, 3 * e + 1], 1), random_logits=torch.zeros(21, 2),
                           classes=(0, 1), names=("a", "b"), source=0, source_name="a", toward=False,
                           slopes=torch.zeros(2))
    r2 = sweep.linearity()
    assert r2[0] == pytest.approx(0.0, abs=1e-9) and r2[1] == pytest.approx(1.0)
    torch.testing.assert_close(sweep.change(), torch.tensor([1.0, 6.0]))


def test_figure_two_panels_with_the_tangent(linear_model: Classifier, image: torch.Tensor) -> None:
    sweep = linearity_sweep(linear_model, image, eps=8 / 255, points=9, top=2)
    fig = linearity_figure(sweep)
    left, right = fig.axes
    k = len(sweep.classes)
    assert [line.get_label() for line in left.get_lines()][:k] == list(sweep.names)
    assert [line.get_label() for line in right.get_lines()][:k] == list(sweep.names)
    tangent = left.get_lines()[k]
    assert tangent.get_label() == f"tangent ({sweep.source_name})" and tangent.get_linestyle() == "--"
    # for a linear function the tangent is the curve itself
    np.testing.assert_allclose(tangent.get_ydata(), left.get_lines()[0].get_ydata(), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(left.get_lines()[0].get_xdata(), (sweep.eps * 255).numpy())
    np.testing.assert_allclose(right.get_lines()[0].get_ydata(), sweep.random_logits[:, 0].numpy())
    assert left.get_ylabel() == "logit" and "sign(gradient)" in left.get_title()
    assert "random" in right.get_title() and "8/255" in fig.get_suptitle()


def test_bad_parameters(linear_model: Classifier, image: torch.Tensor) -> None:
    with pytest.raises(ParameterError, match="eps"):
        linearity_sweep(linear_model, image, eps=0)
    with pytest.raises(ParameterError, match="points"):
        linearity_sweep(linear_model, image, points=2)
