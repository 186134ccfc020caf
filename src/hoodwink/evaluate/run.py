"""``evaluate(model, data)``: how robust is this model, really?

Clean accuracy first, then the worst-case ensemble at every eps, batch by
batch, each finished batch committed to the store (a kill loses at most the
batch in flight; the same call resumes), then the checks against false
robustness, the curves and the per-class table, in one :class:`Report`.
Everything is judged against the **true labels**.

Example:
    >>> report = evaluate(model, "images/", eps=["1/255", "2/255"], suite="quick",
    ...                   store="eval/evaluate.sqlite")             # doctest: +SKIP
    >>> report.evaluations[0].robust_accuracy                       # doctest: +SKIP
    0.0
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from hoodwink.attacks.oracle import model_labels, num_classes
from hoodwink.attacks.threat import ThreatModel
from hoodwink.errors import ParameterError
from hoodwink.evaluate import checks as C
from hoodwink.evaluate.classes import Claim, ClassRow, dog_claim, per_class, per_group, ranked
from hoodwink.evaluate.curve import CurvePoint, budget_curve, minimal_curve, parse_eps_list
from hoodwink.evaluate.data import LabelledData, load_data
from hoodwink.evaluate.store import Store, model_fingerprint, run_key
from hoodwink.evaluate.suite import (
    Evaluation,
    SampleRecord,
    Suite,
    SuiteAttack,
    attack_batch,
    get_suite,
)
from hoodwink.models.classifier import model_input
from hoodwink.models.labels import Labels

#: The minimal-perturbation pass: DeepFool in the threat's norm with no eps bound.
MINIMAL = Suite("minimal", (SuiteAttack("deepfool"),))


@dataclass(frozen=True)
class Progress:
    """What a progress callback is told after each batch."""

    done: int
    total: int
    eps: float
    robust: int
    judged: int
    resumed: int
    stage: str = ""


ProgressFn = Callable[[Progress], None]


@dataclass(frozen=True)
class Report:
    """Everything an evaluation found (plain data; :mod:`hoodwink.viz.evaluate` draws it)."""

    model: str
    data: str
    data_note: str | None
    suite: Suite
    names: Labels
    evaluations: tuple[Evaluation, ...]
    flags: tuple[C.Flag, ...]
    resumed: int = 0
    image_names: tuple[str, ...] = field(default=(), repr=False)
    minimal: Evaluation | None = None

    @property
    def clean_accuracy(self) -> float:
        return self.evaluations[0].clean_accuracy

    def at(self, eps: float) -> Evaluation:
        for e in self.evaluations:
            if abs(e.threat.eps - eps) < 1e-9:
                return e
        raise ParameterError(f"eps {eps:g} was not evaluated")

    @property
    def raised(self) -> list[C.Flag]:
        return [f for f in self.flags if f.raised]

    def curve(self) -> list[CurvePoint]:
        return budget_curve(self.evaluations)

    @property
    def _all(self) -> list[Evaluation]:
        """The budgets' evaluations and the minimal-perturbation pass (for the smallest Linf)."""
        return [*self.evaluations, *([self.minimal] if self.minimal is not None else [])]

    def minimal_curve(self) -> list[CurvePoint]:
        top = max(e.threat.eps for e in self.evaluations)
        return minimal_curve(self._all, top=top)

    def classes(self, evaluation: Evaluation | None = None) -> list[ClassRow]:
        e = evaluation or self.evaluations[0]
        return per_class(e, self.names.names, self._all)

    def groups(self, evaluation: Evaluation | None = None) -> list[ClassRow]:
        e = evaluation or self.evaluations[0]
        return per_group(e, len(self.names), self._all)

    def dog_claims(self) -> list[Claim]:
        return [c for c in (dog_claim(e, len(self.names)) for e in self.evaluations) if c is not None]

    def broken(self, evaluation: Evaluation | None = None) -> list[SampleRecord]:
        """Images an attack fooled (not the clean mistakes), by dataset index."""
        e = evaluation or self.evaluations[0]
        return [s for s in e.samples if s.correct and not s.robust]

    def image_name(self, index: int) -> str:
        return self.image_names[index] if index < len(self.image_names) else f"#{index}"

    def to_dict(self, samples: bool = True) -> dict[str, Any]:
        """The JSON document (``--json`` and ``report.json``)."""
        doc: dict[str, Any] = {
            "judged_against": "true labels",
            "model": self.model, "data": self.data, "data_note": self.data_note,
            "suite": self.suite.to_dict(), "suite_notes": list(self.suite.notes),
            "images": len(self.evaluations[0]), "clean_accuracy": self.clean_accuracy,
            "resumed_rows": self.resumed,
            "evaluations": [e.summary() for e in self.evaluations],
            "curve": [p.to_dict() for p in self.curve()],
            "minimal": None if self.minimal is None else {
                "attack": "deepfool (Linf, 8-bit, verified)",
                "broken": sum(1 for s in self.minimal.samples if s.correct and not s.robust),
                "median_linf_255": self.minimal.summary()["median_linf_255"]},
            "minimal_curve": [p.to_dict() for p in self.minimal_curve()],
            "flags": [f.to_dict() for f in self.flags],
            "raised": [f.name for f in self.raised],
        }
        per_eps = []
        for e in self.evaluations:
            rows = self.classes(e)
            most, least = ranked(rows)
            claim = dog_claim(e, len(self.names))
            per_eps.append({
                "eps_255": round(e.threat.eps * 255, 4),
                "classes": [r.to_dict() for r in rows],
                "groups": [r.to_dict() for r in self.groups(e)],
                "most_robust": [r.name for r in most], "least_robust": [r.name for r in least],
                "dog_claim": None if claim is None else claim.to_dict(),
            })
        doc["per_class"] = per_eps
        if samples:
            doc["samples"] = [
                {"eps_255": round(e.threat.eps * 255, 4),
                 "rows": [{**s.to_dict(), "name": self.image_name(s.index),
                           "label_name": self.names.name(s.label) if s.label < len(self.names) else str(s.label),
                           "adv_name": self.names.name(s.adv_pred) if s.adv_pred < len(self.names) else str(s.adv_pred)}
                          for s in e.samples]}
                for e in self.evaluations]
        return doc


