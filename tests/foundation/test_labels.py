from __future__ import annotations

import pytest

from hoodwink.errors import ClassNotFoundError
from hoodwink.models.labels import Labels, imagenet_labels


@pytest.fixture(scope="module")
def labels() -> Labels:
    return imagenet_labels()


def test_thousand_classes_in_order(labels: Labels) -> None:
    assert len(labels) == 1000
    assert labels.name(0) == "tench"
    assert labels.name(23) == "vulture"
    assert labels.name(700) == "paper towel"
    assert labels.ids[388] == "n02510455"


@pytest.mark.parametrize(
    ("query", "index"),
    [
        ("vulture", 23), ("Paper Towel", 700), ("paper_towel", 700), ("  PAPER   towel ", 700),
        ("panda", 388), ("giant panda", 388), ("red panda", 387), ("lesser panda", 387),
        ("tiger cat", 282), ("espresso", 967), ("tabby cat", 281), ("Carcharodon carcharias", 2),
        ("n01616318", 23), ("23", 23), (23, 23), (0, 0), ("999", 999),
    ],
)
def test_find_by_index_id_or_any_synonym(labels: Labels, query: int | str, index: int) -> None:
    assert labels.find(query) == index


def test_shared_name_goes_to_the_more_prominent_synonym_then_lower_index(labels: Labels) -> None:
    # "crane" is the first name of both 134 (the bird) and 517 (the machine): lower index wins
    assert labels.find("crane") == 134
    # "panda" is the 2nd name of 388 but the 3rd of 387
    assert labels.synonyms[388].index("panda") < labels.synonyms[387].index("panda")


@pytest.mark.parametrize("query", [1000, -1, "1000", True])
def test_out_of_range_index(labels: Labels, query: int | str) -> None:
    with pytest.raises(ClassNotFoundError):
        labels.find(query)


def test_unknown_name_suggests_close_names(labels: Labels) -> None:
    with pytest.raises(ClassNotFoundError) as info:
        labels.find("vultre")
    message = str(info.value)
    assert "unknown class 'vultre'" in message and "did you mean" in message and "'vulture'" in message


def test_a_word_of_a_longer_name_is_suggested(labels: Labels) -> None:
    assert "paper towel" in labels.suggest("towel")


def test_small_label_sets() -> None:
    digits = Labels.from_names("0123456789")
    assert digits.find("7") == 7 and digits.find(7) == 7 and digits.name(3) == "3"
    with pytest.raises(ClassNotFoundError, match="0 to 9"):
        digits.find(10)
