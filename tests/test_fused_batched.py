"""The fused sweep step computes what the batched model's autograd step computes."""

from __future__ import annotations

import shutil

import pytest
import torch

from aelab.models.batched import BatchedDenseAutoencoder
from aelab.objectives import PerModelBCE
from aelab.train.fused_batched import FusedBatchedStep
from aelab.train.trainer import Trainer


def images(n=256, d=64, seed=0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.sigmoid(3 * (torch.rand(n, 4, generator=g) @ torch.rand(4, d, generator=g) - 1))


def trained(fused: bool, hidden=(), sizes=(3, 5, 8, 8), native=True):
    """native: True (the whole step compiled), "two-threads" (the same, two groups of models at once),
    "kernels" (compiled kernels between torch's products) or False (PyTorch only)."""
    model = BatchedDenseAutoencoder(64, sizes, hidden, [torch.Generator().manual_seed(i) for i in range(len(sizes))])
    stepper = FusedBatchedStep(model, 1e-2, native=bool(native), whole_step=native in (True, "two-threads"),
                               threads=2 if native == "two-threads" else 1) if fused else None
    if fused and native and shutil.which("cc"):
        assert stepper.native is not None, "the compiled kernels should build where a C compiler is"
    history = Trainer(model, PerModelBCE(), batch_size=16, epochs=3, learning_rate=1e-2,
                      generator=torch.Generator().manual_seed(2), quiet=True, stepper=stepper).fit(images())
    return model, history


@pytest.mark.parametrize("native", [True, "two-threads", "kernels", False],
                         ids=["whole-step", "whole-step-two-threads", "compiled-kernels", "torch-kernels"])
@pytest.mark.parametrize("hidden", [(), (16,)])
def test_fused_batched_matches_autograd(hidden, native):
    (ma, ha), (mb, hb) = trained(False, hidden), trained(True, hidden, native=native)
    for a, b in zip(ma.parameters(), mb.parameters()):
        assert a.shape == b.shape and torch.allclose(a, b, atol=2e-5, rtol=1e-4), f"max diff {(a - b).abs().max():.2e}"
    for ra, rb in zip(ha, hb):
        assert ra.train_loss == pytest.approx(rb.train_loss, rel=1e-5)
        assert ra.train_parts["bce"] == pytest.approx(rb.train_parts["bce"], rel=1e-5)
        assert ra.train_parts["mse"] == pytest.approx(rb.train_parts["mse"], rel=1e-4)


@pytest.mark.parametrize("hidden", [(), (16,)])
def test_every_parameter_is_a_view_of_one_unpadded_flat_buffer(hidden):
    model, _ = trained(True, hidden)  # trained through the views, so the views held
    stepper = FusedBatchedStep(model, 1e-2)
    flat = stepper.optimizer.flat
    assert flat.numel() == sum(model.n_parameters)
    start, end = flat.data_ptr(), flat.data_ptr() + flat.numel() * flat.element_size()
    assert all(start <= p.data_ptr() < end for p in model.parameters())
    for m in range(len(model.models)):  # each model still reads as an ordinary DenseAutoencoder
        alone = model.extract(m)
        x = images(4)
        assert torch.allclose(model.models[m](x)[0], alone(x)[0], atol=1e-6)
