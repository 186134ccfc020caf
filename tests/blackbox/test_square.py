"""Square (Andriushchenko et al. 2020): budgets, closed-form answers, query-only doors."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from hoodwink.attacks import Goal, ThreatModel, get_attack, list_attacks
from hoodwink.attacks.square import (
    Square,
    margin_loss,
    meta_pseudo_gaussian,
    p_selection,
    square_loss,
)
from hoodwink.errors import ModelError, ParameterError


def test_square_is_registered_as_a_score_based_attack() -> None:
    info = {a.name: a for a in list_attacks()}["square"]
    assert info.kind == "scores" and info.norms == ("linf", "l2")
    with pytest.raises(ParameterError, match="p_init"):
        Square(p_init=0.0)


def test_the_p_schedule_is_the_reference_one_rescaled_to_the_budget() -> None:
    # the reference halves p after 10, 50, 200, 500, ... of 10,000 iterations
    assert p_selection(0.8, 10, 10000) == 0.8 and p_selection(0.8, 11, 10000) == 0.4
    assert p_selection(0.8, 1, 1000) == 0.8 and p_selection(0.8, 2, 1000) == 0.4
    assert p_selection(0.8, 20, 100) == 0.8 / 32       # 2000 of 10,000 ...
    assert p_selection(0.8, 21, 100) == 0.8 / 64       # ... then past it
    assert p_selection(0.8, 99, 100) == 0.8 / 512
    bump = meta_pseudo_gaussian(5)
    assert float(bump.norm()) == pytest.approx(1.0)
    assert float(bump[:2].sum()) > 0 > float(bump[2:].sum())   # one sign per half


@pytest.mark.parametrize("norm,eps", [("linf", 4 / 255), ("l2", 0.4)])
def test_the_budget_is_never_exceeded_by_one_row(mlp, images, asked, norm: str, eps: float
                                                 ) -> None:
    """The oracle raises QueryBudgetError on the first query past the budget; Square must
    stop each image exactly at it, and every row the model answered is counted."""
    door = asked(mlp)
    threat = ThreatModel(norm, eps)
    result = get_attack("square")(door.query_model(), images, Goal.targeted(3), threat,
                                  queries=30)
    assert int(result.queries.max()) <= 30
    assert (result.queries[~result.success] == 30).all()    # the unbroken spent it all
    assert result.success.any() and not result.success.all()
    assert door.rows == int(result.queries.sum())
    assert all(s.dtype == np.uint8 for s in door.seen)
    assert threat.contains(result.adversarial, result.original).all()
    with torch.no_grad():                                     # judged on the returned images
        assert (mlp(result.adversarial).argmax(1)[result.success] == 3).all()


def _linear_problem(make_linear, shifts: list[int]):  # type: ignore[no-untyped-def]
    """A binary linear model f = w.x + b and images x_t = 128/255 - t sign(w) / 255 whose
    minimal Linf flip is eps*_t = (t + 0.5) / 255 (= margin / ||w||_1, pixel box not binding).
    On the 8-bit grid the smallest eps that can flip x_t is (t + 1) / 255."""
    g = torch.Generator().manual_seed(1)
    d = 3 * 8 * 8
    w = torch.randn(d, generator=g)
    base = torch.full((d,), 128 / 255)
    b = -float(w @ base) - 0.5 / 255 * float(w.abs().sum())
    model = make_linear(torch.stack([torch.zeros(d), w]), torch.tensor([0.0, b]))
    x = torch.stack([base - t * w.sign() / 255 for t in shifts]).view(-1, 3, 8, 8)
    margin = -(x.flatten(1) @ w + b)
    eps_star = margin / w.abs().sum()
    assert torch.allclose(eps_star * 255, torch.tensor(shifts) + 0.5, atol=1e-3)
    return model, x, eps_star


def test_square_linf_reaches_the_closed_form_answer_of_a_linear_model(make_linear) -> None:
    """eps = 8/255: every image with eps* <= 5.5/255 (room 1.45x) is flipped, none with
    eps* > 8/255 is (no image can be); the flips are within eps and on the grid."""
    shifts = [0, 1, 3, 5, 8, 10]
    model, x, eps_star = _linear_problem(make_linear, shifts)
    threat = ThreatModel("linf", 8 / 255)
    result = get_attack("square")(model, x, Goal.untargeted(), threat, queries=1000)
    expected = [t <= 5 for t in shifts]
    assert result.success.tolist() == expected
    assert (eps_star[result.success] <= result.linf[result.success] + 1e-6).all()
    assert threat.contains(result.adversarial, result.original).all()
    # the easiest image falls fast; the one with 1.45x room takes more queries
    assert int(result.queries[0]) < int(result.queries[3]) <= 1000


def test_square_l2_flips_a_linear_model_with_room_and_never_below_its_minimum(make_linear
                                                                             ) -> None:
    """Minimal L2 flip of x_t: margin / ||w||_2. With eps 2.5x of it Square succeeds;
    with eps below it, nothing can."""
    model, x, _ = _linear_problem(make_linear, [2, 2])
    w = model.net[1].weight[1].detach()
    l2_star = float(-(x[0].flatten() @ w + model.net[1].bias[1]) / w.norm())
    ok = get_attack("square")(model, x[:1], Goal.untargeted(), ThreatModel("l2", 2.5 * l2_star),
                              queries=1000)
    assert ok.success.all() and float(ok.l2[0]) <= 2.5 * l2_star + 1e-5
    assert float(ok.l2[0]) >= l2_star
    never = get_attack("square")(model, x[:1], Goal.untargeted(),
                                 ThreatModel("l2", 0.95 * l2_star), queries=200)
    assert not never.success.any()


@pytest.mark.parametrize("top,digits", [(None, None), (3, None), (5, 2), (1, 1)])
def test_square_works_on_top_k_and_rounded_probabilities(sharp, images, asked, top, digits
                                                         ) -> None:
    """Top-1 rounded to one digit is the hardest: the loss moves only in 0.1 steps."""
    mlp = sharp
    door = asked(mlp, top=top, digits=digits)
    threat = ThreatModel("linf", 8 / 255)
    result = get_attack("square")(door.query_model(), images, Goal.untargeted(), threat,
                                  queries=300)
    assert result.success.float().mean() >= 0.75
    with torch.no_grad():  # a success is a real flip of the full model
        clean = mlp(result.original).argmax(1)
        adv = mlp(result.adversarial).argmax(1)
    assert (adv[result.success] != clean[result.success]).all()
    assert door.rows == int(result.queries.sum())


def test_the_result_of_an_image_does_not_depend_on_its_batch(mlp, images) -> None:
    threat = ThreatModel("l2", 0.5)
    whole = get_attack("square", batch_size=12)(mlp, images, Goal.targeted(2), threat,
                                                queries=100)
    split = get_attack("square", batch_size=5)(mlp, images, Goal.targeted(2), threat,
                                               queries=100)
    alone = get_attack("square")(mlp, images[7:8], Goal.targeted(2), threat, queries=100,
                                 index=torch.tensor([7]))
    assert torch.equal(whole.adversarial, split.adversarial)
    assert torch.equal(whole.queries, split.queries)
    assert torch.equal(alone.adversarial[0], whole.adversarial[7])
    other = get_attack("square", seed=1)(mlp, images, Goal.targeted(2), threat, queries=100)
    assert not torch.equal(other.adversarial, whole.adversarial)


def test_squares_are_drawn_per_image(mlp) -> None:
    """Two copies of one image at different dataset indices draw different squares."""
    x = torch.full((2, 3, 8, 8), 128 / 255)
    result = get_attack("square", record=False)(mlp, x, Goal.targeted(9),
                                                ThreatModel("linf", 4 / 255), queries=5)
    assert not torch.equal(result.adversarial[0], result.adversarial[1])


@pytest.mark.parametrize("p_init,side", [(None, 14), (0.8, 14), (0.05, 4)])
def test_the_first_linf_square_covers_p_init_of_the_image(make_linear, p_init, side) -> None:
    """The default Linf p_init is 0.8 (AutoAttack's; the paper's 0.05 shrinks too soon on a
    1000-query budget): the first square after the stripes is round(sqrt(0.8 * 16 * 16)) = 14
    pixels a side. The stripes are constant per column, so every row of the window changes."""
    model = make_linear(torch.stack([torch.zeros(768), torch.full((768,), 1e-3)]),
                        torch.tensor([10.0, 0.0]), size=(16, 16))
    seen: list[torch.Tensor] = []
    model.register_forward_hook(lambda _m, inp, _out: seen.append(inp[0].detach().clone()))
    x = torch.full((1, 3, 16, 16), 128 / 255)
    result = Square(p_init=p_init)(model, x, Goal.untargeted(), ThreatModel("linf", 4 / 255),
                                   queries=3)
    assert not result.success.any() and len(seen) == 3        # clean, stripes, one square
    rows = (seen[2] != seen[1]).any(dim=1)[0].any(dim=1).nonzero().flatten()
    assert int(rows[-1] - rows[0]) + 1 == side


def test_linf_squares_take_whole_8_bit_levels(mlp, images) -> None:
    """eps 0.05 is 12.75 levels: every changed pixel moves by exactly 12 levels."""
    result = get_attack("square")(mlp, images, Goal.targeted(1), ThreatModel("linf", 0.05),
                                  queries=50)
    steps = ((result.adversarial - result.original) * 255).round().abs()
    assert set(steps.unique().tolist()) <= {0.0, 12.0}
    assert ((result.adversarial * 255 - (result.adversarial * 255).round()).abs() < 1e-4).all()


def test_square_counts_queries_to_the_first_success_and_records_them(mlp, images) -> None:
    result = get_attack("square")(mlp, images, Goal.untargeted(), ThreatModel("linf", 8 / 255),
                                  queries=200)
    assert result.trajectory is not None
    loss = result.trajectory.loss
    for i in range(len(result)):
        q = int(result.queries[i])
        assert not torch.isnan(loss[q - 1, i])           # row q - 1: after the q-th query
        if q < loss.shape[0]:
            assert torch.isnan(loss[q:, i]).all()        # nothing after it stopped
        if result.success[i]:
            assert float(loss[q - 1, i]) > 0             # the log-probability margin
    assert (result.backward == 0).all() and torch.equal(result.forward, result.queries)


def test_square_needs_scores(mlp, images, asked) -> None:
    door = asked(mlp, output="labels")
    with pytest.raises(ModelError, match="labels only"):
        get_attack("square")(door.query_model(), images, queries=10)


def test_square_without_a_budget_stops_at_its_steps(mlp, images) -> None:
    attack = dataclasses.replace(Square(), steps=20)
    result = attack(mlp, images, Goal.targeted(4), ThreatModel("linf", 1 / 255))
    assert int(result.queries.max()) <= 20
    assert (result.queries[~result.success] == 20).all()


def _answer(target: float, top: float, k: int = 10) -> torch.Tensor:
    """Probabilities: class 0 at ``top``, class 9 at ``target``, the rest shared evenly."""
    p = torch.full((k,), (1 - top - target) / (k - 2))
    p[0], p[9] = top, target
    return p


def test_toward_a_class_square_raises_its_probability_rather_than_flatten_the_answer() -> None:
    toward, target = Goal.targeted(9), torch.tensor([9, 9])
    raised = _answer(2e-4, 0.9)           # the target doubled, the top class unmoved
    flattened = _answer(1e-4, 0.3)        # the target unmoved, the top class lowered
    both = torch.stack([raised, flattened])
    margin = margin_loss(both, target, toward)
    assert margin[1] < margin[0]          # the margin would keep the flattened answer ...
    loss = square_loss(both, target, toward)
    assert loss[0] < loss[1]              # ... Square keeps the raised target
    assert torch.allclose(loss, -both[:, 9].log())
    away = Goal.untargeted()
    assert torch.equal(square_loss(both, torch.tensor([0, 0]), away),
                       margin_loss(both, torch.tensor([0, 0]), away))


def test_a_target_the_answer_does_not_show_is_worse_than_any_shown_and_the_top_is_lowered(
        ) -> None:
    toward, target = Goal.targeted(9), torch.tensor([9, 9, 9])
    shown = _answer(1e-12, 0.99)
    unseen_high, unseen_low = _answer(0.0, 0.9), _answer(0.0, 0.5)   # top 5: p(target) is 0
    loss = square_loss(torch.stack([shown, unseen_high, unseen_low]), target, toward)
    assert loss[0] < loss[2] < loss[1]
