"""Pictures of results: ``figure(result)``, ``save(result, path)``, ``show(result)``, and Jupyter's.

Results (predictions, attack results, explanations, training results, gradients,
linearity sweeps) are plain data and import nothing from here; this package knows
how to draw each of them. Drawers are registered by the dotted name of the type
they draw (``"hoodwink.attacks.result.AttackResult"``) and by the dotted name of
the function that draws it, so that registering imports neither matplotlib nor
the result's module: ``import hoodwink`` stays light, and in Jupyter
(:func:`install_jupyter`, called by ``import hoodwink`` when IPython is running)
matplotlib is imported when the first picture is drawn.

Example:
    >>> from hoodwink.predict import ImagePredictions, Prediction
    >>> bars = ImagePredictions("cat.png", (Prediction(282, "tiger cat", 0.39),))
    >>> figure(bars).axes[0].get_title(loc="left")
    'cat.png'
    >>> png(bars)[:4]
    b'\\x89PNG'
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hoodwink.errors import ParameterError

if TYPE_CHECKING:
    from matplotlib.figure import Figure

#: type's dotted name -> "module:function" that draws it (or the function itself).
FIGURES: dict[str, str | Callable[..., Any]] = {
    "hoodwink.predict.ImagePredictions": "hoodwink.viz.predictions:image_predictions_figure",
    "hoodwink.attacks.result.AttackResult": "hoodwink.viz.trick:result_figure",
    "hoodwink.explain.result.Explanation": "hoodwink.viz.explain:explanation_figure",
    "hoodwink.explain.result.AttackExplanation": "hoodwink.viz.explain:attack_figure",
    "hoodwink.train.loop.TrainResult": "hoodwink.viz.training:training_figure",
    "hoodwink.gradient.ClassGradient": "hoodwink.viz.gradient:class_gradient_figure",
    "hoodwink.linearity.LinearitySweep": "hoodwink.viz.linearity:linearity_figure",
}

#: Jupyter's image/png formatters that :func:`install_jupyter` registered with.
_FORMATTERS: list[Any] = []


def type_name(cls: type) -> str:
    """``"hoodwink.attacks.result.AttackResult"``: the key a type is registered under."""
    return f"{cls.__module__}.{cls.__qualname__}"


def register_figure(cls: type | str, drawer: str | Callable[..., Any]) -> None:
    """Draw results of type ``cls`` (a type or its dotted name) with ``drawer``.

    ``drawer`` takes the result (and optional keywords) and returns a matplotlib
    Figure; give it as ``"module:function"`` to import it only when a picture is
    drawn. Registering again replaces the drawer; Jupyter learns of it too.
    """
    key = cls if isinstance(cls, str) else type_name(cls)
    if "." not in key:
        raise ParameterError(f"register a type or its dotted name (module.Type), not {key!r}")
    if isinstance(drawer, str) and ":" not in drawer:
        raise ParameterError(f"a drawer given by name is 'module:function', not {drawer!r}")
    FIGURES[key] = drawer
    for formatter in _FORMATTERS:
        _register_with(formatter, key)


def drawer_for(result: Any) -> Callable[..., Figure]:
    """The function that draws ``result`` (looked up along its type's MRO).

    Raises:
        ParameterError: when no picture is registered for the type.
    """
    for cls in type(result).__mro__:
        drawer = FIGURES.get(type_name(cls))
        if drawer is None:
            continue
        if isinstance(drawer, str):
            module, _, function = drawer.partition(":")
            drawer = getattr(importlib.import_module(module), function)
        return drawer
    known = ", ".join(sorted(key.rpartition(".")[2] for key in FIGURES))
    raise ParameterError(f"no picture for a {type(result).__name__}; there are pictures of: {known}")


def figure(result: Any, **options: Any) -> Figure:
    """The picture of ``result`` as a matplotlib Figure (``options`` go to its drawer)."""
    return drawer_for(result)(result, **options)


def png(result: Any, **options: Any) -> bytes:
    """The picture of ``result`` as PNG bytes."""
    from hoodwink.viz.common import figure_png

    return figure_png(figure(result, **options))


def save(result: Any, path: str | os.PathLike[str], **options: Any) -> Path:
    """Write the picture of ``result`` to ``path`` (a .png, atomically); returns the path.

    The path is checked before anything is drawn.
    """
    from hoodwink.viz.common import check_png_path, save_figure

    check_png_path(path)
    return save_figure(figure(result, **options), path)


def show(result: Any, **options: Any) -> None:
    """Show the picture of ``result`` inline (Jupyter or IPython with a display).

    Raises:
        ParameterError: outside IPython; use :func:`save` there.
    """
    shell = _shell()
    if shell is None:
        raise ParameterError("show() needs Jupyter or IPython; elsewhere use hoodwink.viz.save(result, 'file.png')")
    from IPython.display import Image, display

    display(Image(data=png(result, **options), format="png"))


def install_jupyter(shell: Any = None) -> bool:
    """Let Jupyter show every registered result as its picture; True when there is a shell.

    Registers with ``shell.display_formatter.formatters["image/png"]`` by type
    name, so neither the result modules nor matplotlib are imported until a
    result is displayed. ``import hoodwink`` calls this when IPython is running.
    """
    shell = shell if shell is not None else _shell()
    if shell is None:
        return False
    formatter = shell.display_formatter.formatters["image/png"]
    if not any(f is formatter for f in _FORMATTERS):
        _FORMATTERS.append(formatter)
    for key in FIGURES:
        _register_with(formatter, key)
    return True


def _register_with(formatter: Any, key: str) -> None:
    module, _, name = key.rpartition(".")
    formatter.for_type_by_name(module, name, _jupyter_png)


def _jupyter_png(result: Any) -> bytes:
    return png(result)


def _shell() -> Any:
    ipython = sys.modules.get("IPython")
    get_ipython = getattr(ipython, "get_ipython", None)
    return get_ipython() if callable(get_ipython) else None


__all__ = ["FIGURES", "drawer_for", "figure", "install_jupyter", "png", "register_figure",
           "save", "show", "type_name"]
