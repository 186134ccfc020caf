"""The issue's "done when": a test file with ``assert_robust`` fails for a standard digits CNN
and passes for a PGD-trained one (Madry et al. 2018), driven as a user's test suite.

Both CNNs are trained here, on the evaluation tests' synthetic digits (a bright block at a
place of its own per class), written as MNIST IDX files, so the test needs nothing from
``../shared``. The PGD training (eps 0.3, 3 steps, 3 epochs) is what makes it ``slow``: about half a minute.
"""

from __future__ import annotations

import importlib.metadata
from pathlib import Path

import pytest
import torch

from hoodwink.train import TrainConfig, load_dataset, save_trained, train, write_idx

pytest_plugins = ["pytester"]

def _write_digits(make_digits, folder: Path, n: int, part: str, seed: int) -> None:  # type: ignore[no-untyped-def]
    """``n`` of the shared synthetic digits (conftest's ``make_digits``) as MNIST IDX files."""
    images, labels = make_digits(n, seed=seed)
    write_idx((images[:, 0] * 255).round().to(torch.uint8).numpy(), folder / f"{part}-images-idx3-ubyte")
    write_idx(labels.to(torch.uint8).numpy(), folder / f"{part}-labels-idx1-ubyte")


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory, digits_maker) -> tuple[Path, Path, Path]:  # type: ignore[no-untyped-def]
    """(standard CNN file, PGD-trained CNN file, MNIST folder of their test digits)."""
    folder = tmp_path_factory.mktemp("digits")
    _write_digits(digits_maker, folder, 600, "train", seed=0)
    _write_digits(digits_maker, folder, 200, "t10k", seed=1)
    split = load_dataset(folder)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        standard = train("cnn", split, TrainConfig(epochs=2, batch_size=32, seed=0), device="cpu")
        robust = train("cnn", split, TrainConfig(adversarial="pgd", epochs=3, batch_size=32, eps=0.3,
                                                 steps=3, seed=0), device="cpu")
    finally:
        torch.set_num_threads(threads)
    assert min(standard.test_accuracy, robust.test_accuracy) >= 0.95  # both learned the task
    return (Path(save_trained(standard, str(folder / "cnn.safetensors"))),
            Path(save_trained(robust, str(folder / "cnn-pgd.safetensors"))), folder)


@pytest.mark.slow
def test_assert_robust_fails_the_standard_cnn_and_passes_the_pgd_trained_one(
        pytester: pytest.Pytester, trained: tuple[Path, Path, Path]) -> None:
    standard, robust, data = trained
    pytester.makepyfile(test_robustness=f'''
        import torch
        from hoodwink import load_model
        from hoodwink.testing import assert_robust

        torch.set_num_threads(1)

        def test_standard_cnn():
            assert_robust(load_model({str(standard)!r}), {str(data)!r}, eps=0.2, at_least=0.7,
                          suite="quick", limit=30)

        def test_pgd_trained_cnn():
            assert_robust(load_model({str(robust)!r}), {str(data)!r}, eps=0.2, at_least=0.7,
                          suite="quick", limit=30)
    ''')
    registered = any(e.name == "hoodwink" for e in importlib.metadata.entry_points(group="pytest11"))
    result = pytester.runpytest_inprocess(*([] if registered else ["-p", "hoodwink.pytest_plugin"]),
                                          "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines([
        "*FAILED test_robustness.py::test_standard_cnn*",
    ])
    result.stdout.fnmatch_lines([
        "*robust accuracy * < 70.0% at eps 51/255 (linf, quick suite, judged against the true labels)*",
        "*(index *): * -> * by apgd-*adversarial PNG *.png",
    ])
    assert "test_pgd_trained_cnn FAILED" not in result.stdout.str()
