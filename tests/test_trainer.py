"""The trainer: it lowers the loss, weights the epoch mean by batch size, is deterministic, stops on NaN."""

from __future__ import annotations

import pytest
import torch

from aelab.errors import TrainingError
from aelab.models.dense import DenseAutoencoder
from aelab.objectives import ReconstructionObjective, bce_from_logits, pixel_entropy
from aelab.train.trainer import Trainer


def structured_images(n: int, seed: int = 0) -> torch.Tensor:
    """Images on a 4-dimensional manifold, so a code of 4 can learn them."""
    g = torch.Generator().manual_seed(seed)
    basis = torch.rand(4, 64, generator=g)
    return torch.sigmoid(3 * (torch.rand(n, 4, generator=g) @ basis - 1))


def make_trainer(seed: int = 0, epochs: int = 3, batch_size: int = 16, lr: float = 1e-2) -> Trainer:
    model = DenseAutoencoder(64, 4, generator=torch.Generator().manual_seed(seed))
    return Trainer(
        model,
        ReconstructionObjective(),
        batch_size=batch_size,
        epochs=epochs,
        learning_rate=lr,
        generator=torch.Generator().manual_seed(seed),
        quiet=True,
    )


def test_training_lowers_loss():
    x = structured_images(512)
    trainer = make_trainer(epochs=5)
    before = trainer.evaluate(x)
    history = trainer.fit(x, x)
    assert history[-1].test_loss < before - 0.02
    assert history[-1].train_loss < history[0].train_loss
    assert [r.epoch for r in history] == [1, 2, 3, 4, 5]


def test_epoch_loss_is_sample_weighted_mean_of_batch_losses(monkeypatch):
    x = structured_images(50)  # 50 = 3 batches of 16 and one of 2
    trainer = make_trainer(epochs=1)
    seen = []
    original = type(trainer.engine).__call__

    def recording_step(self, target, inputs):
        loss, parts = original(self, target, inputs)
        seen.append((loss.item(), len(target)))
        return loss, parts

    monkeypatch.setattr(type(trainer.engine), "__call__", recording_step)
    loss, parts = trainer.train_epoch(x, 1)
    assert [n for _, n in seen] == [16, 16, 16, 2]
    assert loss == pytest.approx(sum(batch_loss * n for batch_loss, n in seen) / 50, rel=1e-6)
    assert parts["bce"] == pytest.approx(loss, rel=1e-6)


def test_same_seed_same_result_different_seed_different():
    x = structured_images(128)
    a = [r.train_loss for r in make_trainer(seed=1).fit(x)]
    b = [r.train_loss for r in make_trainer(seed=1).fit(x)]
    c = [r.train_loss for r in make_trainer(seed=2).fit(x)]
    assert a == b and a != c


def test_non_finite_loss_stops_with_epoch_named():
    x = structured_images(64)
    x[5, 3] = float("nan")
    with pytest.raises(TrainingError, match=r"epoch 1, step \d: training loss became nan"):
        make_trainer().fit(x)


def test_bce_floor_is_entropy_and_is_reached_only_at_target():
    target = torch.rand(8, 20) * 0.98 + 0.01
    floor = pixel_entropy(target)
    exact = bce_from_logits(torch.logit(target), target)
    assert exact == pytest.approx(floor.item(), rel=1e-5)
    assert bce_from_logits(torch.logit(target) + 0.3, target) > floor


def test_the_bar_moves_within_half_a_second_on_slow_steps(monkeypatch):
    """A conv step takes ~0.2 s: refreshed every 50 steps, its bar sat at 0% for 9 s. A slow autograd step (0.12 s here)
    moves the bar within REFRESH_SECONDS, step by step (the compiled step keeps its runs of 50: test_fused_chunks)."""
    import time

    from aelab.train import trainer as trainer_module

    updates = []

    class Bar:
        n = 0

        def __init__(self, *args, **kwargs):
            pass

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

        def update(self, k):
            self.n += k
            updates.append((time.perf_counter(), self.n))

        def set_postfix(self, **kwargs):
            pass

    monkeypatch.setattr(trainer_module, "progress_bar", Bar)
    trainer = make_trainer(epochs=1, batch_size=16)  # Trainer's default engine: autograd
    assert trainer.run_length == 1  # an engine that takes its steps one by one is handed them one at a time
    engine = type(trainer.engine)
    real = engine.__call__
    monkeypatch.setattr(engine, "__call__", lambda self, *a: time.sleep(0.12) or real(self, *a))
    started = time.perf_counter()
    trainer.fit(structured_images(16 * 12))
    assert updates[0][0] - started < trainer_module.REFRESH_SECONDS + 0.3 and updates[0][1] < 12
    assert len(updates) >= 3 and updates[-1][1] == 12
