"""One attack on many images, committed batch by batch: what ``hoodwink attack`` runs.

Each batch is attacked, its adversarial files are written (atomically), then its
rows are committed to the :class:`~hoodwink.evaluate.store.Store` under a run key
that hashes the model and every option that changes the outputs. A rerun finds
the rows whose input (a SHA-256 of the decoded pixels) and output file are still
there and attacks only the rest. Batches keep their places and seeds follow each
image's global index, so the rows equal an uninterrupted run's.

Untargeted attacks are judged against the true labels when the inputs carry them
(file names that start with the class index, or one folder of class sub-folders,
read by :mod:`hoodwink.evaluate.data`), else against the clean predictions. An
image the model already gets wrong is a success with no perturbation ("already
wrong"), as RobustBench counts it.

Example:
    >>> find_labels(["388_panda.png", "12_x.png"], classes=1000).labels
    (388, 12)
    >>> find_labels(["388_panda.png", "cat.png"], classes=1000).problem
    'cat.png: no true label (its name does not start with a class index, like 388_panda.png)'
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from hoodwink.attacks.goals import Goal
from hoodwink.attacks.oracle import model_labels
from hoodwink.attacks.result import AttackResult
from hoodwink.attacks.threat import ThreatModel
from hoodwink.attacks.watch import QueryMeter
from hoodwink.errors import ParameterError
from hoodwink.evaluate.data import file_label
from hoodwink.evaluate.store import Store
from hoodwink.images import NamedImage

#: Bump when the meaning of a stored row changes: old rows are then not reused.
SCHEMA = 1

AGAINST = ("auto", "labels", "predictions")

#: What success was judged against, as the output says it.
LABELS_FROM = {"file names": "true labels (file names)", "class folders": "true labels (class folders)"}
PREDICTIONS = "the model's predictions (no labels)"
TARGET = "the target class"


@dataclass(frozen=True)
class FoundLabels:
    """The true class of every input, or the first reason there is none."""

    labels: tuple[int, ...] | None
    source: str = "file names"
    problem: str | None = None


def find_labels(names: Sequence[str], *, classes: int,
                folder: dict[str, int] | None = None) -> FoundLabels:
    """True labels from file names (``388_panda.png``) or, given ``folder`` (path ->
    class, from a folder of class sub-folders), from there; every one in ``range(classes)``."""
    source = "file names" if folder is None else "class folders"
    labels = []
    for name in names:
        label = (None if name.startswith(("http://", "https://")) else file_label(name)) \
            if folder is None else folder.get(name)
        if label is None:
            return FoundLabels(None, source, f"{name}: no true label (its name does not start "
                                             "with a class index, like 388_panda.png)")
        if label >= classes:
            return FoundLabels(None, source, f"{name}: class {label} is out of range: the model "
                                             f"has {classes} classes")
        labels.append(label)
    return FoundLabels(tuple(labels), source)


def judged_against(against: str, found: FoundLabels, *, targeted: bool) -> str:
    """What success is judged against (``"true labels (file names)"`` ...), checked.

    Raises:
        ParameterError: ``against`` is unknown, ``labels`` without labels, or not
            ``auto`` with a target.
    """
    if against not in AGAINST:
        raise ParameterError(f"--against must be one of {', '.join(AGAINST)}, not {against!r}")
    if targeted:
        if against != "auto":
            raise ParameterError(f"--against {against} is for untargeted attacks: --into is "
                                 "judged against the target class")
        return TARGET
    if against == "labels" and found.labels is None:
        raise ParameterError(f"--against labels: {found.problem}")
    if against == "predictions" or found.labels is None:
        return PREDICTIONS
    return LABELS_FROM[found.source]


def input_hash(pixels: torch.Tensor) -> str:
    """SHA-256 hex of decoded pixels (their shape and float32 values)."""
    t = pixels.detach().float().cpu().contiguous()
    digest = hashlib.sha256(str(tuple(t.shape)).encode())
    digest.update(t.numpy().tobytes())
    return digest.hexdigest()


def run_key(model: str, options: dict[str, Any]) -> str:
    """The key of one attack run: a hash of the model fingerprint and ``options``."""
    doc = {"schema": SCHEMA, "kind": "attack", "model": model, "options": options}
    return hashlib.sha256(json.dumps(doc, sort_keys=True, default=str).encode()).hexdigest()


def mark_already_wrong(result: AttackResult) -> tuple[AttackResult, torch.Tensor]:
    """Images whose clean top-1 already is not their goal class (untargeted against labels)
    become successes with no perturbation: the clean image, its clean predictions, 0 steps.
    The passes spent stay counted. Returns the result and the (N,) mask."""
    wrong = result.clean_probabilities.argmax(dim=1) != result.goal_classes
    if not bool(wrong.any()):
        return result, wrong.cpu()
    image = wrong.view(-1, *([1] * (result.original.dim() - 1)))
    fixed = AttackResult.build(
        attack=result.attack, params=result.params, threat=result.threat, goal=result.goal,
        names=result.names, original=result.original,
        adversarial=torch.where(image, result.original, result.adversarial),
        goal_classes=result.goal_classes, success=result.success | wrong,
        clean_probabilities=result.clean_probabilities,
        adversarial_probabilities=torch.where(wrong[:, None], result.clean_probabilities,
                                              result.adversarial_probabilities),
        forward=result.forward, backward=result.backward, queries=result.queries,
        steps=torch.where(wrong, torch.zeros_like(result.steps), result.steps),
        index=result.index, trajectory=result.trajectory)
    return fixed, wrong.cpu()


Finish = Callable[[AttackResult, list[Path]], tuple[AttackResult, list[dict[str, Any]]]]
Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class AttackRun:
    """The rows of all images (by index), and how many were already in the store."""

    rows: tuple[dict[str, Any], ...]
    resumed: int


def attack_images(model: Any, attack: Any, images: Sequence[NamedImage], outs: Sequence[Path],
                  threat: ThreatModel | None, *, store: Store, key: str, finish: Finish,
                  labels: Sequence[int] | None = None, target: int | None = None,
                  queries: int | None = None, batch_size: int = 16,
                  progress: Progress | None = None, meter: QueryMeter | None = None) -> AttackRun:
    """Attack ``images`` batch by batch, resuming from the rows of run ``key`` in ``store``.

    Args:
        model: what the attack runs against (a classifier, FullSize, EOT).
        attack: the attack; threat: its threat (None: the attack's own).
        outs: one output file per image; ``finish(result, paths)`` writes them and
            returns the result judged on what was written and extra JSON per image.
        labels: the true label of every image (untargeted against labels), or None;
            target: the class of a targeted attack (labels are then ignored).
        progress: called with (images done, queries spent) after each batch.
        meter: a :class:`~hoodwink.attacks.watch.QueryMeter`, to read the queries spent
            while a batch runs.
    """
    n = len(images)
    hashes = [input_hash(im.pixels) for im in images]
    against = labels is not None and target is None
    truth = [labels[i] if labels is not None and against else None for i in range(n)]
    done = {i: row for i, row in store.documents(key).items()
            if i < n and row.get("input_sha256") == hashes[i] and row.get("label") == truth[i]
            and row["sample"].get("out") == str(outs[i]) and outs[i].is_file()}
    resumed = len(done)
    meter = QueryMeter() if meter is None else meter
    spent = sum(int(row["sample"]["queries"]) for row in done.values())
    meter.settle(spent)
    count = len(done)
    if progress is not None:
        progress(count, spent)
    device = getattr(model, "device", "cpu")  # a query-only model has none
    for start in range(0, n, batch_size):
        chunk = [i for i in range(start, min(n, start + batch_size)) if i not in done]
        if not chunk:
            continue
        pixels = torch.cat([model.prepare(images[i].pixels.to(device)) for i in chunk])
        goal = (Goal.targeted(target) if target is not None else
                Goal.untargeted([labels[i] for i in chunk]) if labels is not None and against
                else Goal.untargeted())
        with meter:
            result = attack(model, pixels, goal, threat, index=torch.tensor(chunk), queries=queries)
        wrong = torch.zeros(len(chunk), dtype=torch.bool)
        if against:
            result, wrong = mark_already_wrong(result)
        judged, extra = finish(result, [outs[i] for i in chunk])
        header = {k: v for k, v in judged.header_dict().items() if k != "goal"}
        rows = {}
        for j, i in enumerate(chunk):
            sample = {**judged.sample_dict(j), "already_wrong": bool(wrong[j]),
                      "image": images[i].name, "out": str(outs[i]), **extra[j]}
            rows[i] = {"input_sha256": hashes[i], "label": truth[i], "header": header,
                       "sample": sample}
        store.commit_documents(key, rows)
        done.update(rows)
        count += len(chunk)
        spent += int(judged.queries.sum())
        meter.settle(spent)
        if progress is not None:
            progress(count, spent)
    return AttackRun(tuple(done[i] for i in range(n)), resumed)


def summary(run: AttackRun, images: Sequence[NamedImage], goal: Goal,
            **fields: Any) -> dict[str, Any]:
    """The JSON summary of all rows: header, ``fields``, totals and one document per image."""
    samples = [{**row["sample"], "image": im.name} for row, im in zip(run.rows, images)]
    n = len(samples)
    return {**run.rows[0]["header"], "goal": goal.to_dict(), **fields, "images": n,
            "success_rate": sum(s["success"] for s in samples) / n,
            "already_wrong": sum(s["already_wrong"] for s in samples),
            "forward": sum(s["forward"] for s in samples),
            "backward": sum(s["backward"] for s in samples),
            "queries": sum(s["queries"] for s in samples), "resumed": run.resumed,
            "samples": samples}


def rebuild(model: Any, run: AttackRun, images: Sequence[NamedImage], goal: Goal,
            rows: int) -> AttackResult:
    """An :class:`AttackResult` of the first ``rows`` images, from their inputs, their rows and
    the output files read back: what the ``--plot`` figure needs, whether or not they were resumed.

    The probabilities hold only the stored top-5 classes (the rest are 0).
    """
    from hoodwink.attacks.oracle import num_classes
    from hoodwink.images import load_image
    from hoodwink.models.classifier import model_input

    picked = [dict(r["sample"]) for r in run.rows[:rows]]
    classes = num_classes(model) or 1 + max(p["index"] for s in picked
                                             for p in (*s["original"], *s["adversarial"]))

    def probs(top: list[dict[str, Any]]) -> torch.Tensor:
        out = torch.zeros(classes)
        for p in top:
            out[int(p["index"])] = float(p["probability"])
        return out

    threat = run.rows[0]["header"]["threat"]
    original = torch.cat([model_input(model, im.pixels).cpu() for im in images[:rows]])
    adversarial = torch.stack([load_image(s["out"]) for s in picked])
    if adversarial.shape[1] != original.shape[1]:  # a gray model's input read back as RGB
        adversarial = adversarial[:, : original.shape[1]]
    goal_classes = torch.tensor([s["goal_class"]["index"] for s in picked])

    def column(name: str) -> torch.Tensor:
        return torch.tensor([int(s[name]) for s in picked], dtype=torch.long)

    header = run.rows[0]["header"]
    return AttackResult.build(
        attack=header["attack"], params=header["params"],
        threat=ThreatModel(threat["norm"], threat["eps"], tuple(threat["bounds"]), threat["quantize"]),
        goal=Goal(goal.kind, goal.toward, tuple(goal_classes.tolist())),
        names=model_labels(model, classes), original=original, adversarial=adversarial,
        goal_classes=goal_classes, success=torch.tensor([s["success"] for s in picked]),
        clean_probabilities=torch.stack([probs(s["original"]) for s in picked]),
        adversarial_probabilities=torch.stack([probs(s["adversarial"]) for s in picked]),
        forward=column("forward"), backward=column("backward"), queries=column("queries"),
        steps=column("steps"), index=column("index"))


__all__ = ["AGAINST", "AttackRun", "FoundLabels", "attack_images", "find_labels",
           "input_hash", "judged_against", "mark_already_wrong", "rebuild", "run_key", "summary"]
