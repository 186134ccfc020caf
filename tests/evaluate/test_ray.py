"""``--engine ray``: Ray Data on an actor pool gives the local engine's rows."""

from __future__ import annotations

import dataclasses
import sqlite3
from pathlib import Path

import pytest

from hoodwink.evaluate import evaluate

ray = pytest.importorskip("ray", reason="Ray is not installed (pip install 'hoodwink[ray]')")


@pytest.mark.slow  # starting Ray and its actors takes tens of seconds on a small machine
def test_ray_gives_the_local_rows(linear_model, digits, tiny_suite, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    images, labels = digits
    data = (images[:24], labels[:24])
    local = evaluate(linear_model, data, eps=[0.35], suite=tiny_suite, batch_size=6,
                     checks=False, store=tmp_path / "local.sqlite")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        sharded = evaluate(linear_model, data, eps=[0.35], suite=tiny_suite, batch_size=6,
                           checks=False, store=tmp_path / "ray.sqlite", engine="ray", workers=2)
    finally:
        ray.shutdown()

    def strip(report):  # type: ignore[no-untyped-def]
        return [dataclasses.replace(s, png=None) for s in report.evaluations[0].samples]

    assert strip(sharded) == strip(local)
    assert [Path(s.png).read_bytes() for s in sharded.broken()] == [
        Path(s.png).read_bytes() for s in local.broken()]
    def rows(path: Path) -> list[tuple[object, ...]]:
        with sqlite3.connect(path) as db:  # one row per image and run (eps 0.35, minimal pass)
            return db.execute("SELECT run, idx, broken_by, adv_pred, linf, queries FROM samples "
                              "ORDER BY run, idx").fetchall()

    ray_rows = rows(tmp_path / "ray.sqlite")
    assert ray_rows == rows(tmp_path / "local.sqlite")
    assert len(ray_rows) == 24 * len({r[0] for r in ray_rows})

