"""Saliency, SmoothGrad and integrated gradients against independent computations."""

from __future__ import annotations

import pytest
import torch

from hoodwink.errors import ParameterError
from hoodwink.explain import IntegratedGradients, Saliency, SmoothGrad, get_method
from hoodwink.images import quantize

from .conftest import small_cnn


def test_saliency_is_the_autograd_gradient(cnn, images):
    targets = [0, 1, 2, 1]
    e = Saliency().explain(cnn, images, targets)
    x = quantize(images).requires_grad_(True)  # explained: the 8-bit image the model is asked about
    logits = cnn(x)
    logits.gather(1, torch.tensor(targets)[:, None]).sum().backward()
    expected = x.grad.abs().amax(1)
    torch.testing.assert_close(e.maps, expected)
    assert e.targets == tuple(targets)
    assert e.target_names == ("class0", "class1", "class2", "class1")


def test_default_target_is_the_prediction(cnn, images):
    e = Saliency().explain(cnn, images)
    assert list(e.targets) == cnn(images).argmax(-1).tolist()
    probs = cnn(images).softmax(-1).max(-1).values
    torch.testing.assert_close(torch.tensor(e.probabilities), probs)


def test_integrated_gradients_completeness(cnn, images):
    # Sundararajan et al.: attributions sum to f(x) - f(baseline).
    targets = torch.tensor([0, 1, 2, 0])
    e = IntegratedGradients(steps=64).explain(cnn, images, targets)
    logits = cnn(images).gather(1, targets[:, None])[:, 0]
    baseline = cnn(torch.zeros_like(images)).gather(1, targets[:, None])[:, 0]
    sums = e.attributions.flatten(1).sum(1)
    torch.testing.assert_close(sums, logits - baseline, atol=2e-3, rtol=1e-2)
    # and the map keeps the sign: its sum is the same total
    torch.testing.assert_close(e.maps.flatten(1).sum(1), sums, atol=1e-4, rtol=1e-4)


def test_integrated_gradients_memory_batches_do_not_change_the_result(cnn, images):
    a = IntegratedGradients(steps=16, batch_size=64).explain(cnn, images, 1)
    b = IntegratedGradients(steps=16, batch_size=3).explain(cnn, images, 1)
    torch.testing.assert_close(a.attributions, b.attributions, atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("name", ["saliency", "smoothgrad", "integrated-gradients", "gradcam",
                                  "occlusion", "lime", "kernelshap", "random"])
def test_batch_equals_one_image_at_a_time(cnn, images, name):
    params: dict[str, int] = {"samples": 24} if name in {"smoothgrad", "lime", "kernelshap"} else {}
    if name == "occlusion":
        params = {"window": 4, "stride": 2}
    method = get_method(name, **params)
    together = method.explain(cnn, images, 2)
    for i in range(len(images)):
        alone = method.explain(cnn, images[i : i + 1], 2)
        torch.testing.assert_close(together.maps[i : i + 1], alone.maps, atol=1e-5, rtol=1e-4)


def test_smoothgrad_seed_controls_the_noise(cnn, images):
    a = SmoothGrad(samples=8, seed=3).explain(cnn, images[:1], 0).maps
    b = SmoothGrad(samples=8, seed=3).explain(cnn, images[:1], 0).maps
    c = SmoothGrad(samples=8, seed=4).explain(cnn, images[:1], 0).maps
    torch.testing.assert_close(a, b)
    assert not torch.allclose(a, c)
    # explaining must not disturb the caller's random stream
    torch.manual_seed(5)
    expected = torch.rand(3)
    torch.manual_seed(5)
    SmoothGrad(samples=4).explain(cnn, images[:1], 0)
    torch.testing.assert_close(torch.rand(3), expected)


def test_smoothgrad_without_noise_is_saliency(cnn, images):
    a = SmoothGrad(samples=2, noise=0.0).explain(cnn, images, 1).maps
    b = Saliency().explain(cnn, images, 1).maps
    torch.testing.assert_close(a, b, atol=1e-6, rtol=1e-5)


def test_images_are_prepared_by_the_model():
    model = small_cnn(size=16)
    big = torch.rand(3, 40, 30)
    e = Saliency().explain(model, big)
    assert e.images.shape == (1, 3, 16, 16)
    assert e.maps.shape == (1, 16, 16)


def test_bad_parameters_and_names():
    with pytest.raises(ParameterError, match="did you mean '?integrated-gradients"):
        get_method("integrated-gradient")
    with pytest.raises(ParameterError, match="has no parameter eps"):
        get_method("saliency", eps=0.1)
    with pytest.raises(ParameterError, match="steps must be an integer >= 1"):
        IntegratedGradients(steps=0)
    with pytest.raises(ParameterError, match="noise"):
        SmoothGrad(noise=-1.0)


def test_unknown_target_class_is_a_clear_error(cnn, images):
    from hoodwink.errors import ClassNotFoundError

    with pytest.raises(ClassNotFoundError):
        Saliency().explain(cnn, images, "zebra")
    with pytest.raises(ParameterError, match="2 targets for 4 images"):
        Saliency().explain(cnn, images, [0, 1])
