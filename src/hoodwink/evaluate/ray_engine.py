"""The Ray engine: the same evaluation sharded by dataset index over a Ray cluster.

Ray Data's ``map_batches`` runs the ensemble on an actor pool; each actor
receives the model and the data once (in its constructor) and attacks the
batches of dataset indices it is given. Random draws follow the dataset index,
so the rows are the same as the local engine's; they come back to the driver,
which commits each finished block to the same SQLite store and writes the same
PNGs. Install with ``pip install 'hoodwink[ray]'``.

* local: ``evaluate(..., engine="ray", workers=2)`` starts Ray on this machine;
* a cluster: ``hoodwink evaluate DATA --engine ray --address ray://HEAD:10001``
  (or ``--address auto`` on a node of the cluster) connects to it.

Example:
    >>> report = evaluate(model, "images/", engine="ray", workers=2)   # doctest: +SKIP
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import torch

from hoodwink.attacks.threat import ThreatModel
from hoodwink.errors import HoodwinkError
from hoodwink.evaluate.data import LabelledData
from hoodwink.evaluate.suite import SampleRecord, Suite, attack_batch
from hoodwink.models.classifier import model_input


class RayError(HoodwinkError):
    """Ray is missing or the cluster cannot be reached."""


def _ray() -> Any:
    try:
        import ray
        import ray.data
    except ImportError as exc:
        raise RayError("--engine ray needs Ray: pip install 'hoodwink[ray]' "
                       "(or pip install 'ray[data]')") from exc
    return ray


class _Worker:
    """One actor of the pool: keeps the model and the data, attacks batches of indices."""

    def __init__(self, model: Any, data: LabelledData, suite: Suite, threat: ThreatModel,
                 batch_size: int, threads: int) -> None:
        torch.set_num_threads(threads)
        self.model, self.data, self.suite = model, data, suite
        self.threat, self.batch_size = threat, batch_size

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        indices = [int(i) for i in batch["index"]]
        images = torch.cat([model_input(self.model, self.data.image(i)) for i in indices])
        outcome = attack_batch(self.model, images, self.data.labels[indices],
                               torch.tensor(indices), self.suite, self.threat,
                               batch_size=self.batch_size)
        rows = outcome.records
        pixels = torch.round(outcome.adversarial.detach().cpu().clamp(0, 1) * 255).to(torch.uint8)
        return {
            "index": np.array([r.index for r in rows], dtype=np.int64),
            "record": np.array([json.dumps(_record_doc(r)) for r in rows], dtype=object),
            "adversarial": pixels.numpy(),
        }


def _record_doc(r: SampleRecord) -> dict[str, Any]:
    return {"index": r.index, "label": r.label, "clean_pred": r.clean_pred,
            "broken_by": r.broken_by, "adv_pred": r.adv_pred, "linf": r.linf, "l2": r.l2,
            "forward": r.forward, "backward": r.backward, "queries": r.queries,
            "costs": [list(c) for c in r.costs]}


def _record(doc: dict[str, Any]) -> SampleRecord:
    return SampleRecord(int(doc["index"]), int(doc["label"]), int(doc["clean_pred"]),
                        doc["broken_by"], int(doc["adv_pred"]), float(doc["linf"]),
                        float(doc["l2"]), int(doc["forward"]), int(doc["backward"]),
                        int(doc["queries"]),
                        tuple((str(a), int(f), int(b), int(q)) for a, f, b, q in doc["costs"]))


def connect(address: str | None, workers: int) -> None:
    """Start Ray here (``workers`` CPUs) or connect to ``address``, unless already running."""
    ray = _ray()
    if ray.is_initialized():
        return
    for name in ("ray", "ray.data"):  # the command's own progress bar says what Ray would
        logging.getLogger(name).setLevel(logging.WARNING)
    try:
        if address:
            ray.init(address=address, log_to_driver=False, logging_level=logging.WARNING)
        else:
            ray.init(num_cpus=workers, include_dashboard=False, log_to_driver=False,
                     logging_level=logging.WARNING)
        context = ray.data.DataContext.get_current()
        context.enable_progress_bars = False
        context.print_on_execution_start = False
    except Exception as exc:  # Ray raises many kinds: one clear line
        raise RayError(f"could not start or reach Ray ({type(exc).__name__}: {exc})") from exc


def ray_batches(model: Any, data: LabelledData, suite: Suite, threat: ThreatModel,
                todo: Sequence[int], batch_size: int, *, workers: int = 2,
                address: str | None = None, threads: int = 1
                ) -> Iterator[tuple[Sequence[SampleRecord], torch.Tensor]]:
    """Yield (records, adversarial images) per finished block, as the local engine does."""
    ray = _ray()
    connect(address, workers)
    if not todo:
        return
    ds = ray.data.from_items([{"index": int(i)} for i in todo],
                             override_num_blocks=max(1, -(-len(todo) // batch_size)))
    mapped = ds.map_batches(
        _Worker, batch_size=batch_size, batch_format="numpy", concurrency=workers, num_cpus=1,
        fn_constructor_kwargs={"model": model, "data": data, "suite": suite, "threat": threat,
                               "batch_size": batch_size, "threads": threads})
    for block in mapped.iter_batches(batch_size=None, batch_format="numpy"):
        records = [_record(json.loads(str(doc))) for doc in block["record"]]
        images = torch.from_numpy(np.ascontiguousarray(block["adversarial"])).float() / 255
        yield records, images


__all__ = ["RayError", "connect", "ray_batches"]
