"""Runs of steps in one compiled call (kernels.c's aelab_dense_steps) train exactly as the same steps one by one."""

from __future__ import annotations

import pytest
import torch

from aelab.models.dense import DenseAutoencoder
from aelab.objectives import objective_for
from aelab.train.compiled import dense as fused
from aelab.train.compiled.dense import CompiledDenseStep
from aelab.train.step import Step
from aelab.train.trainer import Trainer


def images(n: int, d: int = 64, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.sigmoid(3 * (torch.rand(n, 4, generator=g) @ torch.rand(4, d, generator=g) - 1))


def trained(split: str | None, chunks: bool, monkeypatch, n=230, batch=16, l1=0.0, fixed_noise=False, epochs=2):
    """A trainer's run with the compiled step, its steps taken in runs (`chunks`) or one by one (the default loop)."""
    with monkeypatch.context() as patch:
        if split is not None:
            patch.setattr(fused, "two_thread_split", lambda parameters, b: split)
        if not chunks:
            patch.setattr(CompiledDenseStep, "run_steps", Step.run_steps)
        model = DenseAutoencoder(64, 6, (16,), generator=torch.Generator().manual_seed(1))
        trainer = Trainer(
            model,
            objective_for(l1, "mean"),
            batch_size=batch,
            epochs=epochs,
            learning_rate=1e-2,
            generator=torch.Generator().manual_seed(2),
            quiet=True,
            engine="fused",
            threads=1 if split is None else 2,
        )
        assert type(trainer.engine) is CompiledDenseStep and trainer.engine.split == split
        x = images(n)
        noisy = (x + 0.3 * torch.randn(x.shape, generator=torch.Generator().manual_seed(3))).clamp(0, 1)
        history = trainer.fit(x, images(40, seed=9), **({"train_inputs": noisy} if fixed_noise else {}))
    return model, history, trainer


@pytest.mark.parametrize("split", [None, "rows", "columns"], ids=["one-thread", "rows", "columns"])
@pytest.mark.parametrize(
    "n, batch, l1, fixed_noise",
    [(230, 16, 0.0, False), (230, 7, 1e-3, False), (230, 16, 0.0, True), (225, 16, 0.0, False)],
    ids=["plain", "L1-odd-batch", "fixed-noise", "last-batch-of-one"],
)
def test_a_run_of_steps_in_one_call_equals_the_steps_one_by_one(split, n, batch, l1, fixed_noise, monkeypatch):
    """230 rows: 14 whole batches of 16 and one of 6 (32 of 7 and one of 6), in runs up to the trainer's refresh;
    225 rows end with a batch of one row, which two threads cannot halve."""
    runs = [
        trained(split, chunks, monkeypatch, n=n, batch=batch, l1=l1, fixed_noise=fixed_noise)
        for chunks in (True, False)
    ]
    (ma, ha, ta), (mb, hb, tb) = runs
    assert all(torch.equal(p, q) for p, q in zip(ma.parameters(), mb.parameters()))
    assert [(r.train_loss, r.test_loss, r.train_parts) for r in ha] == [
        (r.train_loss, r.test_loss, r.train_parts) for r in hb
    ]
    assert ta.engine.optimizer.steps == tb.engine.optimizer.steps == 2 * -(-n // batch)
    for key in ("exp_avg", "exp_avg_sq"):
        assert torch.equal(
            ta.engine.optimizer.state_dict()["state"][0][key], tb.engine.optimizer.state_dict()["state"][0][key]
        )


@pytest.mark.parametrize("split", [None, "rows", "columns"], ids=["one-thread", "rows", "columns"])
def test_the_trainer_hands_the_compiled_step_whole_runs(split, monkeypatch):
    """No silent fall back to the step-by-step loop: it is made to fail here, and training still runs (in runs of at
    most the trainer's refresh interval, the epoch's short last batch a run of its own)."""
    calls = []
    original = CompiledDenseStep.run_steps

    def counted(self, data, inputs, rows, should_stop=lambda: False):
        calls.append(tuple(rows.shape))
        return original(self, data, inputs, rows, should_stop)

    def refused(*args, **kwargs):
        raise AssertionError("the step-by-step loop ran")

    monkeypatch.setattr(Step, "run_steps", refused)
    monkeypatch.setattr(CompiledDenseStep, "run_steps", counted)
    trained(split, True, monkeypatch, n=60 * 16 + 5, epochs=1)
    assert calls == [(50, 16), (10, 16), (1, 5)]


def trained_vae(threads: int, chunks: bool, monkeypatch, n: int, batch: int, fixed_noise: bool):
    from aelab.models.variational import DenseVAE
    from aelab.objectives import VariationalObjective
    from aelab.train.compiled.vae import CompiledVAEStep

    with monkeypatch.context() as patch:
        if not chunks:
            patch.setattr(CompiledVAEStep, "run_steps", Step.run_steps)
        model = DenseVAE(64, 3, (16,), torch.Generator().manual_seed(1))
        trainer = Trainer(
            model,
            VariationalObjective(2.0),
            batch_size=batch,
            epochs=2,
            learning_rate=1e-2,
            generator=torch.Generator().manual_seed(2),
            quiet=True,
            engine="fused",
            threads=threads,
        )
        assert type(trainer.engine) is CompiledVAEStep
        x = images(n)
        noisy = (x + 0.3 * torch.randn(x.shape, generator=torch.Generator().manual_seed(3))).clamp(0, 1)
        history = trainer.fit(x, images(40, seed=9), **({"train_inputs": noisy} if fixed_noise else {}))
    return model, history


@pytest.mark.parametrize("threads", [1, 2], ids=["one-thread", "two-threads"])
@pytest.mark.parametrize(
    "n, batch, fixed_noise",
    [(230, 16, False), (225, 16, True), (230, 7, False)],
    ids=["plain", "fixed-noise-last-batch-of-one", "odd-batch"],
)
def test_a_vae_s_run_of_steps_equals_its_steps_one_by_one(threads, n, batch, fixed_noise, monkeypatch):
    """ε included: the run draws each step's in step order before its call, as the steps one by one draw them."""
    (ma, ha), (mb, hb) = [trained_vae(threads, chunks, monkeypatch, n, batch, fixed_noise) for chunks in (True, False)]
    assert all(torch.equal(p, q) for p, q in zip(ma.state_dict().values(), mb.state_dict().values()))  # draws too
    assert [(r.train_loss, r.test_loss, r.train_parts) for r in ha] == [
        (r.train_loss, r.test_loss, r.train_parts) for r in hb
    ]


@pytest.mark.parametrize("threads", [1, 2], ids=["one-thread", "two-groups"])
def test_a_sweep_s_run_of_steps_equals_its_steps_one_by_one(threads, monkeypatch):
    from aelab.models.batched import BatchedDenseAutoencoder
    from aelab.objectives import PerModelBCE
    from aelab.train.compiled.sweep import CompiledSweepStep

    runs = []
    for chunks in (True, False):
        with monkeypatch.context() as patch:
            if not chunks:
                patch.setattr(CompiledSweepStep, "run_steps", Step.run_steps)
            sizes = (3, 5, 8)
            model = BatchedDenseAutoencoder(64, sizes, (), [torch.Generator().manual_seed(s) for s in sizes])
            trainer = Trainer(
                model,
                PerModelBCE(),
                batch_size=16,
                epochs=2,
                learning_rate=1e-2,
                generator=torch.Generator().manual_seed(2),
                quiet=True,
                engine="fused",
                threads=threads,
            )
            assert type(trainer.engine) is CompiledSweepStep
            runs.append((model, trainer.fit(images(225), images(40, seed=9))))
    (ma, ha), (mb, hb) = runs
    assert all(torch.equal(p, q) for p, q in zip(ma.parameters(), mb.parameters()))
    assert [r.train_loss for r in ha] == [r.train_loss for r in hb]
    assert [r.train_parts for r in ha] == [r.train_parts for r in hb]


def test_a_run_names_the_step_whose_loss_became_non_finite(monkeypatch):
    from aelab.errors import TrainingError

    x = images(64)
    x[40, 3] = float("nan")  # row 40: in whichever batch the order puts it
    trainer = Trainer(
        DenseAutoencoder(64, 6),
        objective_for(0.0),
        batch_size=16,
        epochs=1,
        learning_rate=1e-2,
        generator=torch.Generator().manual_seed(0),
        quiet=True,
        engine="fused",
    )
    order = torch.randperm(64, generator=torch.Generator().manual_seed(0))
    step_of_row = int((order == 40).nonzero()) // 16 + 1
    with pytest.raises(TrainingError, match=rf"epoch 1, step {step_of_row}: training loss became nan"):
        trainer.fit(x)
