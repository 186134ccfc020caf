"""Grad-CAM: the layer is found on EfficientNet-Lite0 and on a small CNN, and can be named."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from hoodwink.errors import ParameterError
from hoodwink.explain import GradCam, find_target_layer
from hoodwink.models import wrap


def test_layer_found_on_a_small_cnn(cnn):
    # the ReLU after the second conv: the last spatial output before pooling
    assert find_target_layer(cnn) == "3"


def test_layer_found_on_efficientnet_lite0(imagenet_model):
    name = find_target_layer(imagenet_model)
    assert name == "_swish"  # the ReLU6 after _conv_head/_bn1, its last call is the 7x7 head
    captured = {}
    handle = imagenet_model.net._swish.register_forward_hook(
        lambda m, i, o: captured.__setitem__("shape", tuple(o.shape)))
    with torch.no_grad():
        imagenet_model(torch.full((1, 3, 224, 224), 0.5))
    handle.remove()
    assert captured["shape"] == (1, 1280, 7, 7)  # last call: the head, before global pooling


def test_gradcam_is_weighted_activations_of_the_layer(cnn, images):
    # independent Grad-CAM: alpha_k = mean gradient of the logit over the layer's map k
    e = GradCam().explain(cnn, images, 1)
    conv = cnn.net[:4]
    features = conv((images - 0.5) / 0.5).detach().requires_grad_(True)
    logits = cnn.net[4:](features)
    logits[:, 1].sum().backward()
    alpha = features.grad.mean((2, 3), keepdim=True)
    cam = torch.relu((alpha * features).sum(1))  # same spatial size as the input here
    torch.testing.assert_close(e.maps, cam.detach(), atol=1e-5, rtol=1e-4)
    assert (e.maps >= 0).all()


def test_layer_can_be_named_and_a_wrong_name_gets_suggestions(cnn, images):
    first = GradCam(layer="1").explain(cnn, images, 0)
    auto = GradCam().explain(cnn, images, 0)
    assert not torch.allclose(first.maps, auto.maps)
    with pytest.raises(ParameterError, match="did you mean"):
        GradCam(layer="3x").explain(cnn, images, 0)


def test_dense_network_has_no_gradcam_layer():
    net = nn.Sequential(nn.Flatten(), nn.Linear(3 * 8 * 8, 10), nn.ReLU(), nn.Linear(10, 2))
    model = wrap(net, ["a", "b"], input_size=(8, 8), mean=(0.5,) * 3, std=(0.5,) * 3, device="cpu")
    with pytest.raises(ParameterError, match="no convolutional layer"):
        GradCam().explain(model, torch.rand(1, 3, 8, 8))


def test_gradcam_on_efficientnet_points_at_the_object(imagenet_model):
    # A cat photo pasted in one corner of a grey canvas: the cat's evidence is in that corner.
    from hoodwink.images import load_image

    cat = imagenet_model.prepare(load_image("chelsea"))[0]
    canvas = torch.full((1, 3, 224, 224), 0.5)
    canvas[0, :, :112, :112] = torch.nn.functional.interpolate(cat[None], size=(112, 112),
                                                               mode="bilinear", antialias=True)[0]
    e = GradCam().explain(imagenet_model, canvas, "tiger cat")
    m = e.maps[0]
    assert m[:112, :112].sum() > 0.6 * m.sum()
