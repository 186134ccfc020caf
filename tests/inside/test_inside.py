"""Inside the network: each test on a tiny random CNN, seeded, a fraction of a second."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from typer.testing import CliRunner

from hoodwink.errors import ParameterError
from hoodwink.inside import (
    LayerNotFoundError,
    activations,
    capture,
    concert,
    dense_layer,
    dream,
    explain_convolution,
    find_layer,
    hook_count,
    layer_table,
    look_inside,
    stylize,
    visualize,
)
from hoodwink.models import Classifier, Labels


def tiny_cnn(seed: int = 0, size: int = 32) -> Classifier:
    torch.manual_seed(seed)
    net = nn.Sequential(
        nn.Conv2d(3, 8, 3, stride=2, padding=1), nn.ReLU(),
        nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(16, 5),
    )
    return Classifier(net, Labels.from_names("abcde"), input_size=(size, size), resize=None,
                      mean=(0.5, 0.5, 0.5), std=(0.25, 0.25, 0.25), name="tiny")


@pytest.fixture(autouse=True)
def _one_thread():  # type: ignore[no-untyped-def]
    """Tiny models: one thread is as fast, and immune to a busy machine's stalls."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def model() -> Classifier:
    return tiny_cnn()


@pytest.fixture
def image() -> torch.Tensor:
    return torch.rand(3, 32, 32, generator=torch.Generator().manual_seed(1))


@pytest.mark.parametrize("layer", ["0", "2"])
@pytest.mark.parametrize("position", [(0, 0), (5, 7), (15, 15), None])
def test_the_convolution_by_hand_equals_conv2d_on_the_patch_and_the_layer_itself(
        model: Classifier, image: torch.Tensor, layer: str, position: tuple[int, int] | None) -> None:
    c = explain_convolution(model, image, layer=layer, channel=3, position=position)
    expected = F.conv2d(c.patch[None], c.kernel[None], torch.tensor([c.bias]))[0, 0, 0, 0]
    assert c.value == pytest.approx(float(expected), abs=1e-5)
    assert c.value == pytest.approx(float((c.products).sum()) + c.bias, abs=1e-5)
    assert c.value == pytest.approx(float(c.output[c.position]), abs=1e-5)   # what the layer computed
    module = find_layer(model, layer)
    assert isinstance(module, nn.Conv2d) and c.patch.shape == module.weight.shape[1:]
    if position is None:                                                     # default: the map's largest value
        assert c.value == pytest.approx(float(c.output.max()), abs=1e-5)


def test_the_first_layer_patch_in_pixels_is_the_image_under_the_box(model: Classifier, image: torch.Tensor) -> None:
    c = explain_convolution(model, image, channel=0, position=(4, 6))
    top, left, h, w = c.box
    assert (top, left, h, w) == (4 * 2 - 1, 6 * 2 - 1, 3, 3)
    assert c.patch_pixels is not None
    assert torch.allclose(c.patch_pixels, image[:, top : top + h, left : left + w], atol=1e-6)


def test_no_hook_is_left_on_the_model_after_any_function(model: Classifier, image: torch.Tensor) -> None:
    assert hook_count(model) == 0
    layer_table(model, image)
    caught = activations(model, image, ["1", "3"])
    look_inside(model, image, layers=["1", "3"], top=4)
    explain_convolution(model, image)
    dream(model, image, layer="3", octaves=1, steps=1)
    visualize(model, "b", steps=1, size=32)
    stylize(model, image, image, style_layers=["1"], content_layer="3", steps=1, size=32)
    with pytest.raises(RuntimeError), capture(model, ["1"]):
        raise RuntimeError("a failure inside the block")
    assert hook_count(model) == 0
    # and the hooks did catch the layers' real outputs
    expected = torch.relu(model.net.get_submodule("0")((image[None] - 0.5) / 0.25))
    assert torch.allclose(caught["1"], expected, atol=1e-6)


