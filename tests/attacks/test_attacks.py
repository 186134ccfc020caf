"""Every attack on tiny analytic models: the threat holds, success is honest,
the known optimum of a linear model is found, seeds, batches, early stopping,
restarts and pass counts behave."""

from __future__ import annotations

import math

import pytest
import torch

from hoodwink.attacks import (
    APGDDLR,
    BIM,
    FGSM,
    MIFGSM,
    PGD,
    Goal,
    ThreatModel,
    get_attack,
    list_attacks,
)
from hoodwink.errors import ParameterError

ENGINE_ATTACKS = ["fgsm", "bim", "pgd", "mifgsm", "apgd-ce", "apgd-dlr", "apgd-t"]


def few_steps(name: str) -> dict[str, int]:
    return {} if name == "fgsm" else {"steps": 20}


@pytest.mark.parametrize("name", ENGINE_ATTACKS)
@pytest.mark.parametrize("norm, eps", [("linf", 8 / 255), ("l2", 0.3)])
@pytest.mark.parametrize("goal", [Goal.untargeted(), Goal.targeted(4)], ids=["away", "into4"])
def test_result_is_inside_the_threat_and_success_is_judged_on_it(
        mlp, images, name: str, norm: str, eps: float, goal: Goal) -> None:
    threat = ThreatModel(norm, eps)
    result = get_attack(name, **few_steps(name))(mlp, images, goal, threat)
    assert threat.contains(result.adversarial, result.original).all()
    assert torch.equal(result.original, images)  # already on the grid
    with torch.no_grad():
        logits = mlp(result.adversarial)
    assert torch.equal(goal.reached(logits, labels=result.goal_classes), result.success)
    assert torch.allclose(result.adversarial_probabilities, logits.softmax(1), atol=1e-5)
    delta = (result.adversarial - result.original).flatten(1)
    assert torch.allclose(result.linf, delta.abs().amax(1))
    assert torch.allclose(result.l2, delta.norm(dim=1))
    assert torch.equal(result.l0, (delta != 0).sum(1))
    assert (result.forward >= result.backward).all() and (result.forward >= 1).all()


def test_fgsm_takes_the_closed_form_optimal_step_of_a_linear_model(binary_linear, images) -> None:
    """For logits (0, w.x), the best linf step away from class 0 is eps * sign(w)."""
    w = binary_linear.net[1].weight[1].view(3, 4, 4)
    x = images[:1]
    eps = 8 / 255
    result = FGSM()(binary_linear, x, Goal.untargeted([0]), ThreatModel("linf", eps))
    assert torch.allclose(result.adversarial, x + eps * w.sign(), atol=1e-6)
    gain = float((binary_linear(result.adversarial) - binary_linear(x))[0, 1])
    assert gain == pytest.approx(eps * float(w.abs().sum()), rel=1e-4)
    # and toward class 0 (already top-1: a high confidence asks for the step): the opposite corner
    result = FGSM(confidence=0.9999)(binary_linear, x, Goal.targeted(0), ThreatModel("linf", eps))
    assert result.steps.item() == 1
    assert torch.allclose(result.adversarial, x - eps * w.sign(), atol=1e-6)


def test_l2_fgsm_follows_the_weight_vector_of_a_linear_model(binary_linear, images) -> None:
    w = binary_linear.net[1].weight[1]
    eps = 0.5
    result = FGSM()(binary_linear, images[:1], Goal.untargeted([0]), ThreatModel("l2", eps))
    delta = (result.adversarial - images[:1]).flatten()
    cosine = float(delta @ w / (delta.norm() * w.norm()))
    assert cosine > 0.98  # the grid bends it a little
    assert float(delta.norm()) <= eps + 1e-6


