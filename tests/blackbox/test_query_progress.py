"""Queries spent, read live: :class:`hoodwink.attacks.watch.QueryMeter` counts what the
oracles charge (never a gradient attack's extra passes), and ``hoodwink trick ... --queries N``
shows it in a progress bar."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import pytest
from rich.console import Console
from typer.testing import CliRunner

from hoodwink.attacks import Goal, ThreatModel, get_attack
from hoodwink.attacks.eot import EOT
from hoodwink.attacks.watch import QueryMeter
from hoodwink.cli import app
from hoodwink.cli.progress import query_progress, query_text
from hoodwink.images import save_image


def test_the_meter_counts_every_query_square_is_charged(sharp, asked, images) -> None:  # type: ignore[no-untyped-def]
    door = asked(sharp, top=5)
    attack = get_attack("square", seed=1)
    for model in (door.query_model(), sharp):
        with QueryMeter() as meter:
            result = attack(model, images[:4], Goal.untargeted(), ThreatModel("linf", 8 / 255),
                            queries=60)
        assert meter.spent() == int(result.queries.sum()) > 4
        # the block is over: later attacks are not counted
        attack(model, images[:2], Goal.untargeted(), ThreatModel("linf", 8 / 255), queries=10)
        assert meter.spent() == int(result.queries.sum())


def test_the_meter_counts_queries_not_passes(sharp, images) -> None:  # type: ignore[no-untyped-def]
    pgd = get_attack("pgd", steps=5, early_stop=False)
    robust = EOT(sharp, "noise:0.01", samples=3)
    passes: list[int] = []
    hook = sharp.register_forward_hook(lambda m, args, out: passes.append(len(args[0])))
    try:
        with QueryMeter(settled=7) as meter:
            result = pgd(robust, images[:2], Goal.untargeted(), ThreatModel("linf", 8 / 255))
    finally:
        hook.remove()
    assert meter.spent() == 7 + int(result.queries.sum()) > 7
    assert sum(passes) > 2 * int(result.queries.sum())   # EOT's samples are passes, not queries
    meter.settle(3)
    assert meter.spent() == 3


def test_the_bar_says_queries_spent_of_the_budget() -> None:
    assert query_text(0, 1000) == "0/1,000 queries"
    assert query_text(37, 100) == "37/100 queries"
    assert query_text(130, 100) == "100/100 queries"      # never past the budget


def test_trick_shows_the_queries_spent_while_square_runs(served, sharp, images, tmp_path: Path,  # type: ignore[no-untyped-def]
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    import hoodwink.cli.progress

    screen = io.StringIO()
    monkeypatch.setattr(hoodwink.cli.progress, "err_console",
                        Console(file=screen, force_terminal=True, width=120))
    photo = save_image(images[0], tmp_path / "photo.png")
    with served(sharp, top=5) as (url, _):
        result = CliRunner().invoke(app, ["trick", str(photo), "--away", "--model", url,
                                          "--attack", "square", "--queries", "100", "--json",
                                          "--seed", "2"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    shown = [int(n) for n in re.findall(r"(\d+)/100 queries", screen.getvalue())]
    assert shown and shown[0] == 0 and shown[-1] == doc["queries"] >= 1
    assert "square" in screen.getvalue()


def test_no_bar_without_a_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    import hoodwink.cli.progress

    screen = io.StringIO()
    monkeypatch.setattr(hoodwink.cli.progress, "err_console",
                        Console(file=screen, force_terminal=True, width=120))
    with query_progress("square", None) as meter:
        assert meter is None
    assert screen.getvalue() == ""
