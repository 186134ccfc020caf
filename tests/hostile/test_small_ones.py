"""Item 7's small ones that are not about files: a huge eps fails fast with the range error."""

from __future__ import annotations

import time

import pytest

from hoodwink.attacks.threat import parse_eps
from hoodwink.errors import ParameterError


@pytest.mark.parametrize("text", ["1e99999999/1", "1/1e-99999999", "1e99999999"])
def test_an_enormous_eps_fails_fast(text: str) -> None:
    start = time.perf_counter()
    with pytest.raises(ParameterError, match="eps must be"):
        parse_eps(text)
    assert time.perf_counter() - start < 0.5
    assert parse_eps("8/255") == 8 / 255
