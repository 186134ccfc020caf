"""The issue's 'done when', shortened, on the real network behind a real server (slow)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import hoodwink
from hoodwink.images import load_image

pytestmark = pytest.mark.slow


def _ask_again(model, image: torch.Tensor) -> int:  # type: ignore[no-untyped-def]
    pixels = (image * 255).round().byte().permute(1, 2, 0).numpy()[None]
    answer = model.ask(np.ascontiguousarray(pixels))
    return int(answer[0]) if model.labels_only else int(answer.argmax(1)[0])


def test_square_fools_a_served_network_answering_top_5_rounded(served, imagenet_model,
                                                               tmp_path) -> None:
    from hoodwink.models.remote import load_remote

    torch.set_num_threads(2)
    with served(imagenet_model, top=5, digits=2) as (url, _):
        api = load_remote(url)
        result = hoodwink.trick(api, "chelsea", away=True, attack="square", eps="4/255",
                                queries=300)     # the cat: tiger cat 0.39 vs Egyptian cat 0.36
        assert result.success.all() and int(result.queries[0]) <= 300
        path = hoodwink.save_image(result.adversarial[0], tmp_path / "adv.png")
        back = _ask_again(api, load_image(path))
    assert back == int(result.adversarial_probabilities.argmax(1)[0])
    assert back != int(result.goal_classes[0])


def test_hopskipjump_fools_a_label_only_served_network(served, imagenet_model) -> None:
    from hoodwink.models.remote import load_remote

    torch.set_num_threads(2)
    with served(imagenet_model, labels_only=True) as (url, _):
        api = load_remote(url)
        result = hoodwink.trick(api, "coffee", away=True, attack="hopskipjump", eps=None,
                                norm="l2", queries=300)
        assert result.success.all() and float(result.l2[0]) > 0
        assert _ask_again(api, result.adversarial[0]) != int(result.goal_classes[0])
