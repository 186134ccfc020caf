"""EOT: the grammar, seeded draws, differentiable transforms, the oracle wrapper."""

from __future__ import annotations

import pytest
import torch

from hoodwink.attacks import Goal, ThreatModel, get_attack
from hoodwink.attacks.eot import (
    EOT,
    Draws,
    Transforms,
    draw,
    parse_transforms,
    transform,
)
from hoodwink.errors import ParameterError

THREAT = ThreatModel("linf", 8 / 255)


def test_physical_preset_is_the_issue_s_defaults() -> None:
    t = parse_transforms("physical")
    assert t == Transforms(rotate=22.5, scale=(0.9, 1.4), translate=0.1, brightness=0.05,
                           noise=0.02, blur=1.0, jpeg=(70, 95))
    assert parse_transforms(t.spec()) == t
    assert parse_transforms("physical,jpeg:50-60,rotate:5").jpeg == (50, 60)
    assert parse_transforms("none").identity and parse_transforms("").identity


@pytest.mark.parametrize("text", ["spin:3", "rotate", "rotate:-3", "rotate:1-5", "scale:2-1",
                                  "jpeg:0-50", "jpeg:70.5", "translate:2", "noise:nan"])
def test_bad_grammar_is_one_clear_error(text: str) -> None:
    with pytest.raises(ParameterError):
        parse_transforms(text)


@pytest.mark.parametrize("name", ["pgd", "apgd-ce", "fgsm"])
def test_eot_of_identity_equals_the_plain_attack(tiny, name: str) -> None:
    x = torch.rand(4, 3, 16, 16)
    attack = get_attack(name) if name == "fgsm" else get_attack(name, steps=4)
    plain = attack(tiny, x, Goal.targeted(2), THREAT)
    robust = attack(EOT(tiny, "none", samples=3), x, Goal.targeted(2), THREAT)
    assert torch.equal(plain.adversarial, robust.adversarial)
    assert torch.equal(plain.success, robust.success)
    assert torch.equal(plain.adversarial_probabilities, robust.adversarial_probabilities)
    # every gradient costs K forward and K backward passes; judging stays one query
    assert torch.equal(robust.backward, 3 * plain.backward)
    assert torch.equal(robust.forward, plain.forward + 3 * plain.backward)
    assert torch.equal(robust.queries, plain.queries)


def test_draws_follow_the_global_index_not_the_batch(tiny) -> None:
    x = torch.rand(4, 3, 16, 16)
    robust = EOT(tiny, "rotate:20,noise:0.05", samples=2, seed=3)
    attack = get_attack("pgd", steps=3, batch_size=4)
    whole = attack(robust, x, Goal.targeted(1), THREAT, index=torch.arange(10, 14))
    shard = get_attack("pgd", steps=3, batch_size=1)(robust, x[2:], Goal.targeted(1), THREAT,
                                                   index=torch.arange(12, 14))
    assert torch.equal(whole.adversarial[2:], shard.adversarial)
    other = get_attack("pgd", steps=3)(EOT(tiny, "rotate:20,noise:0.05", samples=2, seed=4), x,
                                       Goal.targeted(1), THREAT, index=torch.arange(10, 14))
    assert not torch.equal(whole.adversarial, other.adversarial)


def test_each_step_draws_new_transformations(tiny) -> None:
    oracle = EOT(tiny, "rotate:20,noise:0.05", samples=2, seed=1).oracle(2)
    oracle.history = []
    x, rows = torch.rand(2, 3, 16, 16), torch.arange(2)
    first = oracle.evaluate(x, rows, grad=True)
    g1 = first.gradient(lambda z: z[:, 0], retain=True)
    assert torch.equal(g1, first.gradient(lambda z: z[:, 0]))  # one evaluation, one draw
    oracle.evaluate(x, rows, grad=True).gradient(lambda z: z[:, 0])
    a, b = oracle.history
    assert not torch.equal(a.angle, b.angle)
    assert oracle.draws.tolist() == [2, 2]
    again = draw(parse_transforms("rotate:20,noise:0.05"), 1, 0, torch.arange(2), 2)
    assert torch.equal(again.angle, a.angle)


