"""Minimal-norm attacks (cw-l2, deepfool) against a linear model with a known optimum.

For logits ``z = W x + b`` the smallest L2 change that moves x from class y
across the boundary with class j is ``(z_y - z_j) / ||w_y - w_j||``; the
minimal untargeted perturbation is the smallest of these over j. No image,
8-bit or not, can succeed closer than that, and a good attack comes within 2x.
"""

from __future__ import annotations

import pytest
import torch
from torch import nn

from hoodwink.attacks import Goal, ThreatModel, get_attack, list_attacks
from hoodwink.attacks.cw import CarliniWagnerL2
from hoodwink.attacks.deepfool import DeepFool
from hoodwink.attacks.minimal import TIE_MARGIN, goal_margin, unbounded_threat
from hoodwink.errors import ParameterError

CLASSES = 5
SHAPE = (3, 8, 8)


@pytest.fixture(scope="module")
def linear() -> nn.Module:
    torch.manual_seed(0)
    net = nn.Sequential(nn.Flatten(), nn.Linear(3 * 8 * 8, CLASSES))
    with torch.no_grad():
        net[1].weight.normal_(0, 0.05)
        net[1].bias.normal_(0, 0.05)
    return net.requires_grad_(False).eval()


@pytest.fixture(scope="module")
def images() -> torch.Tensor:
    generator = torch.Generator().manual_seed(1)
    x = 0.5 + 0.08 * torch.randn((6, *SHAPE), generator=generator)
    return torch.round(x.clamp(0, 1) * 255) / 255          # on the 8-bit grid already


def minimal_l2(net: nn.Module, x: torch.Tensor, target: int | None = None) -> torch.Tensor:
    """Closed-form distance to the nearest boundary (untargeted), or a lower bound to reach
    ``target`` (the distance to its pairwise boundary with the clean class)."""
    w, b = net[1].weight, net[1].bias
    z = x.flatten(1) @ w.T + b
    y = z.argmax(1)
    out = []
    for i in range(len(x)):
        js = [target] if target is not None else [j for j in range(CLASSES) if j != y[i]]
        out.append(min(float((z[i, y[i]] - z[i, j]) / (w[y[i]] - w[j]).norm()) for j in js))
    return torch.tensor(out)


