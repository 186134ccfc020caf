"""A query attack from a given start (the first half of Suya et al. 2020's hybrid)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from hoodwink.attacks import PGD, Goal, ThreatModel, get_attack
from hoodwink.attacks.registry import attacks_taking_start
from hoodwink.errors import ParameterError
from hoodwink.models import Classifier, Labels


def test_a_start_that_already_fools_the_model_succeeds_at_query_2(mlp, images, asked) -> None:
    """PGD's images (white-box, on the same model) as the start: every one PGD fooled is
    fooled by Square's second query (clean, start) and returned as it is (the stripes
    fool 1 of these 12 at query 2)."""
    threat = ThreatModel("linf", 3 / 255)
    pgd = PGD(steps=10, seed=0)(mlp, images, Goal.targeted(3), threat)
    assert pgd.success.sum() >= 6 and not pgd.success.all()
    door = asked(mlp)
    result = get_attack("square")(door.query_model(), images, Goal.targeted(3), threat,
                                  start=pgd.adversarial, queries=40)
    with torch.no_grad():
        ok = pgd.success & (mlp(images).argmax(1) != 3)        # not class 3 to begin with
    assert result.success[ok].all() and (result.queries[ok] == 2).all()
    assert torch.equal(result.adversarial[ok], pgd.adversarial[ok])
    assert door.rows == int(result.queries.sum())


def test_a_start_outside_the_ball_is_projected_before_it_is_sent(mlp, images, asked) -> None:
    """A start 20 levels and a fraction away (off the grid, outside 4/255): the second
    batch the model is sent is that start projected into the ball, on the grid."""
    threat = ThreatModel("linf", 4 / 255)
    g = torch.Generator().manual_seed(5)
    signs = torch.randint(0, 2, images.shape, generator=g).float() * 2 - 1
    far = (images + signs * 20.3 / 255).clamp(0, 1)
    door = asked(mlp)
    result = get_attack("square")(door.query_model(), images, Goal.targeted(3), threat,
                                  start=far, queries=3)
    asked_twice = ~result.success.numpy() | (result.queries.numpy() > 1)   # not 3 already
    clean = door.seen[0].astype(int)[asked_twice]
    sent = door.seen[1].astype(int)                   # uint8 (N, H, W, 3): on the grid
    assert len(sent) == int(asked_twice.sum()) >= 10
    assert np.abs(sent - clean).max() == 4             # into the ball, not past it
    expected = threat.project(far, images)[asked_twice]   # the start's direction, clipped
    assert np.array_equal(sent, np.rint(expected.permute(0, 2, 3, 1).numpy() * 255).astype(int))


def test_the_start_is_prepared_as_the_images_are(asked) -> None:
    """Images larger than the model's input: the start is resized like them, so a start
    equal to the images is sent as the clean view itself."""
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3 * 64, 4))
    model = Classifier(net, Labels.from_names([f"c{i}" for i in range(4)]), input_size=(8, 8),
                       mean=(0.5,) * 3, std=(0.25,) * 3, resize=None, name="small")
    big = torch.rand(2, 3, 20, 20, generator=torch.Generator().manual_seed(1))
    door = asked(model)
    result = get_attack("square")(door.query_model(), big, Goal.targeted(1),
                                  ThreatModel("linf", 4 / 255), start=big, queries=2)
    assert result.original.shape == (2, 3, 8, 8)
    assert np.array_equal(door.seen[1], door.seen[0][~result.success.numpy()])


@pytest.mark.parametrize("name", ["pgd", "simba", "boundary"])
def test_an_attack_that_takes_no_start_refuses_one(mlp, images, asked, name: str) -> None:
    door = asked(mlp)
    with pytest.raises(ParameterError, match=f"attack '{name}' takes no start.*square"):
        get_attack(name)(door.query_model() if name != "pgd" else mlp, images,
                         ThreatModel("l2", 0.5), start=images)
    assert door.rows == 0


def test_a_start_of_another_shape_is_refused(mlp, images) -> None:
    with pytest.raises(ParameterError, match="shape"):
        get_attack("square")(mlp, images, start=images[:3])
    with pytest.raises(ParameterError, match="bounds"):
        get_attack("square")(mlp, images, start=images + 1)
    assert attacks_taking_start() == ["square"]
