"""Robustness in your test suite: :func:`assert_robust`.

.. code-block:: python

    from hoodwink import load_model
    from hoodwink.testing import assert_robust

    def test_digits_cnn_is_robust():
        model = load_model("digits-pgd.safetensors")
        assert_robust(model, "digits/test/", eps=0.1, at_least=0.8, suite="quick")

A failure names the broken images and where their adversarial PNGs were
saved; a raised check against false robustness is added to the message (and
warned about when the assertion passes). The pytest plugin
(:mod:`hoodwink.pytest_plugin`) adds a ``hoodwink_model`` fixture and a
``robustness`` marker whose keywords become this function's defaults.
"""

from __future__ import annotations

import contextvars
import os
import tempfile
import warnings
from pathlib import Path
from typing import Any

from hoodwink.evaluate.run import Report, evaluate
from hoodwink.evaluate.store import Store

#: Defaults set by the ``robustness`` marker for the test that is running.
DEFAULTS: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar(
    "hoodwink_robustness_defaults", default=None)

#: Broken images named in a failure message.
NAMED = 10


class RobustnessError(AssertionError):
    """The model is less robust than asserted (the message names the broken images)."""

    def __init__(self, message: str, report: Report, folder: Path | None) -> None:
        super().__init__(message)
        self.report = report
        self.folder = folder


class RobustnessWarning(UserWarning):
    """The assertion passed, but a check against false robustness was raised."""


def _setting(name: str, given: Any, default: Any) -> Any:
    if given is not None:
        return given
    marker = DEFAULTS.get() or {}
    return marker.get(name, default)


def assert_robust(model: Any, data: Any, *, eps: float | str | None = None,
                  at_least: float | None = None, suite: str | None = None,
                  norm: str | None = None, out: str | os.PathLike[str] | None = None,
                  batch_size: int = 32, limit: int | None = None, checks: bool = True) -> Report:
    """Fail unless the robust accuracy at ``eps`` is at least ``at_least`` (true labels).

    Args:
        model: a classifier; data: anything :func:`hoodwink.evaluate.load_data` reads.
        eps: the radius (pixel units, ``"8/255"`` or 0.03); default 8/255.
        at_least: the least robust accuracy that passes, in [0, 1]; default 0.8.
        suite: ``quick`` (default) or ``standard``.
        out: where the adversarial PNGs of broken images go (default: a new temporary folder).
        limit: only the first ``limit`` images.

    Returns:
        The :class:`~hoodwink.evaluate.Report` when the assertion holds.

    Raises:
        RobustnessError: (an AssertionError) naming the broken images and their PNGs.
    """
    eps = _setting("eps", eps, 8 / 255)
    at_least = float(_setting("at_least", at_least, 0.8))
    suite = _setting("suite", suite, "quick")
    norm = _setting("norm", norm, "linf")
    out = _setting("out", out, None)
    if not 0 <= at_least <= 1:
        raise ValueError(f"at_least must be a robust accuracy in [0, 1], not {at_least}")
    folder = Path(out) if out is not None else Path(tempfile.mkdtemp(prefix="hoodwink-robust-"))
    with Store(None, images=folder) as store:
        report = evaluate(model, data, eps=[eps] if not isinstance(eps, (list, tuple)) else eps,
                          norm=norm, suite=suite, batch_size=batch_size, store=store,
                          checks=checks, limit=limit)
    evaluation = report.evaluations[-1]
    flags = "; ".join(f"{f.name}: {f.message}" for f in report.raised)
    accuracy = evaluation.robust_accuracy
    if accuracy + 1e-12 >= at_least:
        if flags:
            warnings.warn(f"robust accuracy {accuracy:.1%} passes, but: {flags}",
                          RobustnessWarning, stacklevel=2)
        return report
    raise RobustnessError(_message(report, at_least, folder, flags), report, folder)


def _message(report: Report, at_least: float, folder: Path, flags: str) -> str:
    e = report.evaluations[-1]
    n = len(e)
    broken = [s for s in e.samples if s.correct and not s.robust]
    wrong = [s for s in e.samples if not s.correct]
    names = report.names

    def name(c: int) -> str:
        return names.name(c) if c < len(names) else str(c)

    lines = [(f"robust accuracy {e.robust_accuracy:.1%} < {at_least:.1%} at eps "
             f"{e.threat.eps * 255:g}/255 ({e.threat.norm}, {report.suite.name} suite, judged "
             f"against the true labels): {len(broken)} of {n} images broken by an attack, "
             f"{len(wrong)} misclassified without one")]
    for s in broken[:NAMED]:
        lines.append(f"  {report.image_name(s.index)} (index {s.index}): {name(s.label)} -> "
                     f"{name(s.adv_pred)} by {s.broken_by}, Linf {s.linf * 255:.3g}/255, "
                     f"adversarial PNG {s.png}")
    if len(broken) > NAMED:
        lines.append(f"  ... and {len(broken) - NAMED} more")
    lines.append(f"adversarial PNGs saved in {folder}")
    if flags:
        lines.append(f"checks raised: {flags}")
    return "\n".join(lines)


__all__ = ["DEFAULTS", "RobustnessError", "RobustnessWarning", "assert_robust"]
