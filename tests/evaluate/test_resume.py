"""Kill a real ``hoodwink evaluate`` at random moments; the same command finishes the job
with results identical to an uninterrupted run (the rows that differ: 0)."""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

#: ``hoodwink`` with Ctrl-C's default Python handler, even when started from a background job
#: (which ignores SIGINT, and so would its children).
HOODWINK = [sys.executable, "-c", ("import signal, sys; signal.signal(signal.SIGINT, "
            "signal.default_int_handler); from hoodwink.cli import main; main(sys.argv[1:])")]

COLUMNS = ("idx, label, clean_pred, broken_by, adv_pred, linf, l2, forward, backward, queries, "
           "costs")


def _rows(store: Path) -> dict[tuple[str, int], tuple[object, ...]]:
    """(run, dataset index) -> the row, without the PNG path (it names the store's folder)."""
    with sqlite3.connect(store) as db:
        return {(r[0], r[1]): r for r in db.execute(f"SELECT run, {COLUMNS} FROM samples")}


def _count(store: Path) -> int:
    """Committed rows (0 while the store is not there or not yet set up)."""
    try:
        return len(_rows(store)) if store.exists() else 0
    except sqlite3.OperationalError:
        return 0


@pytest.mark.slow  # six CLI start-ups (a few seconds each)
def test_killed_runs_resume_to_identical_results(tmp_path: Path, linear_model, digit_folder: Path) -> None:  # type: ignore[no-untyped-def]
    from hoodwink.models import save_model

    model = save_model(linear_model, tmp_path / "linear.safetensors")
    env = {**os.environ, "OMP_NUM_THREADS": "1"}

    def command(store: Path) -> list[str]:
        return [*HOODWINK, "evaluate", str(digit_folder), "--model",
                str(model), "--suite", "quick", "--eps", "0.3,0.35", "--no-checks",
                "--batch-size", "4", "--store", str(store), "--json"]

    start = time.monotonic()
    whole = subprocess.run(command(tmp_path / "whole.sqlite"), env=env, capture_output=True, check=False,
                           text=True, timeout=300)
    took = time.monotonic() - start
    assert whole.returncode == 0, whole.stderr
    reference = _rows(tmp_path / "whole.sqlite")
    assert len(reference) == 120  # 40 images: two budgets and the smallest-perturbation pass

    store = tmp_path / "killed.sqlite"
    rng = random.Random(13)
    kills = 0
    for k in range(4):
        process = subprocess.Popen(command(store), env=env, stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, text=True)
        before = _count(store)
        deadline = time.monotonic() + 120
        while process.poll() is None and time.monotonic() < deadline and _count(store) == before:
            time.sleep(0.1)  # until this process has committed a batch of its own
        time.sleep(rng.uniform(0.0, 0.3) * took)
        sent = signal.SIGINT if k % 2 == 0 else signal.SIGTERM
        process.send_signal(sent)
        _, err = process.communicate(timeout=300)
        if process.returncode == 0:
            break  # it finished before the signal
        kills += 1
        assert process.returncode == (130 if sent == signal.SIGINT else 143), err
        last = err.strip().splitlines()[-1]
        assert "run the same command to resume" in last and "Traceback" not in err
        partial = _rows(store)
        assert all(partial[i] == reference[i] for i in partial)  # committed rows are final
    assert kills >= 1
    done = subprocess.run(command(store), env=env, capture_output=True, text=True, timeout=300,
                          check=False)
    assert done.returncode == 0, done.stderr
    final = _rows(store)
    differing = [i for i in reference if final.get(i) != reference[i]]
    assert differing == [] and len(final) == len(reference)
