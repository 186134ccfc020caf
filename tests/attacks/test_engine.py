"""The engine: the model oracle, the one attack contract, results as data."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import pytest
import torch

from hoodwink.attacks import (
    APGDT,
    ATTACKS,
    AttackBase,
    AttackResult,
    Batch,
    Goal,
    GradientAttack,
    Oracle,
    Outcome,
    QueryBudgetError,
    QueryModel,
    ThreatModel,
    get_attack,
    list_attacks,
)
from hoodwink.attacks.engine import Attack, Recorder
from hoodwink.errors import ModelError, ParameterError
from hoodwink.models import Labels

GRADIENT = [a.name for a in list_attacks() if a.kind == "gradient"]


def _goals(n: int, top: int = 2) -> dict[str, Goal]:
    """Every kind of goal; ``top`` is a class the model predicts for some images."""
    return {
        "untargeted": Goal.untargeted(),
        "targeted": Goal.targeted(3),
        "targeted-per-sample": Goal.targeted([i % 10 for i in range(n)]),
        "less_like": Goal.less_like(top),
        "more_like": Goal.more_like(5),
    }


# --- the oracle ---------------------------------------------------------------------


def test_oracle_counts_per_sample_and_refuses_the_query_past_the_budget(mlp, images) -> None:
    oracle = Oracle(mlp, 4, queries=3)
    x = images[:4]
    oracle.probabilities(x, torch.arange(4))
    oracle.logits(x[:2], torch.tensor([0, 2]))
    ev = oracle.evaluate(x[:1], torch.tensor([3]), grad=True)
    ev.gradient(lambda z: z[:, 0])
    assert oracle.queries.tolist() == [2, 1, 2, 2]
    assert oracle.forward.tolist() == [2, 1, 2, 2]
    assert oracle.backward.tolist() == [0, 0, 0, 1]
    oracle.labels(x[:2], torch.tensor([0, 1]))          # sample 0 reaches its budget of 3
    with pytest.raises(QueryBudgetError, match="sample 0"):
        oracle.labels(x[:2], torch.tensor([1, 0]))
    assert oracle.queries.tolist() == [3, 2, 2, 2]      # the refused query was not made
    assert oracle.left().tolist() == [0, 1, 1, 1]


def test_a_view_shares_the_counters(mlp, images) -> None:
    oracle = Oracle(mlp, 6)
    view = oracle.view(2, 5)
    view.probabilities(images[:3], torch.tensor([0, 2]))
    assert oracle.queries.tolist() == [0, 0, 1, 0, 1, 0]


def _query_model(mlp, output: str = "probabilities") -> tuple[QueryModel, list[np.ndarray]]:
    seen: list[np.ndarray] = []

    def ask(pixels: np.ndarray) -> np.ndarray:
        seen.append(pixels)
        x = torch.from_numpy(pixels).permute(0, 3, 1, 2).float() / 255
        with torch.no_grad():
            probs = mlp(x).softmax(1)
        return probs.argmax(1).numpy() if output == "labels" else probs.numpy()

    return QueryModel(ask, mlp.labels, output=output, input_size=(4, 4), resize=None), seen


def test_a_query_only_model_gets_uint8_images_and_no_gradient_is_asked(mlp, images) -> None:
    model, seen = _query_model(mlp)
    oracle = Oracle(model, 2)
    probs = oracle.probabilities(images[:2], torch.arange(2))
    assert seen[0].dtype == np.uint8 and seen[0].shape == (2, 4, 4, 3)
    with torch.no_grad():
        assert torch.allclose(probs, mlp(images[:2]).softmax(1), atol=1e-6)
    with pytest.raises(ModelError, match="can only be queried"):
        oracle.evaluate(images[:2], torch.arange(2), grad=True)
    with pytest.raises(ModelError, match="can only be queried"):
        get_attack("pgd")(model, images[:2])
    labels_only, _ = _query_model(mlp, "labels")
    with pytest.raises(ModelError, match="labels only"):
        Oracle(labels_only, 2).probabilities(images[:2], torch.arange(2))
    assert Oracle(labels_only, 2).labels(images[:2], torch.arange(2)).tolist() == \
        probs.argmax(1).tolist()


def test_a_query_model_that_answers_wrongly_is_one_clear_error(mlp, images) -> None:
    bad = QueryModel(lambda x: np.zeros((len(x), 3)), mlp.labels, input_size=(4, 4), resize=None,
                     name="api")
    with pytest.raises(ModelError, match="api: expected probabilities of shape"):
        Oracle(bad, 1).probabilities(images[:1], torch.arange(1))


# --- the contract: an attack needs only its step ------------------------------------


@dataclass(frozen=True)
class RandomSearch(AttackBase):
    """A query-based attack written against the contract: only ``run``."""

    name = "random-search-test"
    norms = ("linf",)
    tries: int = 1000
    batch_size: int = 4
    seed: int = 0
    mind_budget: bool = True

    def run(self, batch: Batch) -> Outcome:
        oracle, clean, threat = batch.oracle, batch.clean, batch.threat
        rows = batch.rows
        probs = oracle.probabilities(clean, rows)
        labels = batch.goal.labels(probs.log())
        best, best_probs = clean.clone(), probs.clone()
        success = batch.goal.reached_probs(probs, labels)
        g = torch.Generator().manual_seed(self.seed)
        for _ in range(self.tries):
            todo = rows[~success & ((oracle.left(rows) > 0) | (not self.mind_budget))]
            if todo.numel() == 0:
                break
            sign = torch.randint(0, 2, clean[todo].shape, generator=g).float() * 2 - 1
            q = threat.project(clean[todo] + threat.eps * sign, clean[todo])
            p = oracle.probabilities(q, todo)
            ok = batch.goal.reached_probs(p, labels[todo])
            best[todo[ok]], best_probs[todo[ok]], success[todo[ok]] = q[ok], p[ok], True
        return Outcome(best, success, best_probs, probs, labels, oracle.queries.clone())


def test_a_query_attack_needs_only_its_run_and_the_budget_is_exact(mlp, images) -> None:
    model, seen = _query_model(mlp)
    attack = RandomSearch()
    assert isinstance(attack, Attack)
    threat = ThreatModel("linf", 2 / 255)
    result = attack(model, images, Goal.targeted(7), threat, queries=25)
    assert int(result.queries.max()) <= 25
    assert (result.queries[~result.success] == 25).all()  # the unbroken ones spent it all
    assert sum(len(s) for s in seen) == int(result.queries.sum())  # every row was counted
    assert all(s.dtype == np.uint8 for s in seen)
    assert threat.contains(result.adversarial, result.original).all()
    assert result.success.any() and not result.success.all()
    with torch.no_grad():  # judged on the images returned
        assert (mlp(result.adversarial).argmax(1)[result.success] == 7).all()
    with pytest.raises(QueryBudgetError):  # an attack that ignores the budget is stopped
        dataclasses.replace(attack, mind_budget=False)(model, images, Goal.targeted(7), threat,
                                                     queries=2)


@dataclass(frozen=True)
class Sign(GradientAttack):
    """A gradient attack written against the contract: only its step."""

    def update(self, x, grad, *, loss, state, step, clean, threat, step_size):  # type: ignore[no-untyped-def]
        return x + step_size * grad.sign()


def test_a_gradient_attack_needs_only_its_step(mlp, images) -> None:
    result = Sign(steps=20, step_size=1 / 255)(mlp, images, Goal.targeted(7), ThreatModel("linf", 0.1))
    assert result.success.float().mean() > 0.5
    assert int(result.forward.sum()) == int(result.queries.sum()) > 0


# --- the lean training path is a mode of the same loop ----------------------------------


#: Fewer steps for the attacks whose defaults take seconds here (the property does not need more).
_FEW: dict[str, dict[str, int]] = {
    "cw-l2": {"steps": 20, "search_steps": 2}, "hopskipjump": {"steps": 3, "init_evals": 20},
    "boundary": {"steps": 30, "init_tries": 20}, "nes": {"steps": 20, "samples": 10},
    "simba": {"steps": 200}, "simba-dct": {"steps": 200}, "square": {"steps": 100},
    "apgd-ce": {"steps": 20}, "apgd-dlr": {"steps": 20}, "apgd-t": {"steps": 20},
}


@pytest.mark.parametrize("name", sorted(a.name for a in list_attacks()))
@pytest.mark.parametrize("goal_name", list(_goals(12)))
def test_perturb_is_the_call_in_lean_mode(mlp, images, name: str, goal_name: str) -> None:
    info = ATTACKS.get(name)
    with torch.no_grad():
        top = int(mlp(images).argmax(1).mode().values)
    goal = _goals(len(images), top)[goal_name]
    norm = "linf" if "linf" in info.norms else "l2"
    threat = ThreatModel(norm, 0.15 if norm == "linf" else 1.5, quantize=False)
    attack = get_attack(name, **_FEW.get(name, {}))
    lean = attack.perturb(mlp, images, goal, threat)
    same = {"early_stop": False, "record": False, "restarts": 0} if isinstance(attack, GradientAttack) \
        else {"record": False}
    full = dataclasses.replace(attack, **same)(mlp, images, goal, threat)  # type: ignore[type-var]
    assert torch.equal(lean, full.adversarial)
    assert not torch.equal(lean, images)                   # it moved pixels ...
    with torch.no_grad():                                   # ... and mostly reached the goal
        reached = goal.reached(mlp(lean), labels=full.goal_classes)
    assert reached.float().mean() >= 0.5


def test_lean_apgd_dlr_reaches_a_named_target(mlp, images) -> None:
    """The old lean path invented all-zero clean logits and moved no pixel here."""
    adv = get_attack("apgd-dlr").perturb(mlp, images[:8], Goal.targeted(0),
                                        ThreatModel("linf", 0.3))
    with torch.no_grad():
        assert (mlp(adv).argmax(1) == 0).sum() >= 6


# --- restarts, seeds and sharding ------------------------------------------------------


def test_apgd_t_aims_each_restart_at_the_next_class(make_linear) -> None:
    """Class 1 is second most likely but cannot be raised; class 2 can. Run 0 aims at
    class 1 and fails; only a restart that aims at class 2 succeeds."""
    d = 48
    w = torch.zeros(5, d)
    w[2] = 2.0
    b = torch.tensor([10.0, 9.0, 8.5 - 2.0 * 24, 0.0, 0.0])
    model = make_linear(w, b)
    x = torch.full((1, 3, 4, 4), 0.5)
    threat = ThreatModel("linf", 8 / 255)
    once = APGDT(steps=20, restarts=0)(model, x, Goal.untargeted(), threat)
    twice = APGDT(steps=20, restarts=1)(model, x, Goal.untargeted(), threat)
    assert not once.success.any() and twice.success.all()
    assert int(twice.adversarial_probabilities.argmax(1)) == 2


def test_a_shard_gets_the_random_starts_of_the_whole_dataset(mlp, images) -> None:
    attack = get_attack("pgd", steps=3, seed=5)
    threat = ThreatModel("linf", 4 / 255)
    whole = attack(mlp, images, Goal.untargeted(), threat)
    shard = attack(mlp, images[6:], Goal.untargeted(), threat, index=torch.arange(6, 12))
    assert torch.equal(shard.adversarial, whole.adversarial[6:])
    assert shard.index.tolist() == list(range(6, 12))
    other = attack(mlp, images[6:], Goal.untargeted(), threat)  # positions 0..5: other starts
    assert not torch.equal(other.adversarial, whole.adversarial[6:])
    with pytest.raises(ParameterError, match="index"):
        attack(mlp, images[6:], index=torch.arange(3))


class Overshoot(torch.nn.Module):
    """Class 1's logit peaks at a mean pixel of 0.51: from 0.5, a step of 8/255 along
    its gradient overshoots the peak, so its probability falls."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = x.flatten(1).mean(1)
        return torch.stack([torch.full_like(s, 5.0), -1e4 * (s - 0.51) ** 2], dim=1)


