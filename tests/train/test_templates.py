"""Linear classifiers: weight templates, the template trick, and FGSM's optimal Linf step."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import torch
from PIL import Image
from torch import nn

from hoodwink.errors import ParameterError
from hoodwink.models import wrap
from hoodwink.train import TrainConfig, build, load_dataset, train
from hoodwink.viz.templates import linear_templates, template_trick, templates_figure


def _linear(classes: int = 10, mean: float = 0.3, std: float = 0.2, seed: int = 0):  # type: ignore[no-untyped-def]
    torch.manual_seed(seed)
    net = nn.Sequential(nn.Flatten(), nn.Linear(784, classes))
    return wrap(net, [str(i) for i in range(classes)], input_size=(28, 28), mean=(mean,), std=(std,),
                channels=1, device="cpu")


def test_templates_reproduce_the_logits_in_pixel_space() -> None:
    model = _linear()
    weights, bias = linear_templates(model)
    assert weights.shape == (10, 1, 28, 28)
    images = torch.rand(5, 1, 28, 28)
    expected = images.flatten(1) @ weights.flatten(1).T + bias
    torch.testing.assert_close(model(images), expected, rtol=1e-4, atol=1e-4)


def test_only_linear_models_have_templates() -> None:
    with pytest.raises(ParameterError, match="not a linear classifier"):
        linear_templates(build("mlp", device="cpu"))


def test_templates_figure(tmp_path: Path) -> None:
    figure = templates_figure(_linear(), path=tmp_path / "t.png")
    assert [ax.get_title() for ax in figure.axes] == [str(i) for i in range(10)]
    with Image.open(tmp_path / "t.png") as picture:
        assert picture.format == "PNG"
    with pytest.raises(ParameterError, match=".png"):
        templates_figure(_linear(), path=tmp_path / "t.jpg")
    assert not (tmp_path / "t.jpg").exists()


def test_adding_the_template_moves_a_trained_linear_model(mnist_dir: Path) -> None:
    split = load_dataset(mnist_dir)
    model = train("linear", split, TrainConfig(epochs=3), device="cpu").model
    weights, _ = linear_templates(model)
    eps = 0.3
    successes = 0
    for i in range(10):
        image = split.test.images[i]
        for target in range(10):
            trick = template_trick(model, image, into=str(target), eps=eps)
            delta = trick.adversarial - trick.original
            assert float(delta.abs().max()) <= eps + 1e-6
            assert 0 <= float(trick.adversarial.min()) and float(trick.adversarial.max()) <= 1
            assert torch.equal(torch.round(trick.adversarial * 255) / 255, trick.adversarial)
            assert trick.source == int(model(trick.original).argmax())
            if target != trick.source:  # the target's score gains on the source's
                logits0, logits1 = model(trick.original)[0], model(trick.adversarial)[0]
                assert logits1[target] - logits1[trick.source] > logits0[target] - logits0[trick.source]
                # the gain is the dot product of the step with the template difference
                gain = (delta.flatten() @ (weights[target] - weights[trick.source]).flatten()).item()
                measured = (logits1[target] - logits1[trick.source] - logits0[target] + logits0[trick.source])
                assert measured.item() == pytest.approx(gain, rel=1e-3, abs=1e-3)
            successes += trick.success
    assert successes >= 60  # (the synthetic classes are far apart; MNIST digits need a larger eps)
    with pytest.raises(ParameterError, match="eps"):
        template_trick(model, split.test.images[0], into="3", eps=2.0)


@pytest.mark.skipif(importlib.util.find_spec("hoodwink.attacks.fgsm") is None, reason="no FGSM in the engine yet")
def test_fgsm_takes_the_optimal_linf_step_on_a_linear_model() -> None:
    """For logits z = W x + b, the Linf step of size eps that most lowers the margin
    z_y - z_o is -eps * sign(w_y - w_o), which lowers it by exactly eps * ||w_y - w_o||_1;
    with two classes the cross-entropy gradient points that way, so FGSM must find it."""
    from hoodwink.attacks.goals import Goal
    from hoodwink.attacks.registry import get_attack
    from hoodwink.attacks.threat import ThreatModel

    model = _linear(classes=2)
    weights, _ = linear_templates(model)
    generator = torch.Generator().manual_seed(0)
    images = torch.randint(90, 166, (8, 1, 28, 28), generator=generator).float() / 255  # on the grid, far from 0 and 1
    labels = model(images).argmax(1)
    eps = 12 / 255
    attack = get_attack("fgsm")
    result = attack(model, images, Goal.untargeted(labels), ThreatModel("linf", eps))
    lean = attack.perturb(model, images, Goal.untargeted(labels), ThreatModel("linf", eps, quantize=False))

    def margin(x: torch.Tensor) -> torch.Tensor:
        logits = model(x)
        return (logits.gather(1, labels[:, None]) - logits.gather(1, 1 - labels[:, None]))[:, 0]

    for adversarial in (result.adversarial, lean):
        drop = margin(images) - margin(adversarial)
        w_diff = (weights[labels] - weights[1 - labels]).flatten(1)
        optimum = eps * w_diff.abs().sum(1)
        torch.testing.assert_close(drop, optimum, rtol=1e-4, atol=1e-4)
        # no other step in the ball does better: random sign steps and the template direction
        for _ in range(50):
            signs = torch.randint(0, 2, images.shape, generator=generator).float() * 2 - 1
            assert bool((margin(images) - margin(images + eps * signs) <= optimum + 1e-4).all())
        template = -eps * w_diff.view_as(images) / w_diff.abs().amax(1).view(-1, 1, 1, 1)
        assert bool((margin(images) - margin(images + template) < optimum).all())
