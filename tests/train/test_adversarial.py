"""Adversarial training (FGSM with random start, PGD) through the attack engine's lean path."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch

from hoodwink.attacks import Goal, ThreatModel, get_attack
from hoodwink.train import DataSplit, TrainConfig, load_dataset, loop, train


@pytest.fixture(scope="module")
def split(mnist_dir: Path) -> DataSplit:
    return load_dataset(mnist_dir)


def _robust(model: Any, split: DataSplit, eps: float) -> float:
    attack = get_attack("pgd", steps=10, seed=0)
    result = attack(model, split.test.images, Goal.untargeted(split.test.labels), ThreatModel("linf", eps))
    return 1.0 - float(result.success.float().mean())


def test_adversarial_training_makes_the_network_robust(split: DataSplit) -> None:
    eps = 0.1
    common: dict[str, Any] = {"epochs": 3, "batch_size": 32, "eps": eps, "steps": 3}
    options = {"hidden": 64}
    plain = train("mlp", split, TrainConfig(epochs=3, batch_size=32), options=options, device="cpu")
    fgsm = train("mlp", split, TrainConfig(adversarial="fgsm", **common), options=options, device="cpu")
    pgd = train("mlp", split, TrainConfig(adversarial="pgd", **common), options=options, device="cpu")
    assert min(plain.test_accuracy, fgsm.test_accuracy, pgd.test_accuracy) >= 0.9
    robust = {name: _robust(r.model, split, eps) for name, r in (("plain", plain), ("fgsm", fgsm), ("pgd", pgd))}
    assert robust["pgd"] >= robust["plain"] + 0.2, robust
    assert robust["fgsm"] > robust["plain"], robust
    assert pgd.summary()["config"]["adversarial"] == "pgd"


def test_training_batches_are_attacked_inside_the_ball(split: DataSplit, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[tuple[float, torch.Tensor, torch.Tensor]] = []
    original = loop._Adversary.__call__

    def spy(self: Any, model: Any, images: torch.Tensor, labels: torch.Tensor, step: int, batches: int) -> torch.Tensor:
        adversarial = original(self, model, images, labels, step, batches)
        seen.append((self.eps_at(step, batches), images, adversarial))
        return adversarial

    monkeypatch.setattr(loop._Adversary, "__call__", spy)
    for method in ("fgsm", "pgd"):
        seen.clear()
        config = TrainConfig(epochs=2, batch_size=64, adversarial=method, eps=0.2, steps=2, warmup=1.0)
        train("linear", split, config, device="cpu")
        batches = -(-len(split.train) // 64)
        assert len(seen) == 2 * batches
        ramp = [eps for eps, _, _ in seen]
        assert ramp[0] == pytest.approx(0.2 / batches) and ramp[batches - 1:] == [0.2] * (batches + 1)
        assert ramp == sorted(ramp)
        for eps, clean, adversarial in seen:
            delta = (adversarial - clean).abs()
            assert float(delta.max()) <= eps + 1e-6
            assert float(adversarial.min()) >= 0 and float(adversarial.max()) <= 1
            assert float(delta.mean()) > 0.2 * eps  # the batch really was moved


def test_adversarial_training_is_deterministic_for_a_seed(split: DataSplit) -> None:
    config = TrainConfig(epochs=1, batch_size=64, adversarial="pgd", eps=0.1, steps=2, seed=5)
    a = train("linear", split, config, device="cpu").model.net.state_dict()
    b = train("linear", split, config, device="cpu").model.net.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