def predict(net: nn.Module, x: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return net(x).argmax(1)


def on_grid(x: torch.Tensor) -> bool:
    return bool(((x * 255 - torch.round(x * 255)).abs() < 1e-4).all())


ATTACKS = {
    "cw-l2": lambda: CarliniWagnerL2(steps=60, search_steps=4, step_size=0.01),
    "deepfool": lambda: DeepFool(candidates=CLASSES),
}


@pytest.mark.parametrize("name", list(ATTACKS))
def test_untargeted_within_2x_of_the_closed_form_minimum(name, linear, images):
    labels = predict(linear, images)
    best = minimal_l2(linear, images)
    result = ATTACKS[name]()(linear, images, Goal.untargeted(labels))
    assert result.success.all()
    # judged on the 8-bit images that are returned
    assert on_grid(result.adversarial)
    assert (predict(linear, result.adversarial) != labels).all()
    assert torch.allclose(result.l2, (result.adversarial - images).flatten(1).norm(dim=1))
    # never closer than the optimum (the grid cannot cheat a linear boundary), within 2x of it
    assert (result.l2 >= best * (1 - 1e-4)).all(), (result.l2, best)
    assert (result.l2 <= 2 * best).all(), (result.l2 / best)


def test_targeted_cw_reaches_the_target(linear, images):
    labels = predict(linear, images)
    target = int(next(c for c in range(CLASSES) if not (labels == c).all()))
    keep = labels != target
    x = images[keep]
    result = ATTACKS["cw-l2"]()(linear, x, Goal.targeted(target))
    assert result.success.all()
    assert (predict(linear, result.adversarial) == target).all()
    assert (result.l2 >= minimal_l2(linear, x, target) * (1 - 1e-4)).all()
    assert on_grid(result.adversarial)


def test_targeted_deepfool_reaches_the_target(linear, images):
    labels = predict(linear, images)
    target = int(next(c for c in range(CLASSES) if not (labels == c).all()))
    x = images[labels != target]
    result = DeepFool()(linear, x, Goal.targeted(target))
    assert result.success.all()
    assert (predict(linear, result.adversarial) == target).all()


def test_linf_deepfool_stays_near_the_linf_optimum(linear, images):
    """For a linear model the minimal Linf change is (z_y - z_j) / ||w_y - w_j||_1."""
    labels = predict(linear, images)
    w, b = linear[1].weight, linear[1].bias
    z = images.flatten(1) @ w.T + b
    best = torch.tensor([min(float((z[i, labels[i]] - z[i, j]) / (w[labels[i]] - w[j]).abs().sum())
                             for j in range(CLASSES) if j != labels[i]) for i in range(len(images))])
    result = DeepFool(candidates=CLASSES)(linear, images, Goal.untargeted(labels),
                                          ThreatModel("linf", 1.0))
    assert result.success.all()
    assert (result.linf >= best * (1 - 1e-4)).all()
    # the grid rounds the optimum up by at most a step or so
    assert (result.linf <= 2 * best + 1.5 / 255).all(), (result.linf * 255, best * 255)


@pytest.mark.parametrize("name", list(ATTACKS))
def test_eps_is_an_upper_bound(name, linear, images):
    """A perturbation that would need more than eps is projected into the ball and not counted."""
    labels = predict(linear, images)
    best = minimal_l2(linear, images)
    eps = float(best.median())
    threat = ThreatModel("l2", eps)
    result = ATTACKS[name]()(linear, images, Goal.untargeted(labels), threat)
    assert bool(threat.contains(result.adversarial, images).all())
    assert not result.success[best > eps].any()
    fooled = predict(linear, result.adversarial) != labels
    assert torch.equal(fooled, result.success)


@pytest.mark.parametrize("name", list(ATTACKS))
def test_same_parameters_same_result(name, linear, images):
    labels = predict(linear, images)
    a = ATTACKS[name]()(linear, images, Goal.untargeted(labels))
    b = ATTACKS[name]()(linear, images, Goal.untargeted(labels))
    assert torch.equal(a.adversarial, b.adversarial)
    assert torch.equal(a.forward, b.forward) and torch.equal(a.backward, b.backward)


@pytest.mark.parametrize("name", list(ATTACKS))
def test_batches_give_the_same_result(name, linear, images):
    labels = predict(linear, images)
    attack = ATTACKS[name]()
    whole = attack(linear, images, Goal.untargeted(labels))
    split = type(attack)(**{**attack.params(), "batch_size": 4})(linear, images,
                                                                 Goal.untargeted(labels))
    assert torch.equal(whole.success, split.success)
    assert torch.allclose(whole.l2, split.l2, atol=2 / 255)


def test_counts_and_trajectory(linear, images):
    labels = predict(linear, images)
    result = DeepFool(candidates=CLASSES)(linear, images, Goal.untargeted(labels))
    # one forward per float step plus the 8-bit fitting; CLASSES - 1 backward per step (and for
    # the step on which a sample succeeded while others in its batch went on: spent, so counted)
    assert (result.backward % (CLASSES - 1) == 0).all()
    assert (result.backward >= (CLASSES - 1) * result.steps).all()
    assert (result.backward <= (CLASSES - 1) * (result.steps + 1)).all()
    assert (result.forward >= result.steps + 2).all()
    traj = result.trajectory
    assert traj is not None and traj.top1[0].tolist() == labels.tolist()
    assert set(labels.tolist()) <= set(traj.classes)
    cw = ATTACKS["cw-l2"]()(linear, images, Goal.untargeted(labels))
    assert torch.equal(cw.forward, cw.backward + 1)      # the clean forward, then one of each a step
    assert cw.trajectory is not None and cw.trajectory.norm.shape[1] == len(images)


def test_margin_and_unbounded_threat():
    logits = torch.tensor([[2.0, 1.0, 0.0], [0.0, 3.0, 1.0]])
    labels = torch.tensor([0, 0])
    assert goal_margin(logits, labels, toward=False).tolist() == [-1.0, 3.0]
    assert goal_margin(logits, labels, toward=True).tolist() == [1.0, -3.0]
    threat = unbounded_threat("l2", torch.zeros(2, *SHAPE))
    assert threat.eps == pytest.approx((3 * 8 * 8) ** 0.5)
    assert TIE_MARGIN > 0


def test_registered_with_validation():
    names = {a.name for a in list_attacks()}
    assert {"cw-l2", "deepfool"} <= names
    assert get_attack("cw_l2", steps=5, seed=None, confidence=0.0).steps == 5
    with pytest.raises(ParameterError, match="no parameter seed"):  # it draws no random numbers
        get_attack("deepfool", seed=0)
    with pytest.raises(ParameterError, match="batch_size"):
        get_attack("deepfool", batch_size=True)
    with pytest.raises(ParameterError, match="steps"):
        get_attack("deepfool", steps=0)
    with pytest.raises(ParameterError, match="candidates"):
        DeepFool(candidates=1)
    with pytest.raises(ParameterError, match="norms"):
        CarliniWagnerL2()(nn.Flatten(), torch.zeros(1, *SHAPE), None, ThreatModel("linf", 0.1))


@pytest.mark.slow
def test_deepfool_on_the_real_model_survives_png(imagenet_model, tmp_path):
    from hoodwink.images import load_image, save_image

    image = imagenet_model.prepare(load_image("coffee").unsqueeze(0))
    result = DeepFool(candidates=4)(imagenet_model, image)
    assert result.success.all()
    path = save_image(result.adversarial[0], tmp_path / "adv.png")
    back = load_image(path).unsqueeze(0)
    with torch.no_grad():
        top = int(imagenet_model(back).argmax(1))
    assert top == int(result.adversarial_probabilities.argmax(1))
    assert top != int(result.goal_classes[0])
