"""What every black-box attack owes: an exact budget, every row counted, 8-bit images in
the threat judged by the model, and a label-only model never asked for a score."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from hoodwink.attacks import Goal, ThreatModel, get_attack, list_attacks

BLACK_BOX = sorted(a.name for a in list_attacks() if a.kind in ("scores", "labels"))
SCORES = sorted(a.name for a in list_attacks() if a.kind == "scores")


def _threat(name: str) -> ThreatModel:
    norms = {a.name: a.norms for a in list_attacks()}[name]
    return ThreatModel("linf", 6 / 255) if "linf" in norms else ThreatModel("l2", 0.6)


@pytest.mark.parametrize("name", BLACK_BOX)
def test_the_budget_is_exact_and_every_row_is_counted(mlp, images, asked, name: str) -> None:
    """The oracle raises on the first query past the budget: the attack must stop each
    image at it; the unbroken images spend it all; the model saw exactly the rows counted."""
    info = {a.name: a for a in list_attacks()}[name]
    door = asked(mlp, output="labels" if info.kind == "labels" else "probabilities")
    threat = _threat(name)
    result = get_attack(name)(door.query_model(), images, Goal.targeted(3), threat,
                              queries=40)
    assert int(result.queries.max()) <= 40
    assert door.rows == int(result.queries.sum())
    assert all(s.dtype == np.uint8 for s in door.seen)
    assert threat.contains(result.adversarial, result.original).all()
    with torch.no_grad():                              # judged on the images returned
        top = mlp(result.adversarial).argmax(1)
    assert (top[result.success] == 3).all() and (top[~result.success] != 3).all()
    assert result.success.any()
    if info.kind == "scores":                            # score attacks stop only when out
        assert (result.queries[~result.success] == 40).all()


@pytest.mark.parametrize("name", sorted(a.name for a in list_attacks() if a.kind == "labels"))
def test_a_label_only_attack_never_asks_for_a_score(mlp, images, asked, name: str) -> None:
    door = asked(mlp, output="labels")
    get_attack(name)(door.query_model(), images[:4], Goal.untargeted(), queries=60)
    assert door.scores_asked == 0 and door.rows > 0


@pytest.mark.parametrize("name", BLACK_BOX)
def test_an_image_gets_the_same_result_in_any_batch(mlp, images, name: str) -> None:
    threat = _threat(name)
    whole = get_attack(name, batch_size=12)(mlp, images, Goal.targeted(2), threat, queries=50)
    split = get_attack(name, batch_size=5)(mlp, images, Goal.targeted(2), threat, queries=50)
    assert torch.equal(whole.adversarial, split.adversarial)
    assert torch.equal(whole.queries, split.queries)


@pytest.mark.parametrize("name", SCORES)
def test_score_attacks_make_no_backward_pass(mlp, images, name: str) -> None:
    result = get_attack(name)(mlp, images, Goal.untargeted(), _threat(name), queries=30)
    assert (result.backward == 0).all() and torch.equal(result.forward, result.queries)