def _prepare(model: Any, data: LabelledData, indices: Sequence[int]) -> torch.Tensor:
    return torch.cat([model_input(model, data.image(i)) for i in indices])


def evaluate(model: Any, data: Any, *, eps: Sequence[float | str] | str | float = (8 / 255,),
             norm: str = "linf", suite: str | Suite = "standard", batch_size: int = 32,
             store: str | os.PathLike[str] | Store | None = None,
             images: str | os.PathLike[str] | None = None, checks: bool = True,
             check_samples: int = 16, limit: int | None = None,
             progress: ProgressFn | None = None, engine: str = "local", workers: int = 2,
             address: str | None = None, minimal: bool = True) -> Report:
    """Evaluate ``model`` on labelled ``data`` with a worst-case ensemble at each ``eps``.

    Args:
        model: a classifier (``hoodwink.load_model()``, a saved digits net, any wrapped module).
        data: a folder, a CSV, an ImageSet, tensors or a Dataset (:func:`load_data`).
        eps: radii in pixel units (``"1/255"``, ``0.3``); one run per eps.
        norm: ``linf`` or ``l2``.
        suite: ``standard``, ``quick`` or a :class:`Suite`.
        batch_size: images per committed batch (and per attack batch).
        store: the SQLite file to commit to and resume from (None: in memory).
        images: where adversarial PNGs go (default beside the store).
        checks: run the checks against false robustness.
        check_samples: images the costlier checks look at.
        limit: evaluate only the first ``limit`` images.
        progress: called after every batch.
        minimal: also look for each image's smallest Linf perturbation with DeepFool
            (one pass, any eps): the curve over the whole range and the per-class medians.
        engine: ``local``, or ``ray`` to shard the batches over a Ray actor pool
            (:mod:`hoodwink.evaluate.ray_engine`); the rows are the same.
        workers: Ray actors (each loads the model once); address: a Ray cluster
            to connect to (default: start Ray here with ``workers`` CPUs).
    """
    if engine not in ("local", "ray"):
        raise ParameterError(f"engine must be local or ray, not {engine!r}")
    if workers < 1:
        raise ParameterError(f"workers must be at least 1, not {workers}")
    if batch_size < 1:
        raise ParameterError(f"batch_size must be at least 1, not {batch_size}")
    labels = getattr(model, "labels", None)
    labels = labels if isinstance(labels, Labels) else None
    data = data if isinstance(data, LabelledData) else load_data(data, labels=labels, limit=limit)
    the_suite = suite if isinstance(suite, Suite) else get_suite(suite)
    if not isinstance(model, nn.Module):  # query-only: what needs gradients cannot run
        kept = tuple(a for a in the_suite.attacks if a.kind != "gradient")
        if not kept:
            raise ParameterError(f"the {the_suite.name} suite has no attack for a query-only model")
        if len(kept) < len(the_suite.attacks):
            skipped = ", ".join(a.label for a in the_suite.attacks if a.kind == "gradient")
            note = f"query-only model: {skipped} skipped (they need gradients)"
            the_suite = Suite(the_suite.name, kept, (*the_suite.notes, note))
    radii = parse_eps_list([float(eps)] if isinstance(eps, (int, float)) else eps)
    threats = [ThreatModel(norm, e) for e in radii]
    owned = not isinstance(store, Store)
    db = store if isinstance(store, Store) else Store(store, images)
    try:
        return _evaluate(model, data, the_suite, threats, batch_size, db, checks, check_samples,
                         progress, engine, workers, address, minimal)
    finally:
        if owned:
            db.close()