def test_one_step_is_taken_and_reported_even_when_the_goal_class_falls() -> None:
    """`trick --steps 1`: one step of the step size, whatever it did to the goal."""
    from hoodwink.models import Classifier

    model = Classifier(Overshoot(), Labels.from_names("ab"), input_size=(4, 4), mean=(0.0,) * 3,
                       std=(1.0,) * 3, resize=None)
    x = torch.full((1, 3, 4, 4), 0.5)
    result = get_attack("bim", steps=1, step_size=8 / 255)(model, x, Goal.more_like(1),
                                                          ThreatModel("linf", 8 / 255))
    assert float(result.linf[0]) == pytest.approx(8 / 255)
    assert int(result.steps[0]) == 1 and not result.success[0]
    p = result.trajectory.probability(1)[:, 0] if result.trajectory is not None else None
    assert p is not None and float(p[1]) < float(p[0])  # it fell, and the step is shown
    assert float(result.adversarial_probabilities[0, 1]) == pytest.approx(float(p[1]))


# --- results are data ---------------------------------------------------------------


def test_selection_keeps_the_goal_of_the_samples_selected(mlp, images) -> None:
    goal = Goal.targeted([i % 10 for i in range(12)])
    result = get_attack("bim", steps=5)(mlp, images, goal, ThreatModel("linf", 4 / 255))
    assert result[4].goal.classes == (4,)
    assert result[2:5].goal.classes == (2, 3, 4)
    mask = torch.zeros(12, dtype=torch.bool)
    mask[[1, 7]] = True
    picked = result[mask]
    assert picked.goal.classes == (1, 7) and len(picked) == 2
    assert torch.equal(picked.adversarial, result.adversarial[[1, 7]])
    assert picked.index.tolist() == [1, 7]
    assert picked.trajectory is not None and len(picked.trajectory) == 2
    joined = AttackResult.concat([result[:5], result[5:]])
    for name in ("adversarial", "success", "forward", "queries", "index", "goal_classes"):
        assert torch.equal(getattr(joined, name), getattr(result, name))
    assert joined.goal == result.goal


