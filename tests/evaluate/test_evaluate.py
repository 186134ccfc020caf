"""The worst-case ensemble, the store, the checks and the per-class answers."""

from __future__ import annotations

import dataclasses
import sqlite3
from pathlib import Path

import pytest
import torch

from hoodwink.attacks.threat import ThreatModel
from hoodwink.evaluate import Suite, SuiteAttack, evaluate
from hoodwink.evaluate.classes import dog_claim, group_of, per_group
from hoodwink.evaluate.curve import budget_curve, minimal_curve, parse_eps_list
from hoodwink.evaluate.suite import Evaluation, SampleRecord, get_suite
from hoodwink.images import load_image

EPS = 0.35


def _strip(records):  # type: ignore[no-untyped-def]
    """Records without the PNG paths (which name the store they were written beside)."""
    return [dataclasses.replace(r, png=None) for r in records]


@pytest.fixture(scope="module")
def run(linear_model, digits, tiny_suite, tmp_path_factory):  # type: ignore[no-untyped-def]
    images, labels = digits
    return evaluate(linear_model, (images[:20], labels[:20]), eps=[EPS], suite=tiny_suite,
                    batch_size=20, checks=False,
                    store=tmp_path_factory.mktemp("run") / "evaluate.sqlite")


def test_each_attack_runs_only_on_the_images_still_robust(run) -> None:  # type: ignore[no-untyped-def]
    order = ["apgd-ce", "apgd-t", "square"]
    seen = set()
    for s in run.evaluations[0].samples:
        ran = [c[0] for c in s.costs]
        seen.add(s.broken_by)
        if s.broken_by is None:
            assert ran == order
        else:
            assert ran == order[: order.index(s.broken_by) + 1]
        assert s.forward == 1 + sum(c[1] for c in s.costs)
    assert {"apgd-ce", "apgd-t"} <= seen  # both white-box attacks did some of the work


def test_accuracy_after_each_attack_falls_to_the_robust_accuracy(run) -> None:  # type: ignore[no-untyped-def]
    e = run.evaluations[0]
    after = e.accuracy_after()
    assert [a for a, _ in after] == ["clean", "apgd-ce", "apgd-t", "square"]
    values = [v for _, v in after]
    assert values == sorted(values, reverse=True)
    assert values[0] == e.clean_accuracy == 1.0
    assert values[-1] == e.robust_accuracy < values[1] < 1.0


def test_success_is_judged_against_the_true_labels(linear_model, digits, tiny_suite) -> None:  # type: ignore[no-untyped-def]
    images, labels = digits
    wrong = labels[:10].clone()
    wrong[:5] = (wrong[:5] + 1) % 10  # half the labels are not what the model (rightly) says
    report = evaluate(linear_model, (images[:10], wrong), eps=[0.05], suite=tiny_suite,
                      checks=False)
    e = report.evaluations[0]
    assert e.clean_accuracy == 0.5
    clean_wrong = [s for s in e.samples if s.broken_by == "clean"]
    assert [s.index for s in clean_wrong] == [0, 1, 2, 3, 4]
    assert all(s.costs == () and not s.robust for s in clean_wrong)  # never attacked, not robust
    assert e.robust_accuracy <= 0.5


def test_broken_images_are_saved_and_really_fool_the_model(linear_model, digits, run) -> None:  # type: ignore[no-untyped-def]
    images, _labels = digits
    broken = run.broken()
    assert broken
    for s in broken:
        assert s.png is not None and Path(s.png).is_file()
        adv = load_image(s.png)
        assert int(linear_model(adv[None]).argmax()) == s.adv_pred != s.label
        assert float((adv - images[s.index]).abs().max()) <= EPS + 1e-6
        assert abs(float((adv - images[s.index]).abs().max()) - s.linf) < 1e-6


def test_the_smallest_perturbation_pass_gives_the_whole_curve(linear_model, run) -> None:  # type: ignore[no-untyped-def]
    assert run.minimal is not None and run.minimal.suite.labels == ["deepfool"]
    found = [s for s in run.minimal.samples if s.correct and not s.robust]
    assert found
    for s in found:  # verified 8-bit adversarial images, smaller than the whole box
        adv = load_image(s.png)
        assert int(linear_model(adv[None]).argmax()) == s.adv_pred != s.label
        assert 0 < s.linf < 0.5
    curve = run.minimal_curve()
    values = [p.robust_accuracy for p in curve]
    assert values == sorted(values, reverse=True) and values[0] == 1.0
    at_eps = max(p.robust_accuracy for p in curve if p.eps <= EPS + 1e-9 and p.eps >= EPS - 1e-3)
    assert at_eps <= run.evaluations[0].robust_accuracy  # never above the budget's own answer
    assert any(0 < p.robust_accuracy < 1 for p in curve if p.eps < EPS - 1e-3)  # between budgets


