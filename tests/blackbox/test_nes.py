"""NES (Ilyas et al. 2018): gradient estimates from scores, PGD steps."""

from __future__ import annotations

import pytest
import torch

from hoodwink.attacks import Goal, ThreatModel, get_attack, list_attacks
from hoodwink.errors import ParameterError


def test_nes_is_a_registered_score_attack() -> None:
    info = {a.name: a for a in list_attacks()}["nes"]
    assert info.kind == "scores" and info.norms == ("linf", "l2")
    with pytest.raises(ParameterError, match="samples"):
        get_attack("nes", samples=1)


def test_nes_reaches_the_closed_form_answer_of_a_linear_model(make_linear) -> None:
    """x_t = 128/255 - t sign(w)/255 needs Linf (t + 0.5)/255 to flip (margin / ||w||_1):
    at eps 8/255 NES flips t <= 5 and, as nothing can, never t >= 8."""
    g = torch.Generator().manual_seed(1)
    d = 3 * 64
    w = torch.randn(d, generator=g)
    base = torch.full((d,), 128 / 255)
    b = -float(w @ base) - 0.5 / 255 * float(w.abs().sum())
    model = make_linear(torch.stack([torch.zeros(d), w]), torch.tensor([0.0, b]))
    shifts = [0, 2, 5, 8, 10]
    x = torch.stack([base - t * w.sign() / 255 for t in shifts]).view(-1, 3, 8, 8)
    result = get_attack("nes")(model, x, Goal.untargeted(), ThreatModel("linf", 8 / 255),
                               queries=1000)
    assert result.success.tolist() == [t <= 5 for t in shifts]
    assert (result.queries[result.success] <= 1000).all()


def test_nes_estimates_point_the_right_way(make_linear) -> None:
    """One estimate of a linear model's gradient: the step's signs agree with the weights'
    on more pixels than chance (0.5), and on more with more probes (the paper's sigma,
    dithered onto the 8-bit grid)."""
    g = torch.Generator().manual_seed(3)
    d = 3 * 64
    w = torch.randn(d, generator=g)
    x = torch.full((1, 3, 8, 8), 128 / 255)
    bias = -float(w @ x.flatten()) - 5
    model = make_linear(torch.stack([torch.zeros(d), w]), torch.tensor([0.0, bias]))

    def agreement(samples: int) -> float:
        result = get_attack("nes", samples=samples)(model, x, Goal.untargeted(),
                                                     ThreatModel("linf", 4 / 255),
                                                     queries=samples + 2)
        assert int(result.queries[0]) == samples + 2
        moved = (result.adversarial - result.original).flatten()
        return float((moved.sign() == w.sign())[moved != 0].float().mean())

    few, many = agreement(50), agreement(400)
    assert 0.6 < few < many and many > 0.75         # 0.64 and 0.80 measured


@pytest.mark.parametrize("top,digits", [(None, None), (5, 2)])
def test_nes_works_on_top_k_and_rounded_probabilities(sharp, images, asked, top, digits) -> None:
    door = asked(sharp, top=top, digits=digits)
    result = get_attack("nes")(door.query_model(), images, Goal.untargeted(),
                               ThreatModel("linf", 8 / 255), queries=600)
    assert result.success.float().mean() >= 0.75
    with torch.no_grad():
        flipped = sharp(result.adversarial).argmax(1) != sharp(result.original).argmax(1)
    assert flipped[result.success].all()
