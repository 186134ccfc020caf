"""The pytest plugin (entry point ``pytest11``): a ``hoodwink_model`` fixture and a
``robustness`` marker.

.. code-block:: python

    import pytest
    from hoodwink.testing import assert_robust

    @pytest.mark.robustness(model="digits-pgd.safetensors", eps=0.1, at_least=0.8)
    def test_digits_cnn_is_robust(hoodwink_model):
        assert_robust(hoodwink_model, "digits/test/")

* ``hoodwink_model``: the model named by the test's ``robustness`` marker
  (``model=``), else ``--hoodwink-model``, else the ini option
  ``hoodwink_model``, else the bundled ImageNet model; loaded once per session.
* ``@pytest.mark.robustness(eps=..., at_least=..., suite=..., norm=..., model=...)``:
  its keywords are the defaults of :func:`hoodwink.testing.assert_robust` in
  that test (adversarial PNGs go to the test's own temporary folder), and
  ``pytest -m robustness`` selects these tests. A failure's report gets a
  ``hoodwink`` section naming the broken images and their PNGs.
"""

from __future__ import annotations

from collections.abc import Generator, Iterator
from typing import Any

import pytest

_MODELS: dict[str, Any] = {}


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("hoodwink")
    group.addoption("--hoodwink-model", default=None,
                    help="model for the hoodwink_model fixture (registry name or weights file)")
    parser.addini("hoodwink_model", "model for the hoodwink_model fixture", default="")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "robustness(eps=8/255, at_least=0.8, suite='quick', norm='linf', model=None): "
                   "a robustness test; the keywords are hoodwink.testing.assert_robust's defaults")


def _model_name(request: pytest.FixtureRequest) -> str:
    marker = request.node.get_closest_marker("robustness")
    if marker is not None and marker.kwargs.get("model"):
        return str(marker.kwargs["model"])
    option = request.config.getoption("--hoodwink-model", default=None)
    if option:
        return str(option)
    ini = request.config.getini("hoodwink_model")
    if ini:
        return str(ini)
    from hoodwink.models import DEFAULT_MODEL

    return DEFAULT_MODEL


@pytest.fixture()
def hoodwink_model(request: pytest.FixtureRequest) -> Any:
    """The model under test (loaded once per session for each name)."""
    name = _model_name(request)
    if name not in _MODELS:
        from hoodwink.models import load_model

        _MODELS[name] = load_model(name, device="cpu")
    return _MODELS[name]


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    marker = item.get_closest_marker("robustness")
    if marker is None:
        yield
        return
    from hoodwink.testing import DEFAULTS

    defaults = {k: v for k, v in marker.kwargs.items() if k != "model"}
    factory = getattr(item.config, "_tmp_path_factory", None)
    if "out" not in defaults and factory is not None:
        defaults["out"] = factory.mktemp("hoodwink-adversarial")
    token = DEFAULTS.set(defaults)
    try:
        yield
    finally:
        DEFAULTS.reset(token)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item,
                               call: pytest.CallInfo[None]) -> Generator[None, Any, None]:
    outcome = yield
    report = outcome.get_result()
    if call.excinfo is None:
        return
    from hoodwink.testing import RobustnessError

    if isinstance(call.excinfo.value, RobustnessError):
        report.sections.append(("hoodwink", str(call.excinfo.value)))