@pytest.mark.parametrize("name", ["bim", "pgd", "mifgsm", "apgd-ce"])
def test_linear_model_is_fooled_exactly_when_the_budget_allows(make_linear, name: str) -> None:
    """Binary linear model with margin m: the smallest linf change that flips it
    is m / ||w||_1, so an attack must fail just below and succeed just above."""
    g = torch.Generator().manual_seed(4)
    w = torch.randn(48, generator=g)
    x = torch.full((1, 3, 4, 4), 128 / 255)
    levels = 6  # the flip needs just under 6 levels
    bias = -float(w @ x.flatten()) + (levels - 0.5) / 255 * float(w.abs().sum())
    model = make_linear(torch.stack([w, torch.zeros_like(w)]), torch.tensor([bias, 0.0]))
    assert model(x).argmax() == 0
    attack = get_attack(name, steps=30, **({"restarts": 0} if name != "apgd-t" else {}))
    goal = Goal.untargeted([0])
    below = attack(model, x, goal, ThreatModel("linf", (levels - 1) / 255))
    above = attack(model, x, goal, ThreatModel("linf", levels / 255))
    assert not below.success.any()
    assert above.success.all()
    assert float(above.linf[0]) * 255 == pytest.approx(levels, abs=1e-3)


@pytest.mark.parametrize("name", ["bim", "pgd", "mifgsm", "apgd-ce", "apgd-dlr", "apgd-t"])
def test_targeted_attacks_reach_their_targets(mlp, images, name: str) -> None:
    targets = torch.arange(12) % 10
    result = get_attack(name, steps=40)(mlp, images, Goal.targeted(targets), ThreatModel("linf", 0.3))
    assert result.success.all()
    assert torch.equal(result.adversarial_probabilities.argmax(1), targets)


def test_same_seed_same_result_and_another_seed_another(mlp, images) -> None:
    threat = ThreatModel("linf", 4 / 255)
    a = PGD(steps=5, seed=1)(mlp, images, None, threat)
    b = PGD(steps=5, seed=1)(mlp, images, None, threat)
    c = PGD(steps=5, seed=2)(mlp, images, None, threat)
    assert torch.equal(a.adversarial, b.adversarial) and torch.equal(a.forward, b.forward)
    assert not torch.equal(a.adversarial, c.adversarial)


def test_random_state_of_torch_is_untouched(mlp, images) -> None:
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    PGD(steps=3)(mlp, images, None, ThreatModel("linf", 4 / 255))
    assert torch.equal(torch.rand(3), expected)


@pytest.mark.parametrize("attack", [BIM(steps=15), MIFGSM(steps=15), APGDDLR(steps=15, random_start=False)],
                         ids=["bim", "mifgsm", "apgd-dlr"])
def test_a_batch_gives_the_same_result_as_its_samples_one_by_one(mlp, images, attack) -> None:
    threat = ThreatModel("linf", 6 / 255)
    goal = Goal.targeted(torch.arange(12) % 10)
    batch = attack(mlp, images, goal, threat)
    for i in range(len(images)):
        single = attack(mlp, images[i : i + 1], Goal.targeted(i % 10), threat)
        assert torch.equal(single.success, batch.success[i : i + 1])
        assert torch.equal(single.adversarial, batch.adversarial[i : i + 1])
        assert torch.equal(single.forward, batch.forward[i : i + 1])


def test_batch_size_does_not_change_random_starts(mlp, images) -> None:
    threat = ThreatModel("linf", 4 / 255)
    whole = PGD(steps=5, restarts=1)(mlp, images, None, threat)
    split = PGD(steps=5, restarts=1, batch_size=5)(mlp, images, None, threat)
    assert torch.equal(whole.adversarial, split.adversarial)
    assert torch.equal(whole.success, split.success)
    assert whole.trajectory is not None and split.trajectory is not None
    assert torch.equal(whole.trajectory.top1, split.trajectory.top1)


@pytest.mark.parametrize("name", ["bim", "pgd", "apgd-ce"])
def test_early_stopping_changes_no_success_only_cost(mlp, images, name: str) -> None:
    threat = ThreatModel("linf", 5 / 255)
    goal = Goal.targeted(torch.arange(12) % 10)
    early = get_attack(name, steps=20)(mlp, images, goal, threat)
    full = get_attack(name, steps=20, early_stop=False)(mlp, images, goal, threat)
    assert torch.equal(early.success, full.success)
    assert 0 < int(early.success.sum()) < len(images)  # the test means something
    assert int(early.forward.sum()) < int(full.forward.sum())
    assert (full.steps == 20).all()
    done = early.success
    assert (early.steps[done] < 20).all()