def test_batch_size_does_not_change_any_result(linear_model, digits, tiny_suite, run) -> None:  # type: ignore[no-untyped-def]
    images, labels = digits
    other = evaluate(linear_model, (images[:20], labels[:20]), eps=[EPS], suite=tiny_suite,
                     batch_size=7, checks=False)
    assert _strip(other.evaluations[0].samples) == _strip(run.evaluations[0].samples)


def test_interrupted_run_resumes_to_identical_results(linear_model, digits, tiny_suite, run,
                                                      tmp_path: Path) -> None:
    images, labels = digits
    store = tmp_path / "eval.sqlite"
    calls = []

    def stop_after_first_batch(p) -> None:  # type: ignore[no-untyped-def]
        calls.append(p)
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        evaluate(linear_model, (images[:20], labels[:20]), eps=[EPS], suite=tiny_suite,
                 batch_size=6, store=store, checks=False, progress=stop_after_first_batch)
    with sqlite3.connect(store) as db:
        assert db.execute("SELECT COUNT(*) FROM samples").fetchone()[0] == 6
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    resumed = evaluate(linear_model, (images[:20], labels[:20]), eps=[EPS], suite=tiny_suite,
                       batch_size=6, store=store, checks=False)
    assert resumed.resumed == 6
    assert _strip(resumed.evaluations[0].samples) == _strip(run.evaluations[0].samples)
    again = evaluate(linear_model, (images[:20], labels[:20]), eps=[EPS], suite=tiny_suite,
                     batch_size=6, store=store, checks=False)
    assert again.resumed == 40  # the budget's rows and the smallest-perturbation pass's
    assert again.evaluations[0].samples == resumed.evaluations[0].samples


def test_another_model_or_threat_is_another_run(linear_model, digits, tiny_suite,
                                                 tmp_path: Path) -> None:
    images, labels = digits
    store = tmp_path / "eval.sqlite"
    data = (images[:4], labels[:4])
    options = {"store": store, "checks": False, "minimal": False}
    evaluate(linear_model, data, eps=[EPS], suite=tiny_suite, **options)
    assert evaluate(linear_model, data, eps=[0.3], suite=tiny_suite, **options).resumed == 0
    changed = dataclasses.replace(tiny_suite, attacks=tiny_suite.attacks[:1])
    assert evaluate(linear_model, data, eps=[EPS], suite=changed, **options).resumed == 0
    assert evaluate(linear_model, data, eps=[EPS], suite=tiny_suite, **options).resumed == 4


def test_checks_flag_a_masked_gradient_and_not_an_honest_model(linear_model, masked_model, digits,
                                                                tiny_suite) -> None:
    images, labels = digits
    data = (images[:8], labels[:8])
    honest = evaluate(linear_model, data, eps=[EPS], suite=tiny_suite, check_samples=8)
    assert [f.name for f in honest.raised] == []
    masked = evaluate(masked_model, data, eps=[EPS], suite=tiny_suite, check_samples=8)
    raised = {f.name: f for f in masked.raised}
    assert {"softmax-output", "zero-gradient", "large-eps-not-zero"} <= set(raised)
    assert raised["zero-gradient"].evidence["vanishing"] == 8
    # the masked net is the honest one behind a softmax: its robustness is false
    assert masked.evaluations[0].robust_accuracy > honest.evaluations[0].robust_accuracy