def test_the_layer_table_lists_shapes_and_parameters_in_running_order(model: Classifier, image: torch.Tensor) -> None:
    table = layer_table(model, image)
    assert [row.name for row in table] == [str(i) for i in range(7)]
    assert table[0].input_shape == (1, 3, 32, 32) and table[0].output_shape == (1, 8, 16, 16)
    assert table[0].parameters == 3 * 8 * 9 + 8
    assert sum(row.parameters for row in table) == sum(p.numel() for p in model.parameters())


def test_an_unknown_layer_is_one_error_with_did_you_mean(model: Classifier) -> None:
    with pytest.raises(LayerNotFoundError, match="did you mean"):
        find_layer(model, "33")
    with pytest.raises(LayerNotFoundError):
        activations(model, torch.rand(3, 32, 32), ["nope"])
    assert hook_count(model) == 0


def test_top_channels_are_the_strongest_in_order(model: Classifier, image: torch.Tensor) -> None:
    maps = look_inside(model, image, layers=["3"], top=5).layers[0]
    full = activations(model, image, ["3"])["3"][0].mean((1, 2))
    assert list(maps.channels) == full.argsort(descending=True)[:5].tolist()
    assert list(maps.strength) == sorted(maps.strength, reverse=True)


def test_deepdream_raises_the_layers_activation_norm_at_every_octave(model: Classifier, image: torch.Tensor) -> None:
    d = dream(model, image, layer="3", octaves=3, steps=4, step_size=0.02, seed=0)
    assert len(d.before) == len(d.after) == 3
    assert all(after > 1.05 * before for before, after in zip(d.before, d.after))
    assert d.image.shape == image.shape and 0 <= float(d.image.min()) and float(d.image.max()) <= 1
    again = dream(model, image, layer="3", octaves=3, steps=4, step_size=0.02, seed=0)
    assert torch.equal(d.image, again.image)                                  # seeded, deterministic


def test_style_transfer_lowers_both_losses(model: Classifier) -> None:
    g = torch.Generator().manual_seed(2)
    content = torch.rand(3, 32, 32, generator=g)
    style = torch.rand(3, 32, 32, generator=g).pow(3)
    s = stylize(model, content, style, style_layers=["1", "3"], content_layer="3", steps=15, size=32,
                init="noise", style_weight=1.0, tv_weight=0.0)
    assert s.style_loss[-1] < 0.5 * s.style_loss[0]
    assert s.content_loss[-1] < 0.5 * s.content_loss[0]
    adam = stylize(model, content, style, style_layers=["1", "3"], content_layer="3", steps=15, size=32,
                   init="noise", style_weight=1.0, tv_weight=0.0, optimizer="adam", step_size=0.05)
    assert adam.style_loss[-1] < adam.style_loss[0] and adam.content_loss[-1] < adam.content_loss[0]


def test_class_visualisation_raises_the_logit_far_above_a_random_start(model: Classifier) -> None:
    randoms = model(torch.rand(256, 3, 32, 32, generator=torch.Generator().manual_seed(3)))[:, 1]
    v = visualize(model, "b", steps=30, step_size=0.5, size=32, seed=0)
    assert v.final - v.start > 10 * float(randoms.std())                      # 10 standard deviations
    assert v.final > float(randoms.max()) + 2 * float(randoms.max() - randoms.min())
    assert torch.equal(v.image, visualize(model, "b", steps=30, step_size=0.5, size=32, seed=0).image)


def test_channel_visualisation_raises_the_channel(model: Classifier) -> None:
    v = visualize(model, "2:2", steps=20, step_size=0.5, size=32)
    assert v.target.layer == "2" and v.target.index == 2
    assert v.final > v.start + 0.05
    with pytest.raises(ParameterError):
        visualize(model, "3:99", steps=1, size=32)


