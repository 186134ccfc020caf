"""The Digits tab's nets and canvas (no server): the drawn set, canvas to MNIST-like digit,
training once, live probabilities, templates and a trick into a 3."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from hoodwink.errors import ImageError, ParameterError
from hoodwink.web.digits import DigitsLab, canvas_to_digit, drawn_digits


def test_drawn_digits_are_a_split_of_all_ten() -> None:
    split = drawn_digits(per_class=10)
    assert split.train.images.shape[1:] == (1, 28, 28) and len(split.train) + len(split.test) == 100
    assert set(split.train.labels.tolist()) == set(range(10)) and "no MNIST" in split.note
    assert 0 <= float(split.train.images.min()) and float(split.train.images.max()) <= 1


def test_canvas_to_digit_inverts_crops_and_centres() -> None:
    paper = np.full((280, 280, 3), 255, dtype=np.uint8)
    paper[40:120, 200:220] = 0  # a dark stroke, off centre, on white paper
    digit = canvas_to_digit(paper)
    assert digit.shape == (1, 28, 28)
    ink = (digit[0] > 0.5).nonzero()
    rows, cols = ink[:, 0], ink[:, 1]
    assert int(rows.max() - rows.min()) + 1 == 20  # the box's long side is 20 pixels
    assert abs(float(rows.float().mean()) - 13.5) < 1.5 and abs(float(cols.float().mean()) - 13.5) < 1.5
    layer = np.zeros((280, 280, 4), dtype=np.uint8)  # ink on a transparent layer
    layer[100:180, 100:110, 3] = 255
    assert canvas_to_digit(layer).max() > 0.5
    with pytest.raises(ImageError, match="draw a digit"):
        canvas_to_digit(np.full((280, 280), 255, dtype=np.uint8))


@pytest.fixture(scope="module")
def lab() -> DigitsLab:
    return DigitsLab(mnist=None)


@pytest.mark.slow
def test_linear_net_trains_once_reads_drawn_digits_and_is_tricked_into_a_3(lab: DigitsLab) -> None:
    first = lab.trained("linear")
    assert lab.trained("linear") is first and first.accuracy > 0.7, first
    sevens = lab.data().test
    seven = sevens.images[sevens.labels == 7][0]
    probs = lab.predict("linear", seven)
    assert set(probs) == {str(d) for d in range(10)} and abs(sum(probs.values()) - 1) < 1e-4
    result = lab.trick("linear", seven, "3", eps=0.3, steps=30)
    assert bool(result.success[0]) and result.adversarial_predictions[0][0].name == "3"
    assert float((result.adversarial - seven).abs().max()) <= 0.3 + 1e-6
    assert lab.templates_png()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(ParameterError, match="unknown digits net"):
        lab.trained("resnet")


def test_a_saved_net_is_used_instead_of_training(tiny_model_file: str) -> None:
    lab = DigitsLab(mnist=None, files={"linear": Path(tiny_model_file)})
    trained = lab.trained("linear")
    assert "loaded from" in trained.note and trained.model.num_classes == 10
    assert isinstance(lab.predict("linear", torch.zeros(1, 28, 28))["3"], float)


@pytest.mark.slow
def test_the_tab_turns_errors_into_messages(lab: DigitsLab) -> None:
    pytest.importorskip("gradio")
    from hoodwink.web.app import DigitsTab

    tab = DigitsTab(lab)
    blank = {"composite": np.full((280, 280, 3), 255, dtype=np.uint8)}
    assert tab.live(blank, "linear") == (None, "draw a digit first")
    stroke = blank["composite"].copy()
    stroke[40:240, 130:150] = 0  # a "1"
    probs, status = tab.live({"composite": stroke}, "linear")
    assert probs is not None and "right on its test images" in status
    picture, _after, text = tab.trick({"composite": stroke}, "linear", "3", 0.3, 30)
    assert picture.shape == (224, 224, 3) and "now sees **3**" in text, text
    assert tab.trick(None, "linear", "3", 0.3, 30)[2].startswith("**Cannot do that:**")
