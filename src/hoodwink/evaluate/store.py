"""The evaluation store: an embedded SQLite database that survives a kill.

Every finished batch is committed in one transaction (WAL journal, full
sync), keyed by the run (a hash of the model's weights, the data, the suite
and the threat) and the image's dataset index. A kill loses at most the
batch in flight; rerunning the same evaluation finds the rows already there,
attacks only the rest, and gives the same results as an uninterrupted run
(seeds follow the dataset index, not the order of work).

Adversarial images of the broken samples are kept as 8-bit PNGs beside the
database (``<folder>/adversarial/<run>/<index>.png``), written atomically
before their batch is committed.

A generic table of JSON documents, keyed the same way by (run, index), holds
the rows of ``hoodwink attack`` (:meth:`Store.documents`, :meth:`Store.commit_documents`).

Example:
    >>> store = Store(None)                      # in memory: nothing survives
    >>> store.completed("run")
    {}
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import torch

from hoodwink.attacks.threat import ThreatModel
from hoodwink.errors import HoodwinkError
from hoodwink.evaluate.suite import SampleRecord, Suite

#: Bump when the meaning of a stored row changes: old runs are then not reused.
SCHEMA = 1

_TABLES = """
CREATE TABLE IF NOT EXISTS runs (
    key TEXT PRIMARY KEY, model TEXT NOT NULL, data TEXT NOT NULL, suite TEXT NOT NULL,
    threat TEXT NOT NULL, created REAL NOT NULL);
CREATE TABLE IF NOT EXISTS samples (
    run TEXT NOT NULL, idx INTEGER NOT NULL, label INTEGER NOT NULL, clean_pred INTEGER NOT NULL,
    broken_by TEXT, adv_pred INTEGER NOT NULL, linf REAL NOT NULL, l2 REAL NOT NULL,
    forward INTEGER NOT NULL, backward INTEGER NOT NULL, queries INTEGER NOT NULL,
    costs TEXT NOT NULL, png TEXT, PRIMARY KEY (run, idx));
CREATE TABLE IF NOT EXISTS checks (
    run TEXT NOT NULL, name TEXT NOT NULL, doc TEXT NOT NULL, PRIMARY KEY (run, name));
CREATE TABLE IF NOT EXISTS documents (
    run TEXT NOT NULL, idx INTEGER NOT NULL, doc TEXT NOT NULL, PRIMARY KEY (run, idx));
