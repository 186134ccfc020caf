"""The README's examples run as written: every block after a ``<!-- runs -->`` comment.

```python blocks are executed; in ```console blocks the ``$ hoodwink ...`` lines and in ```bash
blocks the ``hoodwink ...`` lines are run through the CLI. They run in order, in one folder, so
a later block may use a file an earlier one wrote (``adv.png``). They load the real network: slow.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
from typer.testing import CliRunner

README = Path(__file__).resolve().parents[1] / "README.md"
BLOCK = re.compile(r"<!-- runs -->\s*\n```(\w+)\n(.*?)\n```", re.DOTALL)


def runnable_blocks(text: str) -> list[tuple[str, str]]:
    """(language, code) of every block marked ``<!-- runs -->``, in order."""
    return [(m.group(1), m.group(2)) for m in BLOCK.finditer(text)]


def commands(language: str, code: str) -> list[list[str]]:
    """The ``hoodwink`` command lines of a console or bash block, as argument lists (without ``hoodwink``)."""
    joined = code.replace("\\\n", " ")
    lines = []
    for line in joined.splitlines():
        line = line.strip()
        if language == "console":
            if not line.startswith("$ "):
                continue
            line = line[2:]
        words = shlex.split(line, comments=True)
        if words and words[0] == "hoodwink":
            lines.append(words[1:])
    return lines


BLOCKS = runnable_blocks(README.read_text(encoding="utf-8"))


def test_the_readme_marks_its_examples() -> None:
    languages = [language for language, _ in BLOCKS]
    assert languages.count("python") >= 1 and languages.count("console") >= 2 and "bash" in languages
    for language, code in BLOCKS:
        assert language == "python" or commands(language, code), code
    assert "388_giant_panda" not in README.read_text(encoding="utf-8")


def test_commands_are_read_like_a_shell() -> None:
    assert commands("console", "$ hoodwink predict adv.png --top 1   # read back\nchelsea\n") == [
        ["predict", "adv.png", "--top", "1"]]
    assert commands("bash", 'hoodwink trick black --into "paper towel" \\\n    --out a.png') == [
        ["trick", "black", "--into", "paper towel", "--out", "a.png"]]


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("readme")


@pytest.mark.slow
@pytest.mark.parametrize(("language", "code"), BLOCKS, ids=[f"block{i}-{b[0]}" for i, b in enumerate(BLOCKS)])
def test_readme_block_runs(language: str, code: str, folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(folder)
    if language == "python":
        exec(compile(code, str(README), "exec"), {"__name__": "readme"})  # noqa: S102
        return
    from hoodwink.cli import app

    runner = CliRunner()
    for args in commands(language, code):
        result = runner.invoke(app, args)
        assert result.exit_code == 0, (args, result.output)