def test_a_result_survives_save_and_load(mlp, images, tmp_path) -> None:
    result = get_attack("pgd", steps=4)(mlp, images[:5], Goal.targeted([1, 2, 3, 4, 5]),
                                        ThreatModel("l2", 0.5))
    path = result.save(tmp_path / "run.safetensors")
    back = AttackResult.load(path)
    for name in ("original", "adversarial", "success", "l2", "forward", "backward", "queries",
                 "steps", "index", "clean_probabilities"):
        assert torch.equal(getattr(back, name), getattr(result, name))
    assert (back.goal, back.threat, back.attack) == (result.goal, result.threat, result.attack)
    assert back.params["steps"] == 4 and back.names.name(3) == result.names.name(3)
    assert back.trajectory is not None and result.trajectory is not None
    assert torch.equal(back.trajectory.top1, result.trajectory.top1)
    (tmp_path / "junk.safetensors").write_bytes(b"not a result")
    with pytest.raises(Exception, match="not an attack result"):
        AttackResult.load(tmp_path / "junk.safetensors")


def test_every_attack_is_registered_once_with_its_norms() -> None:
    for info in list_attacks():
        assert info.cls.name == info.name and info.cls.norms == info.norms
        attack = get_attack(info.name)
        assert isinstance(attack, Attack)
    with pytest.raises(ParameterError, match="did you mean 'pgd'"):
        get_attack("pgdd")


