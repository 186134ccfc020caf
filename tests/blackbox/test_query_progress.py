"""``hoodwink trick ... --queries N``: a progress bar of the queries spent, fed by
:func:`hoodwink.attacks.watch.watch_queries`, which must count what the oracle charges."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import pytest
import torch
from rich.console import Console
from typer.testing import CliRunner

from hoodwink.attacks import Goal, ThreatModel, get_attack
from hoodwink.attacks.watch import watch_queries
from hoodwink.cli import app
from hoodwink.cli.trick import query_text
from hoodwink.images import save_image


def test_watch_queries_counts_every_query_square_is_charged(sharp, asked, images) -> None:
    door = asked(sharp, top=5)
    query_model = door.query_model()
    attack = get_attack("square", seed=1)
    for model in (query_model, sharp):
        seen: list[int] = []
        with watch_queries(model, seen.append):
            result = attack(model, images[:4], Goal.untargeted(), ThreatModel("linf", 8 / 255),
                            queries=60)
        assert sum(seen) == int(result.queries.sum()) > 4
    # the watch ends with the block: nothing is reported afterwards
    after: list[int] = []
    with watch_queries(sharp, after.append):
        pass
    sharp(images[:2])
    query_model.ask((images[:2] * 255).byte().permute(0, 2, 3, 1).numpy())
    assert after == [] and query_model.fn is door and not sharp._forward_hooks


def test_the_bar_says_queries_spent_of_the_budget() -> None:
    assert query_text(0, 1000) == "0/1,000 queries"
    assert query_text(37, 100) == "37/100 queries"
    assert query_text(130, 100) == "100/100 queries"      # never past the budget


def test_trick_shows_the_queries_spent_while_square_runs(served, sharp, images, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    import hoodwink.cli.trick

    screen = io.StringIO()
    monkeypatch.setattr(hoodwink.cli.trick, "err_console",
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


def test_no_bar_without_a_budget(sharp, images, monkeypatch: pytest.MonkeyPatch) -> None:
    import hoodwink.cli.trick

    screen = io.StringIO()
    monkeypatch.setattr(hoodwink.cli.trick, "err_console",
                        Console(file=screen, force_terminal=True, width=120))
    with hoodwink.cli.trick.query_progress(sharp, "square", None):
        sharp(torch.zeros(1, 3, 8, 8))
    assert screen.getvalue() == "" and not sharp._forward_hooks