def test_the_single_step_gap_flags_fgsm_only_robustness(linear_model, digits) -> None:  # type: ignore[no-untyped-def]
    from hoodwink.evaluate import checks as C

    images, labels = digits
    threat = ThreatModel("linf", EPS)
    index = torch.arange(10)
    records = tuple(SampleRecord(i, int(labels[i]), int(labels[i]), "apgd-ce", 0, EPS, 1.0, 1, 1, 1)
                    for i in range(10))
    broken_all = Evaluation(threat, get_suite("quick"), records)
    flag = C.check_single_step(linear_model, images[:10], labels[:10], index, [broken_all])
    fgsm = flag.evidence["per_eps"][0]["fgsm_accuracy"]
    assert flag.raised == (fgsm >= 0.5)
    robust = Evaluation(threat, get_suite("quick"),
                        tuple(dataclasses.replace(r, broken_by=None) for r in records))
    assert not C.check_single_step(linear_model, images[:10], labels[:10], index, [robust]).raised


def test_black_box_beating_white_box_is_flagged(digits) -> None:  # type: ignore[no-untyped-def]
    from hoodwink.evaluate import checks as C

    suite = get_suite("quick")
    threat = ThreatModel("linf", EPS)
    rows = (SampleRecord(0, 1, 1, "square", 2, EPS, 1.0, 1, 0, 1),
            SampleRecord(1, 1, 1, None, 1, 0.0, 0.0, 1, 0, 1))
    flag = C.check_black_box([Evaluation(threat, suite, rows)], suite)
    assert flag.raised and flag.evidence["broken_by_black_box"] == {"89.25/255": 1}
    rows = (dataclasses.replace(rows[0], broken_by="apgd-ce"), rows[1])
    assert not C.check_black_box([Evaluation(threat, suite, rows)], suite).raised


def test_accuracy_rising_with_eps_is_flagged() -> None:
    from hoodwink.evaluate import checks as C

    suite = get_suite("quick")

    def at(eps: float, robust: int) -> Evaluation:
        return Evaluation(ThreatModel("linf", eps), suite, tuple(
            SampleRecord(i, 0, 0, None if i < robust else "apgd-ce", 0, 0.0, 0.0, 1, 0, 1)
            for i in range(10)))

    assert C.check_monotone([at(0.1, 2), at(0.2, 6)]).raised
    assert not C.check_monotone([at(0.1, 6), at(0.2, 2)]).raised


def _record(i: int, label: int, broken_by: str | None, linf: float = 0.0) -> SampleRecord:
    return SampleRecord(i, label, label if broken_by != "clean" else 0, broken_by, label, linf,
                        0.0, 1, 0, 1)


def test_you_cant_fool_a_dog_is_answered_plainly() -> None:
    suite = get_suite("quick")
    threat = ThreatModel("linf", 1 / 255)
    dogs = [_record(i, 200, "apgd-ce", 1 / 255) for i in range(4)]
    rest = [_record(4 + i, 388, "apgd-ce" if i < 3 else None, 1 / 255) for i in range(4)]
    claim = dog_claim(Evaluation(threat, suite, tuple(dogs + rest)), 1000)
    assert claim is not None and claim.holds is False
    assert "fooled 4/4 (100%)" in claim.text and "3/4 (75%)" in claim.text and "does not hold" in claim.text
    safe = [dataclasses.replace(d, broken_by=None) for d in dogs]
    assert dog_claim(Evaluation(threat, suite, tuple(safe + rest)), 1000).holds is True  # type: ignore[union-attr]
    assert dog_claim(Evaluation(threat, suite, tuple(dogs)), 10) is None
    groups = {r.name: r for r in per_group(Evaluation(threat, suite, tuple(dogs + rest)), 1000)}
    assert groups["dogs"].fooled == 4 and groups["other mammals"].robust == 1


def test_groups_of_imagenet_classes() -> None:
    assert [group_of(c) for c in (151, 268, 281, 285, 9, 388, 0, 500)] == [
        "dogs", "dogs", "cats", "cats", "birds", "other mammals", "fish", "objects and scenes"]
    assert group_of(3, num_classes=10) is None


def test_curves_from_budgets_and_from_the_smallest_perturbation() -> None:
    suite = get_suite("quick")
    small = Evaluation(ThreatModel("linf", 2 / 255), suite,
                       (_record(0, 1, "clean"), _record(1, 1, "apgd-ce", 1 / 255),
                        _record(2, 1, None), _record(3, 1, None)))
    large = Evaluation(ThreatModel("linf", 4 / 255), suite,
                       (_record(0, 1, "clean"), _record(1, 1, "apgd-ce", 2 / 255),
                        _record(2, 1, "apgd-t", 3 / 255), _record(3, 1, None)))
    assert [(round(p.eps * 255), p.robust_accuracy) for p in budget_curve([large, small])] == [
        (0, 0.75), (2, 0.5), (4, 0.25)]
    curve = {round(p.eps * 255, 6): p.robust_accuracy for p in minimal_curve([small, large])}
    assert curve[0] == 0.75 and curve[1] == 0.5 and curve[3] == 0.25 and curve[4] == 0.25
    assert parse_eps_list("2/255, 1/255,2/255") == (1 / 255, 2 / 255)