def test_the_recorder_keeps_nothing_when_disabled() -> None:
    recorder = Recorder(5, 3, 10, torch.device("cpu"), enabled=False)
    recorder(0, torch.arange(3), torch.rand(3, 10), torch.zeros(3), torch.zeros(3))
    assert recorder.trajectory(torch.zeros(3, dtype=torch.long)) is None


def test_batch_size_true_is_not_a_batch_size() -> None:
    with pytest.raises(ParameterError, match="batch_size"):
        get_attack("pgd", batch_size=True)
    with pytest.raises(ParameterError, match="steps"):
        get_attack("apgd-ce", steps=2.5)


def test_labels_make_their_queries_with_their_own_model(mlp) -> None:
    model, _ = _query_model(mlp)
    assert isinstance(model.labels, Labels)


def test_every_step_is_streamed_with_its_image_and_global_index(mlp, images) -> None:
    steps: list = []
    attack = get_attack("pgd", steps=4, restarts=1, batch_size=5)
    result = attack(mlp, images, Goal.targeted(7), ThreatModel("linf", 2 / 255),
                    index=torch.arange(100, 112), on_step=steps.append)
    assert steps and {int(i) for s in steps for i in s.index} == set(range(100, 112))
    for s in steps:
        assert s.images is not None and s.images.shape[0] == len(s.index)
        assert ThreatModel("linf", 2 / 255).contains(
            s.images, result.original[s.index - 100]).all()
    # the last step streamed for a fooled image is the image returned
    for i in result.success.nonzero().flatten().tolist():
        last = [s for s in steps if 100 + i in s.index.tolist()][-1]
        k = last.index.tolist().index(100 + i)
        assert torch.equal(last.images[k], result.adversarial[i])


