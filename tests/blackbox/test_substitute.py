"""Substitute training (Papernot et al. 2017) against a label-only model, then transfer."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from hoodwink.attacks import Goal, ThreatModel, get_attack
from hoodwink.attacks.substitute import train_substitute
from hoodwink.errors import ParameterError
from hoodwink.models import Classifier, Labels


def _net(seed: int, hidden: int = 32) -> Classifier:
    torch.manual_seed(seed)
    net = nn.Sequential(nn.Flatten(), nn.Linear(64, hidden), nn.ReLU(), nn.Linear(hidden, 4))
    return Classifier(net, Labels.from_names("abcd"), input_size=(8, 8), mean=(0.5,),
                      std=(0.25,), resize=None, channels=1, name=f"net{seed}")


@pytest.fixture
def world():  # type: ignore[no-untyped-def]
    target = _net(0)
    with torch.no_grad():
        target.net[3].weight.mul_(4)
    g = torch.Generator().manual_seed(1)
    pool = torch.round(torch.rand(600, 1, 8, 8, generator=g) * 255) / 255
    return target, pool[:40], pool[40:]


def _agreement(a: Classifier, b: Classifier, x: torch.Tensor) -> float:
    with torch.no_grad():
        return float((a(x).argmax(1) == b(x).argmax(1)).float().mean())


def test_jacobian_augmentation_buys_agreement_with_counted_label_queries(world, asked) -> None:
    target, seeds, held_out = world
    door = asked(target, output="labels")
    result = train_substitute(door.query_model(), _net(5), seeds, rounds=3, epochs=30)
    assert result.queries == 40 * 8 == door.rows and door.scores_asked == 0
    assert [r["images"] for r in result.rounds] == [40, 80, 160, 320]
    assert torch.equal(result.labels, target(result.images).argmax(1))
    seeds_only = train_substitute(target, _net(5), seeds, rounds=0, epochs=30)
    assert seeds_only.queries == 40
    assert _agreement(result.model, target, held_out) > _agreement(seeds_only.model, target,
                                                                   held_out)


def test_the_substitute_crafts_images_that_fool_the_target(world) -> None:
    target, seeds, held_out = world
    substitute = train_substitute(target, _net(5), seeds, rounds=3, epochs=30).model
    x = held_out[:100]
    threat = ThreatModel("linf", 0.15)
    with torch.no_grad():
        truth = target(x).argmax(1)
    crafted = get_attack("mifgsm", early_stop=False)(substitute, x, Goal.untargeted(truth), threat)
    noise = threat.project(x + 0.15 * torch.sign(torch.randn(x.shape, generator=torch.Generator(
        ).manual_seed(3))), x)
    with torch.no_grad():
        fooled = float((target(crafted.adversarial).argmax(1) != truth).float().mean())
        by_noise = float((target(noise).argmax(1) != truth).float().mean())
    assert fooled > 2 * by_noise and fooled >= 0.5


def test_a_query_cap_stops_the_augmentation(world) -> None:
    target, seeds, _ = world
    result = train_substitute(target, _net(5), seeds, rounds=3, epochs=2, queries=200)
    assert result.queries == 160 and len(result.rounds) == 3
    with pytest.raises(ParameterError, match="cannot label"):
        train_substitute(target, _net(5), seeds, queries=10)
