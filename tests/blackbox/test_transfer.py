"""Transfer: DI, TI, ensembles, and the test on a target that can only be asked."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from hoodwink.attacks import (
    MIFGSM,
    MIFGSMDITI,
    Ensemble,
    Goal,
    Oracle,
    ThreatModel,
    get_attack,
    transfer,
)
from hoodwink.attacks.transfer import _DiverseOracle, diverse, gaussian_kernel
from hoodwink.errors import ParameterError


def test_without_di_and_ti_it_is_mifgsm_that_spends_every_step(mlp, images) -> None:
    threat = ThreatModel("linf", 8 / 255)
    plain = MIFGSMDITI(diversity=0.0, kernel=1)(mlp, images, Goal.targeted(3), threat)
    reference = MIFGSM(early_stop=False)(mlp, images, Goal.targeted(3), threat)
    assert torch.equal(plain.adversarial, reference.adversarial)
    assert (plain.steps == 10).all()


def test_di_takes_the_gradient_through_a_random_resize_and_judges_the_plain_image(mlp, images
                                                                                  ) -> None:
    gens = [torch.Generator().manual_seed(i) for i in range(12)]
    oracle = _DiverseOracle(Oracle(mlp, 12), 1.0, 1.5, gens)
    rows = torch.arange(12)
    ev = oracle.evaluate(images, rows, grad=True)
    with torch.no_grad():
        assert torch.equal(ev.logits, mlp(images))          # judged on the plain image
    grad = ev.gradient(lambda z: z[:, 0])
    plain = Oracle(mlp, 12).evaluate(images, rows, grad=True).gradient(lambda z: z[:, 0])
    assert not torch.allclose(grad, plain)
    assert oracle.forward.tolist() == [2] * 12 and oracle.backward.tolist() == [1] * 12
    same = diverse(images, [torch.Generator().manual_seed(0)] * 12, 0.0, 1.5)
    assert torch.equal(same, images)                         # probability 0: the image itself


def test_ti_smooths_the_gradient_with_a_normalised_gaussian() -> None:
    kernel = gaussian_kernel(15)
    assert kernel.shape == (15, 15) and float(kernel.sum()) == pytest.approx(1.0)
    assert float(kernel[7, 7]) == float(kernel.max())
    with pytest.raises(ParameterError, match="odd"):
        MIFGSMDITI(kernel=4)


def test_an_ensemble_is_the_mean_of_its_logits(mlp, sharp, images) -> None:
    with pytest.raises(ParameterError, match="classes"):
        Ensemble([mlp, torch.nn.Linear(3, 2)])


def test_the_mean_of_two_models(make_linear, images) -> None:
    a = make_linear(torch.randn(10, 192), torch.zeros(10))
    b = make_linear(torch.randn(10, 192), torch.zeros(10))
    both = Ensemble([a, b])
    with torch.no_grad():
        assert torch.allclose(both(images), (a(images) + b(images)) / 2, atol=1e-6)
    assert both.input_size == a.input_size and both.labels == a.labels


def test_transfer_fools_a_related_target_and_counts_its_queries(make_linear, images, asked
                                                                ) -> None:
    """(A 3 x 3 TI kernel: the default 15 is for 224-pixel images, not these 8 x 8 ones.)
    Crafted on a surrogate whose weights are the target's plus noise: the target, asked
    through a label-only door, is fooled on most images; a target with unrelated weights
    on far fewer."""
    g = torch.Generator().manual_seed(0)
    w = torch.randn(10, 192, generator=g)
    target = make_linear(w, torch.zeros(10))
    surrogate = make_linear(w + 0.5 * torch.randn(10, 192, generator=g), torch.zeros(10))
    stranger = make_linear(torch.randn(10, 192, generator=g), torch.zeros(10))
    door = asked(target, output="labels")
    threat = ThreatModel("linf", 16 / 255)
    with torch.no_grad():
        goal = Goal.untargeted(target(images).argmax(1))      # the true classes, say
    out = transfer([surrogate], door.query_model(), images, goal, threat, kernel=3)
    assert out.success.float().mean() >= 0.75
    assert out.queries.tolist() == [2] * 12 and door.rows == 24 and door.scores_asked == 0
    with torch.no_grad():
        assert torch.equal(target(out.crafted.adversarial).argmax(1), out.target_adversarial)
    with torch.no_grad():
        own = Goal.untargeted(stranger(images).argmax(1))
    unrelated = transfer([surrogate], stranger, images, own, threat, kernel=3)
    assert unrelated.success.float().mean() < out.success.float().mean()
    doc = out.to_dict()
    assert doc["samples"][0]["queries"] == 2 and 0 <= doc["success_rate"] <= 1


def test_an_ensemble_of_surrogates_transfers_at_least_as_well(make_linear, images) -> None:
    g = torch.Generator().manual_seed(1)
    w = torch.randn(10, 192, generator=g)
    target = make_linear(w, torch.zeros(10))
    surrogates = [make_linear(w + torch.randn(10, 192, generator=g), torch.zeros(10))
                  for _ in range(3)]
    threat = ThreatModel("linf", 12 / 255)
    one = transfer(surrogates[:1], target, images, threat=threat, kernel=3)
    three = transfer(surrogates, target, images, threat=threat, kernel=3)
    assert three.success.float().mean() >= one.success.float().mean()
    with pytest.raises(ParameterError, match="PyTorch"):
        transfer([surrogates[0], object()], target, images)  # type: ignore[list-item]


def test_the_attack_is_registered_with_its_defaults() -> None:
    attack = get_attack("mifgsm-di-ti")
    assert isinstance(attack, MIFGSMDITI)
    assert (attack.diversity, attack.kernel, attack.early_stop) == (0.5, None, False)
    assert dataclasses.replace(attack, kernel=1).kernel == 1
    di = get_attack("mifgsm-di")                 # transfer's default: DI without TI's smoothing
    assert (di.diversity, di.kernel, di.early_stop) == (0.5, 1, False)
