from __future__ import annotations

import numpy as np
import pytest
import torch

from hoodwink.errors import ParameterError
from hoodwink.gradient import class_gradient
from hoodwink.models import Classifier
from hoodwink.viz.gradient import class_gradient_figure, gradient_figure, gradient_picture


def test_gradient_of_log_probability_matches_the_closed_form_for_a_linear_model(
        linear_model: Classifier, image: torch.Tensor) -> None:
    # logits = W x + b  =>  d log p_t / dx = W_t - sum_k p_k W_k
    weight = linear_model.net[1].weight.detach()
    probs = linear_model(image[None]).softmax(-1)[0]
    expected = (weight[3] - probs @ weight).reshape(3, 4, 4)
    result = class_gradient(linear_model, image, "weasel")
    assert result.target == 3 and result.name == "weasel"
    assert result.probability == pytest.approx(float(probs[3]), rel=1e-5)
    torch.testing.assert_close(result.gradient, expected, rtol=1e-4, atol=1e-6)
    torch.testing.assert_close(result.image, image)


def test_picture_is_gradient_over_its_98th_percentile_around_gray() -> None:
    g = torch.linspace(-1.0, 1.0, 3 * 10 * 10).reshape(3, 10, 10)
    picture = gradient_picture(g)
    p98 = float(np.percentile(np.abs(g.numpy()), 98))
    expected = 0.5 + 0.5 * np.clip(g.permute(1, 2, 0).numpy() / p98, -1, 1)
    np.testing.assert_allclose(picture, expected, atol=1e-6)
    assert picture.min() == 0.0 and picture.max() == 1.0  # the top 2% are clipped to the ends
    np.testing.assert_allclose(gradient_picture(torch.zeros(3, 2, 2)), 0.5)  # no gradient: all gray
    with pytest.raises(ParameterError, match="percentile"):
        gradient_picture(g, percentile=0)


def test_figure_has_image_gradient_and_sign(linear_model: Classifier, image: torch.Tensor) -> None:
    fig = class_gradient_figure(class_gradient(linear_model, image, "vulture"))
    titles = [ax.get_title() for ax in fig.axes]
    assert titles[0] == "image"
    assert titles[1] == "gradient toward vulture\n/ its 98th percentile"
    assert titles[2].startswith("sign(gradient) toward vulture")
    sign = np.asarray(fig.axes[2].images[0].get_array())
    assert set(np.unique(sign)) <= {0.0, 0.5, 1.0}
    assert len(gradient_figure(torch.randn(3, 4, 4)).axes) == 2  # without the image