@pytest.mark.parametrize("name", sorted(a.name for a in list_attacks()))
def test_every_attack_streams_its_steps_with_global_indices(mlp, images, name: str) -> None:
    """The contract: ``on_step`` hears every attack (the black-box ones once kept their steps
    to themselves), with the global index of each image."""
    info = ATTACKS.get(name)
    norm = "linf" if "linf" in info.norms else "l2"
    threat = ThreatModel(norm, 0.15 if norm == "linf" else 1.5)
    steps: list = []
    result = get_attack(name, **_FEW.get(name, {}))(mlp, images[:4], Goal.untargeted(), threat,
                                                    index=torch.arange(40, 44), queries=300,
                                                    on_step=steps.append)
    assert steps, f"{name} streamed no step"
    assert {int(i) for s in steps for i in s.index} == set(range(40, 44))
    assert {s.row for s in steps} >= {0} and all(s.probabilities.shape[0] == len(s.index) for s in steps)
    assert len(result) == 4


def test_a_listener_can_stop_an_attack(mlp, images) -> None:
    class Stop(Exception):
        pass

    def stop(step) -> None:  # type: ignore[no-untyped-def]
        if step.row == 2:
            raise Stop

    with pytest.raises(Stop):
        get_attack("bim", steps=10)(mlp, images, Goal.targeted(7), on_step=stop)


def test_fewer_steps_are_steps_of_the_usual_size(mlp, images) -> None:
    """`trick(..., steps=1)` is one step of bim's 1/255, not one step as large as 20 would take."""
    from hoodwink.attacks import trick

    with torch.no_grad():
        unlikely = int(mlp(images[:1]).argmin())
    one = trick(mlp, images[0], more_like=unlikely, steps=1, eps="16/255")
    assert float(one.linf[0]) == pytest.approx(1 / 255, abs=1e-6) and not one.success[0]
    pgd = trick(mlp, images[0], more_like=unlikely, attack="pgd", steps=2, eps="16/255",
                random_start=False)
    assert float(pgd.linf[0]) <= 2 * 2.5 * (16 / 255) / 20 + 1e-6  # pgd's usual 2.5 eps / 20


def test_predict_asks_a_query_only_model_through_the_oracle(mlp, images) -> None:
    from hoodwink.predict import predict

    model, seen = _query_model(mlp)
    told = predict(model, [images[0]], top=1)[0].top1
    with torch.no_grad():
        assert told.index == int(mlp(images[:1]).argmax())
    assert seen[0].dtype == np.uint8
    labels_only, _ = _query_model(mlp, "labels")
    said = predict(labels_only, [images[0]], top=1)[0].top1
    assert (said.index, said.probability) == (told.index, 1.0)
