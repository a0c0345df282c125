"""The compiled sweep step computes what the batched model's autograd step computes."""

from __future__ import annotations

import pytest
import torch

from aelab.errors import EngineError
from aelab.models.batched import BatchedDenseAutoencoder
from aelab.objectives import PerModelBCE, ReconstructionObjective
from aelab.train.compiled.sweep import CompiledSweepStep
from aelab.train.engines import make_step
from aelab.train.trainer import Trainer


def images(n=256, d=64, seed=0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.sigmoid(3 * (torch.rand(n, 4, generator=g) @ torch.rand(4, d, generator=g) - 1))


def trained(engine: str, hidden=(), sizes=(3, 5, 8, 8), threads=1):
    model = BatchedDenseAutoencoder(64, sizes, hidden, [torch.Generator().manual_seed(i) for i in range(len(sizes))])
    trainer = Trainer(
        model,
        PerModelBCE(),
        batch_size=16,
        epochs=3,
        learning_rate=1e-2,
        generator=torch.Generator().manual_seed(2),
        quiet=True,
        engine=engine,
        threads=threads,
    )
    assert (type(trainer.engine) is CompiledSweepStep) == (engine == "fused"), trainer.engine.describe()
    return model, trainer.fit(images())


@pytest.mark.parametrize("threads", [1, 2], ids=["one-thread", "two-threads"])
@pytest.mark.parametrize("hidden", [(), (16,)])
def test_compiled_sweep_matches_autograd(hidden, threads):
    (ma, ha), (mb, hb) = trained("autograd", hidden), trained("fused", hidden, threads=threads)
    for a, b in zip(ma.parameters(), mb.parameters()):
        assert a.shape == b.shape and torch.allclose(a, b, atol=2e-5, rtol=1e-4), f"max diff {(a - b).abs().max():.2e}"
    for ra, rb in zip(ha, hb):
        assert ra.train_loss == pytest.approx(rb.train_loss, rel=1e-5)
        assert ra.train_parts["bce"] == pytest.approx(rb.train_parts["bce"], rel=1e-5)
        assert ra.train_parts["mse"] == pytest.approx(rb.train_parts["mse"], rel=1e-4)


@pytest.mark.parametrize("hidden", [(), (16,)])
def test_every_parameter_is_a_view_of_one_unpadded_flat_buffer(hidden):
    model, _ = trained("fused", hidden)  # trained through the views, so the views held
    flat = CompiledSweepStep(model, PerModelBCE(), 1e-2).optimizer.flat
    assert flat.numel() == sum(model.n_parameters)
    start, end = flat.data_ptr(), flat.data_ptr() + flat.numel() * flat.element_size()
    assert all(start <= p.data_ptr() < end for p in model.parameters())
    for m in range(len(model.models)):  # each model still reads as an ordinary DenseAutoencoder
        alone = model.extract(m)
        x = images(4)
        assert torch.allclose(model.models[m](x)[0], alone(x)[0], atol=1e-6)


def test_compiled_sweep_step_refuses_another_objective():
    model = BatchedDenseAutoencoder(64, (3, 5), (), [torch.Generator().manual_seed(i) for i in range(2)])
    with pytest.raises(
        EngineError, match=r"^compiled sweep step: BatchedDenseAutoencoder with ReconstructionObjective"
    ):
        make_step("fused", model, ReconstructionObjective(), 1e-3)