def test_pass_counts_are_honest(mlp, images, make_counting) -> None:
    threat = ThreatModel("linf", 5 / 255)
    for attack in (BIM(steps=12), PGD(steps=12, restarts=2), APGDDLR(steps=12), FGSM()):
        model = make_counting(mlp)
        result = attack(model, images, Goal.targeted(torch.arange(12) % 10), threat)
        assert int(result.forward.sum()) == model.net.forward_rows
        assert int(result.backward.sum()) == model.net.backward_rows


def test_restarts_retry_only_the_samples_not_yet_fooled(mlp, images) -> None:
    threat = ThreatModel("linf", 3 / 255)
    goal = Goal.targeted(torch.arange(12) % 10)
    once = PGD(steps=10)(mlp, images, goal, threat)
    thrice = PGD(steps=10, restarts=2)(mlp, images, goal, threat)
    fooled = once.success
    assert 0 < int(fooled.sum()) < len(images)
    assert torch.equal(thrice.forward[fooled], once.forward[fooled])
    assert torch.equal(thrice.adversarial[fooled], once.adversarial[fooled])
    assert (thrice.forward[~fooled] > once.forward[~fooled]).all()
    assert (thrice.success >= once.success).all()


def test_confidence_keeps_going_until_the_target_is_probable(mlp, images) -> None:
    threat = ThreatModel("linf", 0.5)
    plain = BIM(steps=60, step_size=2 / 255)(mlp, images, Goal.targeted(3), threat)
    sure = BIM(steps=60, step_size=2 / 255, confidence=0.5)(mlp, images, Goal.targeted(3), threat)
    assert sure.success.all()
    assert (plain.adversarial_probabilities[:, 3] < 0.5).any()
    assert (sure.adversarial_probabilities[:, 3] >= 0.5).all()
    assert (sure.steps >= plain.steps).all() and (sure.steps > plain.steps).any()


def test_trajectory_records_the_classes_that_matter(mlp, images) -> None:
    result = BIM(steps=25, step_size=2 / 255)(mlp, images, Goal.targeted(7), ThreatModel("linf", 0.2))
    t = result.trajectory
    assert t is not None and len(t) == 12
    assert t.steps == int(result.steps.max()) < 25  # rows for the steps taken, all stopped early
    assert 7 in t.classes
    clean_top = result.clean_probabilities.argmax(1)
    assert set(clean_top.tolist()) <= set(t.classes)
    assert torch.allclose(t.probabilities[0], result.clean_probabilities[:, list(t.classes)])
    for i in range(12):
        last = int(result.steps[i])
        assert torch.allclose(t.probability(7)[last, i], result.adversarial_probabilities[i, 7])
        assert t.visited(i)[-1] == 7 and t.visited(i)[0] == int(clean_top[i])
        assert t.probabilities[last + 1 :, i].isnan().all() and (t.top1[last + 1 :, i] == -1).all()
        assert float(t.norm[last, i]) == pytest.approx(float(result.linf[i]), abs=1e-6)
    assert result[3].trajectory is not None and result[3].trajectory.loss.shape == (t.steps + 1, 1)


def test_lean_perturb_for_training(mlp, images) -> None:
    threat = ThreatModel("linf", 8 / 255)
    labels = mlp(images).argmax(1)
    fast = FGSM(random_start=True, step_size=1.25 * 8 / 255)
    adv = fast.perturb(mlp, images, Goal.untargeted(labels), threat)
    assert ((adv - images).abs() <= 8 / 255 + 1e-6).all() and adv.min() >= 0 and adv.max() <= 1
    assert not torch.equal(adv, images)
    pgd = PGD(steps=10).perturb(mlp, images, Goal.untargeted(labels), threat)
    ce = torch.nn.functional.cross_entropy
    assert float(ce(mlp(pgd), labels)) > float(ce(mlp(images), labels))
    l2 = PGD(steps=5).perturb(mlp, images, Goal.untargeted(labels), ThreatModel("l2", 0.5))
    assert ((l2 - images).flatten(1).norm(dim=1) <= 0.5 + 1e-5).all()


