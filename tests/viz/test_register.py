"""Results are plain data; ``hoodwink.viz`` draws them (``figure``, ``save``, Jupyter) by a registry."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import torch

import hoodwink
from hoodwink import viz
from hoodwink.attacks import Goal, ThreatModel, get_attack
from hoodwink.errors import ImageError, ParameterError
from hoodwink.models import Classifier
from hoodwink.predict import ImagePredictions, Prediction
from hoodwink.viz.common import GRID_ROWS

SRC = Path(hoodwink.__file__).parent
#: Modules that hold results: none of them may import hoodwink.viz (a result drawing itself makes a circle).
RESULT_MODULES = ["predict.py", "attacks/result.py", "explain/result.py", "train/loop.py", "train/nets.py",
                  "gradient.py", "linearity.py"]


@pytest.mark.parametrize("module", RESULT_MODULES)
def test_results_import_nothing_from_viz(module: str) -> None:
    tree = ast.parse((SRC / module).read_text(encoding="utf-8"))
    imported = [node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module]
    imported += [alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names]
    assert not [name for name in imported if name.startswith("hoodwink.viz")]
    assert not hasattr(ImagePredictions, "_repr_png_")


class FakeFormatter:
    """Records what IPython's ``image/png`` formatter is told."""

    def __init__(self) -> None:
        self.by_name: dict[tuple[str, str], Any] = {}

    def for_type_by_name(self, module: str, name: str, func: Any) -> None:
        self.by_name[(module, name)] = func


class Curve:
    """A result type from a plug-in."""


class FakeShell:
    def __init__(self) -> None:
        self.formatter = FakeFormatter()
        self.display_formatter = type("DisplayFormatter", (), {"formatters": {"image/png": self.formatter}})()


def batch_result(model: Classifier, image: torch.Tensor, n: int) -> Any:
    images = torch.stack([image.roll(i, dims=2) for i in range(n)])
    return get_attack("bim", steps=1)(model, images, Goal.untargeted(), ThreatModel("linf", 2 / 255))


def test_figure_dispatches_by_type_and_says_what_it_can_draw() -> None:
    bars = ImagePredictions("cat.png", (Prediction(282, "tiger cat", 0.39), Prediction(285, "Egyptian cat", 0.35)))
    fig = viz.figure(bars)
    assert fig.axes[0].get_title(loc="left") == "cat.png"
    assert viz.png(bars)[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(ParameterError, match="no picture for a Prediction; there are pictures of: .*AttackResult"):
        viz.figure(Prediction(1, "goldfish", 0.5))


def test_a_batch_draws_at_most_grid_rows(linear_model: Classifier, image: torch.Tensor) -> None:
    many = batch_result(linear_model, image, GRID_ROWS + 3)
    assert len(viz.figure(many).axes) == 3 * GRID_ROWS  # original | perturbation | adversarial per row
    few = batch_result(linear_model, image, 2)
    assert len(viz.figure(few).axes) == 3 * 2
    assert len(viz.figure(few[0]).axes) == 4  # one image: the four-panel trick


def test_save_checks_the_path_first(linear_model: Classifier, image: torch.Tensor, tmp_path: Path) -> None:
    result = batch_result(linear_model, image, 1)
    assert viz.save(result, tmp_path / "trick.png").read_bytes()[:4] == b"\x89PNG"
    with pytest.raises(ImageError, match=".png"):
        viz.save(result, tmp_path / "trick.jpg")


def test_register_figure_for_a_new_type_reaches_jupyter_too() -> None:
    shell = FakeShell()
    assert viz.install_jupyter(shell)
    names = set(shell.formatter.by_name)
    assert {("hoodwink.attacks.result", "AttackResult"), ("hoodwink.predict", "ImagePredictions"),
            ("hoodwink.explain.result", "Explanation"), ("hoodwink.train.loop", "TrainResult"),
            ("hoodwink.gradient", "ClassGradient"), ("hoodwink.linearity", "LinearitySweep")} <= names

    def draw(curve: Curve) -> Any:
        return viz.figure(ImagePredictions("curve", (Prediction(0, "a", 1.0),)))

    try:
        viz.register_figure(Curve, draw)
        assert viz.figure(Curve()).axes[0].get_title(loc="left") == "curve"
        assert shell.formatter.by_name[(Curve.__module__, "Curve")](Curve())[:4] == b"\x89PNG"
    finally:
        viz.FIGURES.pop(viz.type_name(Curve), None)
        viz._FORMATTERS.clear()
    with pytest.raises(ParameterError, match="module:function"):
        viz.register_figure("hoodwink.x.Y", "no_colon")
    assert not viz.install_jupyter(None)  # no IPython running here


IN_JUPYTER = """
import sys, types
drawn = {}
class Formatter:
    def for_type_by_name(self, module, name, func):
        drawn[(module, name)] = func
formatter = Formatter()
shell = types.SimpleNamespace(display_formatter=types.SimpleNamespace(formatters={"image/png": formatter}))
sys.modules["IPython"] = types.SimpleNamespace(get_ipython=lambda: shell, version_info=(9, 0))
import hoodwink
assert "matplotlib" not in sys.modules, "import hoodwink imported matplotlib"
assert "hoodwink.viz.common" not in sys.modules
from hoodwink.predict import ImagePredictions, Prediction
png = drawn[("hoodwink.predict", "ImagePredictions")](ImagePredictions("x", (Prediction(0, "a", 1.0),)))
assert png[:4] == b"\\x89PNG" and "matplotlib" in sys.modules
print(len(drawn))
"""


@pytest.mark.slow  # a fresh Python process: seconds of start-up
def test_import_hoodwink_is_light_and_registers_pictures_lazily_in_jupyter() -> None:
    run = subprocess.run([sys.executable, "-c", IN_JUPYTER], capture_output=True, text=True, timeout=120,
                         check=False)
    assert run.returncode == 0, run.stderr
    assert int(run.stdout.strip()) >= 7
    plain = subprocess.run([sys.executable, "-c", "import sys, hoodwink; print('matplotlib' in sys.modules)"],
                           capture_output=True, text=True, timeout=120, check=False)
    assert plain.stdout.strip() == "False", plain.stderr