def test_suites_pick_up_square_when_registered() -> None:
    from hoodwink.attacks import list_attacks

    names = {a.name for a in list_attacks()}
    for name in ("standard", "quick"):
        suite = get_suite(name)
        assert [a.attack for a in suite.attacks][:2] == ["apgd-ce", "apgd-t"]
        assert ("square" in [a.attack for a in suite.attacks]) == ("square" in names)
        assert bool(suite.notes) == ("square" not in names)
    standard = get_suite("standard")
    assert dict(standard.attacks[1].params) == {"steps": 100, "restarts": 8}  # 9 target classes
    with pytest.raises(ValueError, match="unknown suite"):
        get_suite("strongest")


def test_an_empty_or_wrong_suite_entry_is_refused(linear_model, digits) -> None:  # type: ignore[no-untyped-def]
    from hoodwink.errors import HoodwinkError

    images, labels = digits
    bad = Suite("bad", (SuiteAttack("apgd-ce", (("stepz", 3),)),))
    with pytest.raises(HoodwinkError, match="stepz"):
        evaluate(linear_model, (images[:2], labels[:2]), eps=[EPS], suite=bad, checks=False)


def test_an_attack_that_claims_too_much_is_not_believed(linear_model, digits, tiny_suite,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    from hoodwink.evaluate.suite import SuiteAttack as Entry

    real = Entry.build

    def liar(self: Entry, batch_size: int):  # type: ignore[no-untyped-def]
        attack = real(self, batch_size)

        def run(*args, **kwargs):  # type: ignore[no-untyped-def]
            result = attack(*args, **kwargs)
            return dataclasses.replace(result, success=torch.ones_like(result.success))

        return run

    monkeypatch.setattr(Entry, "build", liar)
    images, labels = digits
    report = evaluate(linear_model, (images[:10], labels[:10]), eps=[0.05], suite=tiny_suite,
                      checks=False)
    assert report.evaluations[0].robust_accuracy == 1.0  # nothing really fooled the model


def test_a_missing_engine_is_refused(linear_model, digits) -> None:  # type: ignore[no-untyped-def]
    images, labels = digits
    with pytest.raises(ValueError, match="engine must be local or ray"):
        evaluate(linear_model, (images[:2], labels[:2]), engine="spark")


def test_classes_never_misclassified_are_not_called_robust() -> None:
    from hoodwink.evaluate.classes import ClassRow, ranked

    rows = [ClassRow("wrong", 2, 0, 0, None), ClassRow("fooled", 2, 2, 0, 1.0),
            ClassRow("fooled late", 2, 2, 0, 3.0), ClassRow("kept", 2, 2, 2, None)]
    most, least = ranked(rows, 2)
    assert [r.name for r in most] == ["kept", "fooled late"]
    assert [r.name for r in least] == ["wrong", "fooled"]


def test_a_query_only_model_gets_the_score_based_attacks(linear_model, digits, tiny_suite) -> None:  # type: ignore[no-untyped-def]
    import numpy as np

    from hoodwink.attacks import QueryModel

    def ask(pixels: np.ndarray) -> np.ndarray:
        x = torch.from_numpy(pixels).float().permute(0, 3, 1, 2) / 255
        return linear_model(x).softmax(dim=1).numpy()

    api = QueryModel(ask, linear_model.labels, input_size=(28, 28), resize=None, channels=1)
    images, labels = digits
    report = evaluate(api, (images[:6], labels[:6]), eps=[EPS], suite=tiny_suite)
    assert report.suite.labels == ["square"] and "apgd-ce, apgd-t skipped" in report.suite.notes[-1]
    assert report.minimal is None
    assert all(c[0] == "square" for s in report.evaluations[0].samples for c in s.costs)
    assert {f.name for f in report.flags if not f.applicable} >= {"zero-gradient", "not-converged"}
