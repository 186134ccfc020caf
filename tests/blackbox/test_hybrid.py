"""A query attack from a given start, and transfer then ask (Suya et al. 2020's hybrid)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from hoodwink.attacks import PGD, Goal, ThreatModel, get_attack, transfer
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


class Strict:
    """A score door that raises on any row past ``limit`` (the whole run's budget), so
    a query no one counted cannot be made quietly."""

    def __init__(self, door, limit: int) -> None:  # type: ignore[no-untyped-def]
        self.door, self.limit = door, limit

    def __call__(self, pixels: np.ndarray) -> np.ndarray:
        if self.door.rows + len(pixels) > self.limit:
            raise AssertionError(f"asked {self.door.rows + len(pixels)} rows, past {self.limit}")
        out: np.ndarray = self.door(pixels)
        return out


def _related(make_linear, noise: float):  # type: ignore[no-untyped-def]
    g = torch.Generator().manual_seed(0)
    w = torch.randn(10, 192, generator=g)
    target = make_linear(w, torch.zeros(10))
    surrogate = make_linear(w + noise * torch.randn(10, 192, generator=g), torch.zeros(10))
    return target, surrogate


def test_transfer_then_square_stays_in_the_budget_and_counts_what_the_target_saw(
        make_linear, images, asked) -> None:
    """The crafted image is Square's query 2 (not asked again by a separate test): the
    images the plain transfer fools cost exactly 2 queries, the others go on within the
    budget, and the target saw exactly the rows counted."""
    from hoodwink.attacks import QueryModel

    target, surrogate = _related(make_linear, 1.0)
    threat = ThreatModel("linf", 6 / 255)
    budget = 25
    plain = transfer([surrogate], target, images, threat=threat, kernel=3)
    door = asked(target)
    strict = QueryModel(Strict(door, budget * len(images)), target.labels,
                        input_size=target.input_size, resize=None, name="strict")
    out = transfer([surrogate], strict, images, threat=threat, kernel=3, then="square",
                   queries=budget)
    assert 0 < int(plain.success.sum()) < len(images)          # some travel, some do not
    assert torch.equal(out.start_fooled, plain.success)         # query 2 is the crafted one
    assert (out.queries[plain.success] == 2).all()
    assert int(out.queries.max()) <= budget and (out.queries[~out.success] == budget).all()
    assert door.rows == int(out.queries.sum())
    assert int(out.success.sum()) > int(plain.success.sum())   # Square fooled more
    assert out.then is not None and threat.contains(out.adversarial, out.then.original).all()
    with torch.no_grad():                                       # judged on the final images
        final = target(out.adversarial).argmax(1)
    assert torch.equal(final, out.target_adversarial)
    assert torch.equal(out.success, final != out.target_clean)
    assert torch.equal(out.target_clean, plain.target_clean)
    doc = out.to_dict()
    assert doc["then"] == "square" and doc["then_params"]["queries"] == budget
    assert [s["queries"] for s in doc["samples"]] == out.queries.tolist()
    assert [s["start_fooled"] for s in doc["samples"]] == plain.success.tolist()
    fooled = sorted(out.queries[out.success].tolist())
    assert doc["median_queries"] == float(np.median(fooled))


def test_transfer_refuses_a_then_that_takes_no_start_before_crafting(make_linear, images
                                                                     ) -> None:
    target, surrogate = _related(make_linear, 0.5)
    for then in ("pgd", "hopskipjump", "sqare"):
        with pytest.raises(ParameterError, match=r"takes a start \(square\)"):
            transfer([surrogate], target, images, then=then)
    with pytest.raises(ParameterError, match="norms"):
        transfer([surrogate], target, images, threat=ThreatModel("l1", 5.0), then="square")