"""


class StoreError(HoodwinkError):
    """The evaluation database cannot be opened or written."""


def model_fingerprint(model: Any) -> str:
    """SHA-256 hex of a model: its type, description and every weight and buffer.

    A query-only model (no tensors) is fingerprinted by its description only.
    """
    digest = hashlib.sha256(type(model).__qualname__.encode())
    describe = getattr(model, "describe", None)
    if callable(describe):
        digest.update(json.dumps(describe(), sort_keys=True, default=str).encode())
    state = getattr(model, "state_dict", None)
    if callable(state):
        for name, tensor in state().items():
            t = tensor.detach().cpu().contiguous()
            digest.update(f"{name}:{t.dtype}:{tuple(t.shape)}".encode())
            digest.update(t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    else:
        digest.update(repr(getattr(model, "name", model)).encode())
    return digest.hexdigest()


def run_key(model: str, data: str, suite: Suite, threat: ThreatModel) -> str:
    """The key of one run: a hash of the model, data, suite and threat fingerprints."""
    doc = {"schema": SCHEMA, "model": model, "data": data, "suite": suite.to_dict(),
           "threat": threat.to_dict()}
    return hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()


class Store:
    """Rows of finished batches, in SQLite (``path``) or in memory (``None``).

    Args:
        path: the database file (created with its folder), or None.
        images: where adversarial PNGs go; default ``<folder of path>/adversarial``
            (None with an in-memory store: no PNGs).
    """

    def __init__(self, path: str | os.PathLike[str] | None,
                 images: str | os.PathLike[str] | None = None) -> None:
        self.path = None if path is None else Path(path)
        if self.path is not None:
            if self.path.is_dir():
                raise StoreError(f"{self.path}: is a folder; give the database file (e.g. evaluate.sqlite)")
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StoreError(f"{self.path.parent}: could not create ({exc.strerror or exc})") from exc
        self.images = (Path(images) if images is not None else
                       None if self.path is None else self.path.parent / "adversarial")
        try:
            self._db = sqlite3.connect(":memory:" if self.path is None else str(self.path),
                                       timeout=30.0, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.executescript(_TABLES)
        except sqlite3.Error as exc:
            raise StoreError(f"{self.path}: not an evaluation database ({exc})") from exc

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> Store:  # noqa: PYI034
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def open_run(self, key: str, *, model: str, data: str, suite: Suite, threat: ThreatModel) -> None:
        """Record a run (once)."""
        self._write("INSERT OR IGNORE INTO runs VALUES (?, ?, ?, ?, ?, ?)",
                    [(key, model, data, json.dumps(suite.to_dict(), sort_keys=True),
                      json.dumps(threat.to_dict(), sort_keys=True), time.time())])

    def completed(self, key: str) -> dict[int, SampleRecord]:
        """The rows of run ``key`` already committed, by dataset index."""
        rows = self._db.execute(
            "SELECT idx, label, clean_pred, broken_by, adv_pred, linf, l2, forward, backward, "
            "queries, costs, png FROM samples WHERE run = ? ORDER BY idx", (key,)).fetchall()
        out = {}
        for r in rows:
            costs = tuple((str(a), int(f), int(b), int(q)) for a, f, b, q in json.loads(r[10]))
            out[int(r[0])] = SampleRecord(int(r[0]), int(r[1]), int(r[2]), r[3], int(r[4]),
                                          float(r[5]), float(r[6]), int(r[7]), int(r[8]),
                                          int(r[9]), costs, r[11])
        return out

    def commit(self, key: str, records: Iterable[SampleRecord]) -> None:
        """Commit the rows of one finished batch in one transaction."""
        self._write(
            "INSERT OR REPLACE INTO samples VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [(key, r.index, r.label, r.clean_pred, r.broken_by, r.adv_pred, r.linf, r.l2,
              r.forward, r.backward, r.queries, json.dumps([list(c) for c in r.costs]), r.png)
             for r in records])

    def documents(self, key: str) -> dict[int, dict[str, Any]]:
        """The JSON documents of run ``key`` already committed, by index (``hoodwink attack``'s rows).

        Example:
            >>> store = Store(None)
            >>> store.commit_documents("run", {0: {"success": True}})
            >>> store.documents("run")
            {0: {'success': True}}
        """
        rows = self._db.execute("SELECT idx, doc FROM documents WHERE run = ? ORDER BY idx",
                                (key,)).fetchall()
        return {int(i): dict(json.loads(doc)) for i, doc in rows}

    def commit_documents(self, key: str, rows: Mapping[int, dict[str, Any]]) -> None:
        """Commit the JSON documents of one finished batch, by index, in one transaction."""
        self._write("INSERT OR REPLACE INTO documents VALUES (?, ?, ?)",
                    [(key, int(i), json.dumps(doc, sort_keys=True)) for i, doc in rows.items()])

    def check(self, key: str, name: str) -> dict[str, Any] | None:
        """A stored check's document, or None."""
        row = self._db.execute("SELECT doc FROM checks WHERE run = ? AND name = ?",
                               (key, name)).fetchone()
        return None if row is None else dict(json.loads(row[0]))

    def save_check(self, key: str, name: str, doc: dict[str, Any]) -> None:
        self._write("INSERT OR REPLACE INTO checks VALUES (?, ?, ?)",
                    [(key, name, json.dumps(doc, sort_keys=True))])

    def image_path(self, key: str, index: int) -> Path | None:
        """Where the adversarial PNG of image ``index`` of run ``key`` goes (folder created)."""
        if self.images is None:
            return None
        folder = self.images / key[:12]
        folder.mkdir(parents=True, exist_ok=True)
        return folder / f"{index:06d}.png"

    def _write(self, sql: str, rows: list[tuple[Any, ...]]) -> None:
        try:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.executemany(sql, rows)
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")
        except sqlite3.Error as exc:
            raise StoreError(f"{self.path or 'memory'}: could not write ({exc})") from exc


__all__ = ["Store", "StoreError", "model_fingerprint", "run_key"]
