from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from typer.testing import CliRunner

from hoodwink import viz
from hoodwink.cli import app
from hoodwink.errors import ParameterError
from hoodwink.predict import ImagePredictions, Prediction
from hoodwink.viz.common import percent
from hoodwink.viz.predictions import prediction_figure

CAT = ImagePredictions("chelsea", (Prediction(282, "tiger cat", 0.391), Prediction(285, "Egyptian cat", 0.350),
                                   Prediction(281, "tabby", 0.168)))
COFFEE = ImagePredictions("coffee", (Prediction(967, "espresso", 0.952), Prediction(968, "cup", 0.015),
                                     Prediction(925, "consomme", 0.008)))


def _bars(ax: object) -> list[tuple[float, float]]:
    """(y, width) of every bar, top first."""
    patches = sorted(ax.patches, key=lambda p: -p.get_y())  # type: ignore[attr-defined]
    return [(p.get_y(), p.get_width()) for p in patches]


def test_one_row_per_image_with_names_probabilities_and_titles() -> None:
    fig = prediction_figure([CAT, COFFEE], title="is this a cat?")
    assert len(fig.axes) == 2
    assert fig.get_suptitle() == "is this a cat?"
    for ax, row in zip(fig.axes, [CAT, COFFEE]):
        assert ax.get_title(loc="left") == row.image
        names = [t.get_text() for t in ax.get_yticklabels()]
        # the best class is the top tick: tick labels run bottom to top
        ticks = sorted(zip(ax.get_yticks(), names), key=lambda t: -t[0])
        assert [n for _, n in ticks] == [p.name for p in row.predictions]
        widths = [w for _, w in _bars(ax)]
        np.testing.assert_allclose(widths, [p.probability for p in row.predictions])
        assert [t.get_text() for t in ax.texts] == [percent(p.probability) for p in row.predictions]


def test_images_are_drawn_beside_their_bars() -> None:
    images = [torch.rand(3, 6, 6), torch.rand(3, 6, 6)]
    fig = prediction_figure([CAT, COFFEE], images)
    assert len(fig.axes) == 4  # two bar axes first, then two image axes
    for ax, image in zip(fig.axes[2:], images):
        np.testing.assert_allclose(ax.images[0].get_array(), image.permute(1, 2, 0).numpy(), atol=1e-6)


def test_bad_input() -> None:
    with pytest.raises(ParameterError, match="no predictions"):
        prediction_figure([])
    with pytest.raises(ParameterError, match="1 images for 2 predictions"):
        prediction_figure([CAT, COFFEE], [torch.rand(3, 4, 4)])


def test_image_predictions_show_inline_in_jupyter() -> None:
    png = viz.png(CAT)
    with Image.open(io.BytesIO(png)) as picture:
        assert picture.format == "PNG"


runner = CliRunner()


def test_predict_plot_writes_a_png_and_keeps_stdout_json(tmp_path: Path, tiny_model_file: str) -> None:
    plot = tmp_path / "bars.png"
    result = runner.invoke(app, ["predict", "chelsea", "black", "--top", "3", "--json", "--plot", str(plot),
                                 "--model", tiny_model_file])
    assert result.exit_code == 0, result.stderr
    assert [entry["image"] for entry in json.loads(result.stdout)] == ["chelsea", "black"]  # stdout: only JSON
    with Image.open(plot) as picture:
        assert picture.format == "PNG" and picture.size[1] >= 2 * 160  # two rows of at least 1.6 inches


@pytest.mark.parametrize(("name", "message"), [("bars.jpg", "saved as .png"), ("nope/bars.png", "does not exist")])
def test_predict_bad_plot_path_fails_before_any_work(tmp_path: Path, name: str, message: str) -> None:
    result = runner.invoke(app, ["predict", "chelsea", "--plot", str(tmp_path / name)])
    assert result.exit_code == 1 and result.stdout == ""
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert list(tmp_path.iterdir()) == []
