"""SimBA and SimBA-DCT (Guo et al. 2019)."""

from __future__ import annotations

import pytest
import torch

from hoodwink.attacks import Goal, ThreatModel, get_attack, list_attacks
from hoodwink.attacks.simba import SimBA, _Walk, dct_matrix
from hoodwink.errors import ParameterError


def test_simba_and_simba_dct_are_registered_score_attacks() -> None:
    infos = {a.name: a for a in list_attacks()}
    assert infos["simba"].kind == infos["simba-dct"].kind == "scores"
    assert get_attack("simba-dct").basis == "dct" and get_attack("simba").basis == "pixels"
    with pytest.raises(ParameterError, match="step_size"):
        SimBA(step_size=0)


def test_the_dct_walk_takes_the_low_frequencies_first() -> None:
    walk = _Walk(0, torch.tensor([5]), (3, 16, 16), "dct", 0.25)   # 4 x 4 low frequencies
    first = [walk.direction(torch.tensor([0]), torch.tensor([k]), torch.device("cpu"))[0]
             for k in range(3 * 16)]
    basis = dct_matrix(16)
    for q in first:
        assert float(q.norm()) == pytest.approx(1.0, abs=1e-5)
        channel = int(q.flatten(1).norm(dim=1).argmax())
        freq = basis @ q[channel] @ basis.T                         # back to frequencies
        u, v = divmod(int(freq.abs().argmax()), 16)
        assert u < 4 and v < 4
    assert len({tuple(q.flatten().tolist()) for q in first}) == 48   # no direction twice


def test_simba_keeps_only_steps_that_help(mlp, images) -> None:
    """Along the trajectory, the probability of the goal's class only rises (toward),
    except at the last step of a success: a step that reaches the goal is always kept."""
    result = get_attack("simba")(mlp, images, Goal.targeted(4), ThreatModel("l2", 1.0),
                                 queries=120)
    assert result.trajectory is not None
    p = result.trajectory.probability(4)
    for i in range(len(result)):
        column = p[:, i][~torch.isnan(p[:, i])]
        if result.success[i]:
            column = column[:-1]
        assert (column[1:] >= column[:-1] - 1e-7).all()


def test_simba_on_a_linear_model_meets_the_closed_form_bound(make_linear) -> None:
    """Binary linear model: no L2 flip is shorter than margin / ||w||_2; SimBA's pixel
    steps must be longer but succeed with room."""
    g = torch.Generator().manual_seed(2)
    d = 3 * 64
    w = torch.randn(d, generator=g)
    x = torch.full((1, 3, 8, 8), 128 / 255)
    b = -float(w @ x.flatten()) - 0.4
    model = make_linear(torch.stack([torch.zeros(d), w]), torch.tensor([0.0, b]))
    l2_star = 0.4 / float(w.norm())
    ok = get_attack("simba", step_size=0.05)(model, x, Goal.untargeted(),
                                              ThreatModel("l2", 4 * l2_star), queries=2000)
    assert ok.success.all() and l2_star <= float(ok.l2[0]) <= 4 * l2_star + 1e-5
    never = get_attack("simba", step_size=0.05)(model, x, Goal.untargeted(),
                                                 ThreatModel("l2", 0.9 * l2_star), queries=300)
    assert not never.success.any()


def test_the_dither_lets_sub_level_dct_steps_reach_the_8_bit_image(make_linear, monkeypatch
                                                                   ) -> None:
    """On 16 x 16 images a DCT step of 0.01 is at most 0.32 of an 8-bit level per pixel:
    plain rounding erases it and the walk never moves; with the dither it flips the model."""
    from hoodwink.attacks import simba

    g = torch.Generator().manual_seed(4)
    d = 3 * 256
    w = torch.randn(d, generator=g)
    x = torch.full((1, 3, 16, 16), 128 / 255)
    b = -float(w @ x.flatten()) - 0.3
    model = make_linear(torch.stack([torch.zeros(d), w]), torch.tensor([0.0, b]), size=(16, 16))
    threat = ThreatModel("l2", 3.0)
    attack = get_attack("simba-dct", step_size=0.01, freq=0.5)
    result = attack(model, x, Goal.untargeted(), threat, queries=1000)
    assert result.success.all() and threat.contains(result.adversarial, result.original).all()
    monkeypatch.setattr(simba._Walk, "dither", lambda self, n, device: torch.zeros(n, *self.shape))
    stuck = attack(model, x, Goal.untargeted(), threat, queries=300)
    assert not stuck.success.any() and torch.equal(stuck.adversarial, stuck.original)


def test_simba_pixel_steps_are_whole_8_bit_levels(mlp, images) -> None:
    result = get_attack("simba", step_size=0.03)(mlp, images, Goal.targeted(1),
                                                 ThreatModel("linf", 0.5), queries=60)
    levels = ((result.adversarial - result.original) * 255).round().abs()
    assert set(levels.unique().tolist()) <= {0.0, 8.0}              # 0.03 * 255 = 7.65 -> 8