def _evaluate(model: Any, data: LabelledData, suite: Suite, threats: list[ThreatModel],
              batch_size: int, db: Store, checks: bool, check_samples: int,
              progress: ProgressFn | None, engine: str, workers: int,
              address: str | None, minimal: bool) -> Report:
    model_hash = model_fingerprint(model)
    n = len(data)
    runs = [(suite, t) for t in threats]
    if minimal and isinstance(model, nn.Module):
        runs.append((MINIMAL, ThreatModel(threats[0].norm, 1.0 if threats[0].norm == "linf"
                                          else float(data.image(0).numel()) ** 0.5)))
    total = n * len(runs)
    keys = [run_key(model_hash, data.fingerprint, s, t) for s, t in runs]
    done_before = [db.completed(k) for k in keys]
    resumed = sum(len(d) for d in done_before)
    finished = resumed
    evaluations = []
    for (run_suite, threat), key, done in zip(runs, keys, done_before):
        db.open_run(key, model=model_hash, data=data.fingerprint, suite=run_suite, threat=threat)
        records = dict(done)
        todo = [i for i in range(n) if i not in records]
        stage = ("smallest perturbation" if run_suite is MINIMAL
                 else f"eps {threat.eps * 255:g}/255")
        if engine == "ray":
            from hoodwink.evaluate.ray_engine import ray_batches

            batches = ray_batches(model, data, run_suite, threat, todo, batch_size,
                                  workers=workers, address=address)
        else:
            batches = _local_batches(model, data, run_suite, threat, todo, batch_size)
        for rows, adversarial in batches:
            kept = [_keep_png(db, key, r, adversarial[j]) for j, r in enumerate(rows)]
            db.commit(key, kept)
            records.update((r.index, r) for r in kept)
            finished += len(rows)
            if progress is not None:
                judged = list(records.values())
                progress(Progress(finished, total, threat.eps, sum(r.robust for r in judged),
                                  len(judged), resumed, stage))
        if progress is not None and not todo:
            judged = list(records.values())
            progress(Progress(finished, total, threat.eps, sum(r.robust for r in judged),
                              len(judged), resumed, stage))
        evaluations.append(Evaluation(threat, run_suite, tuple(records[i] for i in range(n)), key))
    smallest = evaluations.pop() if len(evaluations) > len(threats) else None
    flags = _checks(model, data, suite, evaluations, db, batch_size, check_samples) if checks else ()
    names = model_labels(model, num_classes(model) or _classes_seen(evaluations))
    return Report(str(getattr(model, "name", type(model).__name__)), data.source, data.note, suite,
                  names, tuple(evaluations), tuple(flags), resumed, data.names, smallest)


def _local_batches(model: Any, data: LabelledData, suite: Suite, threat: ThreatModel,
                   todo: Sequence[int], batch_size: int
                   ) -> Iterator[tuple[Sequence[SampleRecord], torch.Tensor]]:
    """The local engine: batches of ``batch_size`` dataset indices, in order."""
    for start in range(0, len(todo), batch_size):
        chunk = list(todo[start:start + batch_size])
        outcome = attack_batch(model, _prepare(model, data, chunk), data.labels[chunk],
                               torch.tensor(chunk), suite, threat, batch_size=batch_size)
        yield outcome.records, outcome.adversarial


def _classes_seen(evaluations: Sequence[Evaluation]) -> int:
    return 1 + max(max(s.label, s.clean_pred, s.adv_pred) for e in evaluations for s in e.samples)


def _keep_png(db: Store, key: str, record: SampleRecord, adversarial: torch.Tensor) -> SampleRecord:
    """Save the adversarial PNG of an image an attack broke; the record then names it."""
    if not record.correct or record.robust:
        return record
    path = db.image_path(key, record.index)
    if path is None:
        return record
    from dataclasses import replace

    from hoodwink.images import save_image

    save_image(adversarial.detach().cpu(), path)
    return replace(record, png=str(path))


def _checks(model: Any, data: LabelledData, suite: Suite, evaluations: list[Evaluation],
            db: Store, batch_size: int, limit: int) -> list[C.Flag]:
    """The checks, stored under a key of all runs (a resumed run does not redo them)."""
    key = hashlib.sha256(("checks:1:" + ",".join(e.key for e in evaluations) + f":{limit}")
                         .encode()).hexdigest()
    stored = db.check(key, "all")
    if stored is not None:
        return [C.Flag.from_dict(d) for d in stored["flags"]]
    index = torch.arange(min(limit, len(data)))
    images = _prepare(model, data, index.tolist())
    labels = data.labels[index]
    flags = [C.check_softmax(model, images), C.check_randomness(model, images),
             C.check_zero_gradient(model, images, labels),
             C.check_black_box(evaluations, suite), C.check_monotone(evaluations)]
    worst = max(evaluations, key=lambda e: (e.robust_accuracy, e.threat.eps))
    flags.append(C.check_more_steps(model, images, labels, index, worst, suite,
                                    limit=limit, batch_size=batch_size))
    flags.append(C.check_large_eps(model, images, labels, index, evaluations[0].threat.norm,
                                   batch_size=batch_size))
    flags.append(C.check_single_step(model, images, labels, index, evaluations,
                                     batch_size=batch_size))
    db.save_check(key, "all", {"flags": [f.to_dict() for f in flags]})
    return flags


__all__ = ["Progress", "Report", "evaluate"]