def test_the_concert_neuron() -> None:
    n = concert()
    assert n.total == pytest.approx(18 + 9 + 1.5 + 5)
    assert n.go and n.activations["relu"] == pytest.approx(n.total - 25)
    assert not concert([1, 1, 1, 1]).go


def test_the_dense_layer_is_ten_dot_products_equal_to_the_networks_logits() -> None:
    from hoodwink.train.data import DataSplit, ImageSet
    from hoodwink.train.loop import TrainConfig, train

    g = torch.Generator().manual_seed(0)
    labels = torch.arange(200) % 10
    images = torch.rand(200, 1, 28, 28, generator=g) * 0.2
    for i, k in enumerate(labels.tolist()):
        images[i, 0, 2 * k : 2 * k + 6, 4:24] = 1.0                             # one bar per class
    data = ImageSet(images, labels)
    result = train("linear", DataSplit(data, data), TrainConfig(epochs=3, batch_size=50, seed=0), device="cpu")
    d = dense_layer(result.model, images[7], 7)
    assert d.W.shape == (784, 10)
    assert d.dense == pytest.approx(d.logits, abs=1e-4)
    assert d.predicted == 7
    with pytest.raises(ParameterError):
        dense_layer(tiny_cnn(), torch.rand(1, 28, 28))


def test_every_figure_draws(model: Classifier, image: torch.Tensor) -> None:
    from hoodwink import viz

    results = [concert(), look_inside(model, image, layers=["1", "3"], top=3), explain_convolution(model, image),
               dream(model, image, layer="3", octaves=1, steps=1), visualize(model, "a", steps=1, size=32),
               stylize(model, image, image, style_layers=["1"], content_layer="3", steps=1, size=32)]
    for result in results:
        assert viz.png(result)[:4] == b"\x89PNG"


# --- the command line, on the tiny network ---------------------------------------------------------

@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch, model: Classifier):  # type: ignore[no-untyped-def]
    import hoodwink.cli.inside as module

    monkeypatch.setattr(module, "load_cli_model", lambda *a, **k: model)
    from hoodwink.cli.app import app

    return app


def test_cli_dream_writes_the_image_and_reports_each_octave(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "dream.png"
    result = CliRunner().invoke(cli, ["dream", "noise", "--layer", "3", "--octaves", "2", "--steps", "2",
                                      "--size", "32", "--out", str(out), "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["out"] == str(out) and out.is_file()
    assert len(doc["octaves"]) == 2 and doc["layer"] == "3"


def test_cli_unknown_layer_is_one_line_exit_1(cli) -> None:  # type: ignore[no-untyped-def]
    result = CliRunner().invoke(cli, ["dream", "noise", "--layer", "33", "--size", "32"])
    assert result.exit_code == 1
    assert "did you mean" in result.output and "Traceback" not in result.output


def test_cli_inside_visualize_style_json(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    runner = CliRunner()
    plot = tmp_path / "inside.png"
    r = runner.invoke(cli, ["inside", "noise", "--layer", "3", "--plot", str(plot), "--json"])
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert doc["convolution"]["value"] == pytest.approx(doc["convolution"]["map_value"], abs=1e-5)
    assert plot.is_file()
    r = runner.invoke(cli, ["visualize", "c", "--steps", "2", "--size", "32", "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["target"] == "c"
    r = runner.invoke(cli, ["style", "noise", "white", "--steps", "2", "--size", "32", "--style-layer", "1",
                            "--content-layer", "3", "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["content_layer"] == "3"
    r = runner.invoke(cli, ["visualize", "c", "--out", str(tmp_path / "x.jpg")])
    assert r.exit_code == 1 and ".png" in r.output


def test_cli_neuron_without_digits_explains_the_concert(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from hoodwink.cli.app import app

    monkeypatch.chdir(tmp_path)                                               # no ../shared/data/mnist here
    r = CliRunner().invoke(app, ["neuron", "--json"])
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert doc["neuron"]["go"] is True and doc["dense"] is None
