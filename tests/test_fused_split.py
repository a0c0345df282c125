"""Two threads sharing a dense step by columns (kernels.c's aelab_dense_step_split): each thread owns half of every
layer's units and updates its own weights. It must compute what autograd computes, continue exactly after a resume,
be chosen where the measurements say it pays, and say so in the record."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from aelab.models.dense import DenseAutoencoder
from aelab.native import library
from aelab.objectives import ReconstructionObjective, SparseObjective
from aelab.runs.checkpointing import engine_identity
from aelab.train.compiled import dense as fused
from aelab.train.compiled.dense import CompiledDenseStep, two_thread_split
from aelab.train.engines import make_step
from aelab.train.state import restore_trainer_state, trainer_state
from aelab.train.step import AutogradStep
from aelab.train.trainer import Trainer, flush_denormals


def images(n: int, d: int, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.sigmoid(3 * (torch.rand(n, 4, generator=g) @ torch.rand(4, d, generator=g) - 1))


def flat(model: torch.nn.Module) -> torch.Tensor:
    return torch.cat([p.detach().reshape(-1) for p in model.parameters()])


@pytest.mark.parametrize(
    "d, code, hidden, objective, batch",
    [
        (64, 6, (), ReconstructionObjective(), 16),
        (784, 32, (128, 64), ReconstructionObjective(), 32),  # the study's deep model: columns cut on 64-byte lines
        (64, 1, (), ReconstructionObjective(), 16),  # a layer one unit wide: one thread has no columns there
        (64, 2, (40,), SparseObjective(1e-3), 15),  # odd batch, L1 on a code two wide
        (50, 7, (33, 17), SparseObjective(1e-3, "sum"), 1),  # widths off every boundary, a batch of one row
    ],
)
def test_columns_step_computes_what_autograd_computes(d, code, hidden, objective, batch):
    x = images(4 * batch, d)
    runs = {}
    for kind in ("autograd", "columns"):
        model = DenseAutoencoder(d, code, hidden, generator=torch.Generator().manual_seed(1))
        step = (
            AutogradStep(model, objective, 1e-3)
            if kind == "autograd"
            else CompiledDenseStep(model, objective, 1e-3, threads=2, split=kind)
        )
        losses = []
        with flush_denormals(), step.running():
            for i in range(12):
                rows = x[(i % 4) * batch : (i % 4 + 1) * batch]
                loss, parts = step(rows, rows)
                losses.append(
                    (
                        float(torch.as_tensor(loss).detach()),
                        {k: float(torch.as_tensor(v).detach()) for k, v in parts.items()},
                    )
                )
        runs[kind] = (flat(model), losses)
    (p, la), (q, lb) = runs["autograd"], runs["columns"]
    assert torch.allclose(p, q, atol=2e-5, rtol=1e-4), f"max diff {(p - q).abs().max():.2e}"
    for (a, parts_a), (b, parts_b) in zip(la, lb):  # 12 steps of Adam: the loss and each part to float32 rounding
        assert b == pytest.approx(a, rel=1e-5)
        assert parts_b.keys() == parts_a.keys() and all(
            parts_b[k] == pytest.approx(parts_a[k], rel=1e-5) for k in parts_a
        )


@pytest.fixture
def columns(monkeypatch):
    """Every compiled dense step with two threads splits by columns (the models here are too small to choose it)."""
    monkeypatch.setattr(fused, "two_thread_split", lambda parameters, batch: "columns")


def trainer(epochs: int = 2) -> Trainer:
    model = DenseAutoencoder(64, 6, (16,), generator=torch.Generator().manual_seed(1))
    return Trainer(
        model,
        SparseObjective(1e-3),
        batch_size=16,
        epochs=epochs,
        learning_rate=1e-2,
        generator=torch.Generator().manual_seed(2),
        quiet=True,
        engine="fused",
        threads=2,
    )


def test_a_run_split_by_columns_continues_exactly_after_a_resume(columns):
    x = images(256, 64)
    straight = trainer()
    assert straight.engine.describe()["split"] == "columns"
    straight.fit(x)
    first = trainer(epochs=1)
    first.fit(x)
    tensors, info = trainer_state(first)
    second = trainer()
    restore_trainer_state(second, tensors, info)
    second.fit(x)
    assert torch.equal(flat(straight.model), flat(second.model))
    assert [r.train_loss for r in straight.position.history] == [r.train_loss for r in second.position.history]


def test_two_trainers_split_by_columns_share_the_helper_thread_safely(columns):
    """Two models at once (aelab reproduce) take kernels.c's one helper thread and barrier in turn."""
    from concurrent.futures import ThreadPoolExecutor

    x = images(256, 64)
    alone = [trainer().fit(x)[-1].train_loss for _ in range(2)]
    with ThreadPoolExecutor(2) as pool:
        together = [f.result()[-1].train_loss for f in [pool.submit(lambda: trainer().fit(x)) for _ in range(2)]]
    assert together == alone


