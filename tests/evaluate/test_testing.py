"""``hoodwink.testing.assert_robust`` and the pytest plugin (driven through ``pytester``)."""

from __future__ import annotations

import importlib.metadata
import re
from pathlib import Path

import pytest

from hoodwink.testing import RobustnessError, RobustnessWarning, assert_robust

pytest_plugins = ["pytester"]


def test_a_fragile_model_fails_naming_its_broken_images(linear_model, digit_folder: Path,
                                                        tiny_suite, tmp_path: Path) -> None:
    with pytest.raises(RobustnessError) as info:
        assert_robust(linear_model, digit_folder, eps=0.35, at_least=0.8, suite=tiny_suite,
                      out=tmp_path / "adv", limit=12, checks=False)
    message = str(info.value)
    assert message.startswith("robust accuracy ") and "< 80.0% at eps 89.25/255" in message
    assert "judged against the true labels" in message
    named = re.findall(r"adversarial PNG (\S+)", message)
    assert named and all(Path(p).is_file() and Path(p).parent.parent == tmp_path / "adv"
                         for p in named)
    assert re.search(r"digits/\d_\d{3}\.png \(index \d+\): \d -> \d by apgd-", message)
    assert f"adversarial PNGs saved in {tmp_path / 'adv'}" in message
    assert info.value.report.evaluations[0].robust_accuracy < 0.8


def test_a_robust_enough_model_passes(linear_model, digit_folder: Path, tiny_suite) -> None:  # type: ignore[no-untyped-def]
    report = assert_robust(linear_model, digit_folder, eps=0.05, at_least=0.8, suite=tiny_suite,
                           limit=12)
    assert report.evaluations[0].robust_accuracy == 1.0


def test_false_robustness_passes_with_a_warning(masked_model, digit_folder: Path, tiny_suite) -> None:  # type: ignore[no-untyped-def]
    with pytest.warns(RobustnessWarning, match="zero-gradient"):
        assert_robust(masked_model, digit_folder, eps=0.35, at_least=0.8, suite=tiny_suite, limit=8)


def _plugin_args() -> list[str]:
    """``-p`` only when the entry point is not installed (an old editable install)."""
    registered = any(e.name == "hoodwink" for e in importlib.metadata.entry_points(group="pytest11"))
    return [] if registered else ["-p", "hoodwink.pytest_plugin"]


def test_the_plugin_marker_and_fixture(pytester: pytest.Pytester, linear_model, digit_folder: Path) -> None:  # type: ignore[no-untyped-def]
    from hoodwink.models import save_model

    model = save_model(linear_model, pytester.path / "linear.safetensors")
    pytester.makepyfile(test_digits=f'''
        import pytest
        from hoodwink.evaluate import Suite, SuiteAttack
        from hoodwink.testing import assert_robust

        TINY = Suite("tiny", (SuiteAttack("apgd-ce", (("steps", 10),)),))

        @pytest.mark.robustness(model={str(model)!r}, eps=0.35, at_least=0.8, suite=TINY)
        def test_fragile(hoodwink_model):
            assert_robust(hoodwink_model, {str(digit_folder)!r}, limit=6, checks=False)

        @pytest.mark.robustness(model={str(model)!r}, eps=0.05, at_least=0.8, suite=TINY)
        def test_sturdy(hoodwink_model):
            assert hoodwink_model.name == "linear"
            assert_robust(hoodwink_model, {str(digit_folder)!r}, limit=6, checks=False)

        def test_option(hoodwink_model):  # no marker: the model comes from --hoodwink-model
            assert hoodwink_model.num_classes == 10
    ''')
    result = pytester.runpytest(*_plugin_args(), f"--hoodwink-model={model}")
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines([
        "*hoodwink*",
        "*robust accuracy * < 80.0% at eps 89.25/255*",
        "*(index *): * -> * by apgd-ce, Linf *adversarial PNG *hoodwink-adversarial*.png",
        "*adversarial PNGs saved in *hoodwink-adversarial*",
    ])
    marked = pytester.runpytest(*_plugin_args(), "-m", "robustness", "--collect-only", "-q")
    marked.stdout.fnmatch_lines(["*2/3 tests collected (1 deselected)*"])