def _one(**values: float) -> Draws:
    base = {"angle": 0.0, "scale": 1.0, "tx": 0.0, "ty": 0.0, "brightness": 0.0, "noise": 0.0,
            "blur": 0.0, "quality": 90, "noise_seed": 0}
    base.update(values)
    return Draws(*(torch.tensor([[v]], dtype=torch.int64 if k in ("quality", "noise_seed")
                                 else torch.float64) for k, v in base.items()))


def test_rotation_by_90_degrees_is_a_quarter_turn() -> None:
    x = torch.rand(1, 3, 12, 12)
    turned = transform(x, _one(angle=90.0), Transforms(rotate=90))
    quarter = torch.rot90(x, k=1, dims=(2, 3))
    other = torch.rot90(x, k=-1, dims=(2, 3))
    err = min((turned - quarter).abs().max(), (turned - other).abs().max())
    assert err <= 1 / 255 + 1e-6


def test_zoom_and_shift_move_pixels_as_drawn() -> None:
    x = torch.zeros(1, 1, 20, 20)
    x[..., 10, 10] = 1.0
    shifted = transform(x, _one(tx=0.1), Transforms(translate=0.1))
    assert shifted[0, 0, 10, 12] == 1.0 and shifted.sum() == 1.0  # 0.1 * 20 pixels right
    zoomed = transform(torch.ones(1, 1, 20, 20), _one(scale=0.5), Transforms(scale=(0.5, 0.5)))
    assert zoomed[0, 0, 0, 0] == 0 and zoomed[0, 0, 10, 10] == 1  # black around a smaller image


def test_transforms_are_differentiable_and_on_the_grid() -> None:
    x = torch.rand(2, 3, 16, 16, requires_grad=True)
    d = draw(parse_transforms("physical"), 0, 0, torch.arange(2), 1)
    y = transform(x, d, parse_transforms("physical"))
    assert torch.equal(y * 255, (y * 255).round())
    (g,) = torch.autograd.grad(y.sum(), x)
    assert g.abs().sum() > 0 and torch.isfinite(g).all()


def test_eot_needs_a_pytorch_model_and_positive_samples(tiny) -> None:
    with pytest.raises(ParameterError):
        EOT(tiny, "physical", samples=0)
    with pytest.raises(ParameterError):
        EOT(lambda x: x, "physical")  # type: ignore[arg-type]


def test_eot_of_identity_gives_the_plain_gradient_exactly(tiny) -> None:
    from hoodwink.attacks import Oracle

    x, rows = torch.rand(4, 3, 16, 16), torch.arange(4)
    loss = lambda z: z.log_softmax(1)[:, 3]
    plain = Oracle(tiny, 4).evaluate(x, rows, grad=True)
    robust = EOT(tiny, "none", samples=3).oracle(4).evaluate(x, rows, grad=True)
    assert torch.equal(plain.logits, robust.logits)
    assert torch.equal(plain.gradient(loss), robust.gradient(loss))


def test_kornia_jpeg_is_differentiable_and_near_pillow() -> None:
    pytest.importorskip("kornia")
    x = torch.rand(2, 3, 20, 24, requires_grad=True)
    d = draw(parse_transforms("jpeg:80-90"), 0, 0, torch.arange(2), 1)
    smooth = transform(x, d, parse_transforms("jpeg:80-90"), "kornia")
    real = transform(x, d, parse_transforms("jpeg:80-90"), "pillow")
    (g,) = torch.autograd.grad(smooth.sum(), x)
    assert smooth.shape == x.shape and torch.isfinite(g).all() and g.abs().sum() > 0
    assert (smooth - real).abs().mean() < 0.05
