"""The threat model: eps parsing, and projection onto ball ∩ bounds ∩ 8-bit grid."""

from __future__ import annotations

import pytest
import torch

from hoodwink.attacks import NORMS, ThreatModel, parse_eps
from hoodwink.errors import ParameterError


def on_grid(x: torch.Tensor) -> bool:
    return bool(((x * 255 - torch.round(x * 255)).abs() < 1e-4).all())


def test_parse_eps_accepts_fractions_and_decimals() -> None:
    assert parse_eps("8/255") == 8 / 255
    assert parse_eps(" 0.03 ") == 0.03
    assert parse_eps(0.5) == 0.5
    assert parse_eps("0") == 0.0


@pytest.mark.parametrize("bad", ["abc", "-1", "2", "1/0", "nan", "8/", "inf", True])
def test_parse_eps_rejects_impossible_values(bad: object) -> None:
    with pytest.raises(ParameterError):
        parse_eps(bad)  # type: ignore[arg-type]


def test_threat_rejects_bad_values() -> None:
    with pytest.raises(ParameterError, match="norm"):
        ThreatModel("l3", 0.1)
    with pytest.raises(ParameterError):
        ThreatModel("linf", 1.5)
    with pytest.raises(ParameterError):
        ThreatModel("l2", -0.5)
    with pytest.raises(ParameterError, match="bounds"):
        ThreatModel("linf", 0.1, bounds=(1.0, 0.0))


@pytest.mark.parametrize("norm, eps", [("linf", 0.03), ("linf", 8 / 255), ("l2", 0.05), ("l2", 0.3),
                                       ("l1", 0.2), ("l1", 1.0)])
def test_projection_lands_on_grid_inside_ball_and_bounds(norm: str, eps: float) -> None:
    g = torch.Generator().manual_seed(0)
    clean = torch.randint(0, 256, (64, 3, 5, 5), generator=g).float() / 255
    candidate = clean + torch.randn(clean.shape, generator=g) * 0.05
    threat = ThreatModel(norm, eps)
    adv = threat.project(candidate, clean)
    assert on_grid(adv)
    assert adv.min() >= 0 and adv.max() <= 1
    assert (threat.distance(adv, clean) <= eps + 1e-6).all()
    assert threat.contains(adv, clean).all()
    assert torch.equal(threat.project(adv, clean), adv)  # idempotent


def test_linf_rounding_goes_toward_the_clean_pixel_when_it_would_leave_the_ball() -> None:
    clean = torch.full((1, 3, 2, 2), 100 / 255)
    threat = ThreatModel("linf", 0.03)  # 7.65 levels: 8 levels would be outside
    adv = threat.project(clean + 0.03, clean)
    assert torch.allclose(adv, clean + 7 / 255)
    adv = threat.project(clean - 0.0295, clean)  # -7.52 levels rounds to -8: outside, so -7
    assert torch.allclose(adv, clean - 7 / 255)


def test_l2_rounding_that_would_leave_the_ball_is_fixed_up() -> None:
    clean = torch.full((1, 1, 1, 4), 0.5)
    delta = torch.full((1, 1, 1, 4), 0.6 / 255)  # rounds to 1/255 each: norm 2/255 > eps
    eps = float(delta.norm())
    adv = ThreatModel("l2", eps).project(clean + delta, clean)
    assert on_grid(adv)
    assert float((adv - clean).norm()) <= eps + 1e-7


def test_bounds_are_kept_and_unquantised_threat_stays_off_grid() -> None:
    clean = torch.tensor([0.0, 1.0, 0.5]).view(1, 3, 1, 1)
    threat = ThreatModel("linf", 0.1, quantize=False)
    adv = threat.project(clean + torch.tensor([-0.05, 0.05, 0.0123]).view(1, 3, 1, 1), clean)
    assert adv.flatten().tolist() == pytest.approx([0.0, 1.0, 0.5123])
    narrow = ThreatModel("linf", 0.5, bounds=(0.2, 0.8))
    assert narrow.project(clean, torch.full_like(clean, 0.4)).min() >= 0.2 - 1e-7


def test_l1_projection_is_the_closest_point_of_the_ball() -> None:
    g = torch.Generator().manual_seed(2)
    delta = torch.randn(8, 30, generator=g)
    eps = 2.0
    projected = NORMS["l1"].project(delta, eps)
    assert torch.allclose(projected.abs().sum(1), torch.full((8,), eps), atol=1e-5)
    # no random point of the ball is closer to delta than the projection
    for _ in range(20):
        other = NORMS["l1"].project(projected + 0.3 * torch.randn(8, 30, generator=g), eps)
        assert ((delta - projected).norm(dim=1) <= (delta - other).norm(dim=1) + 1e-5).all()


@pytest.mark.parametrize("norm", ["linf", "l2", "l1"])
def test_random_start_lies_in_the_ball_and_depends_on_the_seed(norm: str) -> None:
    ops = NORMS[norm]
    a = ops.random((3, 4, 4), 0.3, torch.Generator().manual_seed(5))
    b = ops.random((3, 4, 4), 0.3, torch.Generator().manual_seed(5))
    c = ops.random((3, 4, 4), 0.3, torch.Generator().manual_seed(6))
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert float(ops.distance(a[None])) <= 0.3 + 1e-6
    assert float(ops.distance(a[None])) > 0