def test_registry_names_parameters_and_errors() -> None:
    names = {a.name for a in list_attacks()}
    assert set(ENGINE_ATTACKS) <= names
    assert get_attack("PGD", steps=7).steps == 7
    assert get_attack("apgd_ce").name == "apgd-ce"
    with pytest.raises(ParameterError, match="did you mean 'pgd'"):
        get_attack("pgdd")
    with pytest.raises(ParameterError, match="takes no parameter iterations"):
        get_attack("pgd", iterations=3)
    with pytest.raises(ParameterError, match="steps"):
        PGD(steps=0)
    with pytest.raises(ParameterError, match="norms"):
        FGSM()(torch.nn.Identity(), torch.zeros(1, 3, 2, 2), None, ThreatModel("l1", 1.0))


def test_images_outside_the_bounds_are_refused(mlp) -> None:
    with pytest.raises(ParameterError, match="bounds"):
        BIM()(mlp, torch.full((1, 3, 4, 4), 1.5))


def test_attacks_work_in_float_when_quantisation_is_off(mlp, images) -> None:
    threat = ThreatModel("l2", 0.05, quantize=False)
    result = PGD(steps=10)(mlp, images + 0.5 / 255, None, threat)
    assert threat.contains(result.adversarial, result.original).all()
    assert not math.isclose(float((result.adversarial * 255).frac().abs().max()), 0.0)


def test_pgd_l1_stays_in_the_l1_ball(mlp, images) -> None:
    threat = ThreatModel("l1", 2.0)
    result = PGD(steps=20)(mlp, images, None, threat)
    assert threat.contains(result.adversarial, result.original).all()
    assert (result.l2 > 0).all() and result.success.any()


def test_apgd_checkpoints_follow_croce_and_hein() -> None:
    from hoodwink.attacks import APGDCE

    # p_0 = 0, p_1 = 0.22, windows shrinking by 0.03 down to 0.06 of the steps
    assert list(APGDCE(steps=100).checkpoints) == [22, 41, 57, 70, 80, 87, 93, 99]


def test_trick_prepares_any_size_and_names_classes(mlp) -> None:
    from hoodwink.attacks import trick

    big = torch.rand(3, 9, 7)
    result = trick(mlp, big, into="c5", eps=0.4, steps=40, step_size=2 / 255)
    assert result.original.shape == (1, 3, 4, 4)
    assert bool(result.success) and result.adversarial_predictions[0][0].name == "c5"
    with pytest.raises(ParameterError, match="exactly one goal"):
        trick(mlp, big)
    with pytest.raises(Exception, match="did you mean"):
        trick(mlp, big, into="c55")


def test_restarts_of_a_deterministic_attack_start_somewhere_new(mlp, images) -> None:
    threat = ThreatModel("linf", 3 / 255)
    goal = Goal.targeted(torch.arange(12) % 10)
    once = BIM(steps=10)(mlp, images, goal, threat)
    again = BIM(steps=10, restarts=3)(mlp, images, goal, threat)
    fooled = once.success
    assert 0 < int(fooled.sum()) < len(images)
    assert (again.success >= fooled).all()
    # the unbroken images were retried from new points, and kept whichever try went furthest
    assert not torch.equal(again.adversarial[~fooled], once.adversarial[~fooled])
    with torch.no_grad():
        before = goal.loss(mlp(once.adversarial), once.goal_classes)[~fooled]
        after = goal.loss(mlp(again.adversarial), again.goal_classes)[~fooled]
    assert (after >= before - 1e-6).all()


def test_bim_default_step_is_the_talks_one_level_and_grows_only_when_eps_is_out_of_reach(
        binary_linear, images) -> None:
    def levels(eps: float, steps: int = 20) -> float:
        return BIM(steps=steps).default_step_size(ThreatModel("linf", eps)) * 255

    assert levels(8 / 255) == pytest.approx(1) and levels(16 / 255) == pytest.approx(1)
    assert levels(0.3) == pytest.approx(5) and levels(0.3, steps=100) == pytest.approx(1)
    # eps 0.3 (digits) with the default 20 steps: an unreachable target makes BIM take every step,
    # and it travels to the edge of the ball, which 20 steps of 1/255 never could
    with torch.no_grad():
        binary_linear.net[1].bias[1] = -1e6
    result = BIM()(binary_linear, images[:2], Goal.targeted(1), ThreatModel("linf", 0.3))
    assert not result.success.any() and (result.steps == 20).all()
    assert torch.allclose(result.linf, torch.full((2,), 76 / 255))
