"""Full-size attacks, verification through the real pipeline, JPEG judged as it reads back."""

from __future__ import annotations

import pytest
import torch
from PIL import Image

from hoodwink.attacks import Goal, ThreatModel, get_attack
from hoodwink.attacks.eot import (
    EOT,
    VERIFY_STREAM,
    EOTOracle,
    FullSize,
    decode_jpeg,
    jpeg_bytes,
    parse_transforms,
)
from hoodwink.errors import ParameterError
from hoodwink.images import load_image, save_image
from hoodwink.models import Classifier, Labels
from hoodwink.models.classifier import model_input
from hoodwink.physical import judge_jpeg, real_transform, verify

EPS = 8 / 255


def test_full_size_attack_stays_in_eps_on_the_full_size_grid_and_reads_back(tiny, tmp_path) -> None:
    photo = torch.rand(1, 3, 40, 60)
    result = get_attack("bim", steps=10, step_size=2 / 255)(
        FullSize(tiny), photo, Goal.targeted(4), ThreatModel("linf", EPS))
    adv = result.adversarial
    assert adv.shape == (1, 3, 40, 60)
    assert torch.equal(result.original, torch.round(photo * 255) / 255)
    assert float((adv - result.original).abs().max()) <= EPS + 1e-6
    assert torch.equal(adv * 255, (adv * 255).round())
    path = save_image(adv[0], tmp_path / "adv.png")
    back = load_image(path)
    assert back.shape == (3, 40, 60)
    with torch.no_grad():  # the normal pipeline (hoodwink predict): the file at input size, 8-bit
        probs = tiny(model_input(tiny, back)).softmax(1)
    assert torch.allclose(probs, result.adversarial_probabilities, atol=1e-6)
    assert bool(result.success[0]) == (int(probs.argmax()) == 4)


def test_full_size_keeps_the_gradient_through_the_resize(tiny) -> None:
    x = torch.rand(1, 3, 40, 60, requires_grad=True)
    FullSize(tiny)(x)[0, 1].backward()
    assert x.grad is not None and (x.grad != 0).float().mean() > 0.5  # every region matters


def test_verification_uses_pil_and_draws_that_the_attack_never_used(tiny, monkeypatch) -> None:
    transforms = "rotate:20,scale:0.9-1.2,noise:0.02,jpeg:70-95"
    robust = EOT(tiny, transforms, samples=2, seed=5)
    used = []
    original = EOTOracle.sample

    def record(self, rows):  # type: ignore[no-untyped-def]
        draws = original(self, rows)
        used.append(draws)
        return draws

    monkeypatch.setattr(EOTOracle, "sample", record)
    x = torch.rand(2, 3, 16, 16)
    result = get_attack("pgd", steps=4, early_stop=False)(robust, x, Goal.targeted(3),
                                                            ThreatModel("linf", EPS))
    assert len(used) == 4

    from hoodwink.attacks import eot

    def no_stand_ins(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise AssertionError("verification used the attack's differentiable transforms")

    monkeypatch.setattr(eot, "transform", no_stand_ins)
    monkeypatch.setattr(eot, "_geometry", no_stand_ins)
    rotations = []
    rotate = Image.Image.rotate

    def counted(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        rotations.append(args[0])
        return rotate(self, *args, **kwargs)

    monkeypatch.setattr(Image.Image, "rotate", counted)
    check = verify(robust, result, transforms, samples=30)
    assert check.seed != robust.seed
    assert len(rotations) == 2 * 30  # every copy went through PIL
    seen = {round(float(a), 9) for d in used for a in d.angle.flatten()}
    fresh = {round(float(a), 9) for a in check.draws.angle.flatten()}
    assert seen and not seen & fresh
    assert check.fooled.shape == (2, 30) and 0 <= float(check.fraction.min())
    assert check.sample_dict(0)["transformations"] == 30
    with pytest.raises(ParameterError):
        verify(robust, result, transforms, samples=5, seed=robust.seed)


def test_verification_of_the_identity_is_the_attack_s_own_verdict(tiny) -> None:
    x = torch.rand(3, 3, 16, 16)
    result = get_attack("pgd", steps=5)(tiny, x, Goal.targeted(1), ThreatModel("linf", EPS))
    check = verify(tiny, result, "none", samples=4)
    assert torch.equal(check.fooled.all(1), result.success.cpu())
    assert torch.equal(check.fooled.any(1), result.success.cpu())


def test_real_transform_identity_and_jpeg() -> None:
    x = torch.round(torch.rand(3, 20, 30) * 255) / 255
    params = {"angle": 0.0, "scale": 1.0, "tx": 0.0, "ty": 0.0, "brightness": 0.0, "noise": 0.0,
              "blur": 0.0, "quality": 75.0, "noise_seed": 1.0}
    assert torch.equal(real_transform(x, params, parse_transforms("none")), x)
    jpeg = real_transform(x, params, parse_transforms("jpeg:75"))
    assert torch.equal(jpeg, decode_jpeg(jpeg_bytes(x, 75)))
    assert VERIFY_STREAM > 1000  # never a restart number of the attack


class Checker(torch.nn.Module):
    """Class 1 when the image holds a fine checkerboard, which JPEG smooths away."""

    def __init__(self) -> None:
        super().__init__()
        i = torch.arange(16)
        self.register_buffer("board", ((i[:, None] + i[None, :]) % 2 * 2 - 1).float())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        score = 1000 * ((x - 0.5) * self.board).mean((1, 2, 3))
        return torch.stack([torch.ones_like(score), score], 1)


def test_jpeg_success_is_judged_on_the_decoded_jpeg(tmp_path) -> None:
    model = Classifier(Checker(), Labels.from_names(["plain", "checked"]), input_size=(16, 16),
                       resize=None)
    gray = torch.full((1, 3, 16, 16), 128 / 255)
    result = get_attack("bim", steps=4)(model, gray, Goal.targeted(1), ThreatModel("linf", EPS))
    assert bool(result.success[0])  # as a PNG it fools the model
    judged = judge_jpeg(model, result, 30)
    assert not bool(judged.success[0])  # the JPEG read back does not
    assert judged.params["quality"] == 30
    path = save_image(result.adversarial[0], tmp_path / "adv.jpg", quality=30)
    back = load_image(path)
    assert torch.equal(back, judged.adversarial[0])  # judged exactly what the file holds
    assert int(judged.adversarial_probabilities.argmax()) == 0


def test_the_demo_chapter_and_the_figures_on_a_tiny_model(tiny) -> None:
    from matplotlib.figure import Figure

    from hoodwink import viz
    from hoodwink.physical.demo import world_chapter

    shown: list[tuple[Figure, str]] = []

    def picture(fig, name, alt, caption):  # type: ignore[no-untyped-def]
        shown.append((fig, caption))
        return name

    text, pictures = world_chapter(tiny, picture, target="bee", steps=2, samples=2, checks=5)
    assert pictures == ("world-bee",) and "Expectation over transformation" in text
    fig, caption = shown[0]
    assert len(fig.axes) == 2 * 4 and "Of 5 fresh" in caption
    result = get_attack("pgd", steps=2)(tiny, torch.rand(2, 3, 16, 16), Goal.targeted(1),
                                        ThreatModel("linf", EPS))
    grid = viz.figure(verify(tiny, result, "rotate:10", samples=3), names=["a", "b"])
    assert len(grid.axes) == 2 * 3 and grid.axes[0].get_ylabel().startswith("a")
