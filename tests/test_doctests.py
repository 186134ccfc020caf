"""The examples in the docstrings of the core modules run as written."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "hoodwink.validate", "hoodwink.registry", "hoodwink.attacks.oracle", "hoodwink.attacks.goals",
    "hoodwink.attacks.threat", "hoodwink.attacks.minimal", "hoodwink.models.classifier",
    "hoodwink.explain.registry", "hoodwink.attacks.watch", "hoodwink.evaluate.store",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name: str) -> None:
    module = importlib.import_module(name)
    failed, tried = doctest.testmod(module, optionflags=doctest.ELLIPSIS, report=True)
    assert tried > 0 and failed == 0