def test_the_split_is_chosen_by_the_measured_rule(monkeypatch):
    monkeypatch.setattr(library, "l2_cache_bytes", lambda: 2 << 20)
    deep = sum(
        p.numel() for p in DenseAutoencoder(784, 32, (128, 64)).parameters()
    )  # 222,384: 3.6 MB with Adam's state
    shallow = sum(p.numel() for p in DenseAutoencoder(784, 32).parameters())  # 50,992: 0.8 MB
    assert [two_thread_split(deep, b) for b in (16, 32, 64, 128, None)] == ["columns"] * 3 + ["rows"] * 2
    assert [two_thread_split(shallow, b) for b in (16, 32, 128)] == ["rows"] * 3
    monkeypatch.setattr(library, "l2_cache_bytes", lambda: 1 << 20)  # a 1 MiB L2 (AMD Zen 4/5): halves the threshold
    assert two_thread_split(100_000, 32) == "columns" and two_thread_split(60_000, 32) == "rows"


def test_the_study_s_deep_model_trains_split_by_columns_and_the_record_says_so(monkeypatch):
    """Through make_step as the trainer calls it: a silent fall back to the row split would fail here."""
    monkeypatch.setattr(library, "l2_cache_bytes", lambda: 2 << 20)
    deep = make_step(
        "fused", DenseAutoencoder(784, 32, (128, 64)), ReconstructionObjective(), 1e-3, threads=2, batch_size=32
    )
    shallow = make_step("fused", DenseAutoencoder(784, 32), ReconstructionObjective(), 1e-3, threads=2, batch_size=32)
    one = make_step(
        "fused", DenseAutoencoder(784, 32, (128, 64)), ReconstructionObjective(), 1e-3, threads=1, batch_size=32
    )
    assert (deep.describe()["split"], shallow.describe()["split"], "split" in one.describe()) == (
        "columns",
        "rows",
        False,
    )
    assert engine_identity(deep.describe())["split"] == "columns"  # a resume under the other split is told so
    assert len(deep.grads) == 1 and deep.optimizer.grad2 is None  # no second gradient buffer to add


def test_an_unknown_split_is_refused():
    from aelab.errors import EngineError

    with pytest.raises(EngineError, match=r"^compiled step: split 'diagonal': expected 'rows' or 'columns'$"):
        CompiledDenseStep(DenseAutoencoder(64, 6), ReconstructionObjective(), 1e-3, threads=2, split="diagonal")


@pytest.mark.parametrize(
    "files, expected",
    [
        ({"index0": ("1", "Data", "48K"), "index2": ("2", "Unified", "2048K")}, 2 << 20),
        ({"index2": ("2", "Unified", "1M")}, 1 << 20),
        ({"index1": ("1", "Instruction", "32K")}, library.DEFAULT_L2_BYTES),  # no level-2 entry: the default
        ({"index2": ("2", "Unified", "lots")}, library.DEFAULT_L2_BYTES),  # unreadable: the default
    ],
)
def test_the_l2_size_is_read_from_sysfs(tmp_path: Path, files, expected):
    for name, (level, kind, size) in files.items():
        (tmp_path / name).mkdir()
        for field, value in (("level", level), ("type", kind), ("size", size)):
            (tmp_path / name / field).write_text(value + "\n")
    assert library.l2_cache_bytes.__wrapped__(tmp_path) == expected
