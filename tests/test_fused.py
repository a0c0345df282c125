"""The fused step (hand-written forward, backward, Adam) computes what autograd + torch.optim.Adam compute."""

from __future__ import annotations

import shutil

import pytest
import torch

from aelab.data.noise import corruption
from aelab.models.dense import DenseAutoencoder
from aelab.objectives import objective_for
from aelab.train.fused import FusedDenseStep, threshold_backward  # noqa: F401
from aelab.train.state import restore_trainer_state, trainer_state
from aelab.train.trainer import Trainer


def images(n=256, d=64, seed=0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.sigmoid(3 * (torch.rand(n, 4, generator=g) @ torch.rand(4, d, generator=g) - 1))


def trained(fused: bool, hidden=(), l1=0.0, reduction="mean", noise=None, epochs=3, batch=16, native=True):
    """native: True (the whole step compiled), "kernels" (compiled kernels between torch's products) or False."""
    model = DenseAutoencoder(64, 6, hidden, generator=torch.Generator().manual_seed(1))
    stepper = FusedDenseStep(model, 1e-2, l1, reduction, native=bool(native), whole_step=native is True) if fused else None
    if fused and native and shutil.which("cc"):
        assert stepper.native is not None, "the compiled kernels should build where a C compiler is"
    trainer = Trainer(model, objective_for(l1, reduction), batch_size=batch, epochs=epochs, learning_rate=1e-2,
                      generator=torch.Generator().manual_seed(2), quiet=True, stepper=stepper,
                      input_transform=corruption(noise, 0.2) if noise else None)
    history = trainer.fit(images(), images(64, seed=5))
    return model, history


@pytest.mark.parametrize("native", [True, "kernels", False], ids=["whole-step", "compiled-kernels", "torch-kernels"])
@pytest.mark.parametrize("hidden, l1, reduction, noise", [
    ((), 0.0, "mean", None), ((16,), 0.0, "mean", None), ((16, 8), 0.0, "mean", None),
    ((), 1e-3, "mean", None), ((), 1e-3, "sum", None), ((16,), 1e-3, "mean", None), ((16,), 0.0, "mean", "gaussian"),
])
def test_fused_matches_autograd(hidden, l1, reduction, noise, native):
    (ma, ha), (mb, hb) = trained(False, hidden, l1, reduction, noise), trained(True, hidden, l1, reduction, noise, native=native)
    for (name, p), q in zip(ma.named_parameters(), mb.parameters()):
        assert p.shape == q.shape
        assert torch.allclose(p, q, atol=2e-5, rtol=1e-4), f"{name}: max diff {(p - q).abs().max():.2e}"
    for a, b in zip(ha, hb):  # 48 steps of Adam later, losses agree to float32 rounding
        assert a.train_loss == pytest.approx(b.train_loss, rel=1e-5)
        assert a.test_loss == pytest.approx(b.test_loss, rel=1e-5)
        assert a.train_parts.keys() == b.train_parts.keys()
    assert ha[-1].train_loss < ha[0].train_loss


def test_first_layer_is_stored_transposed_but_reads_normally():
    model = DenseAutoencoder(64, 6, generator=torch.Generator().manual_seed(1))
    before = {k: v.clone() for k, v in model.state_dict().items()}
    FusedDenseStep(model, 1e-3)
    w = model.encoder[0].weight
    assert w.shape == (6, 64) and w.T.is_contiguous() and not w.is_contiguous()
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


def test_fused_state_round_trip_continues_identically():
    x = images()
    def fresh():
        model = DenseAutoencoder(64, 6, generator=torch.Generator().manual_seed(1))
        return Trainer(model, objective_for(0.0), batch_size=16, epochs=2, learning_rate=1e-2,
                       generator=torch.Generator().manual_seed(2), quiet=True, stepper=FusedDenseStep(model, 1e-2))
    straight = fresh()
    straight.fit(x)
    first = fresh()
    first.epochs = 1
    first.fit(x)
    tensors, info = trainer_state(first)
    second = fresh()
    restore_trainer_state(second, tensors, info)
    second.fit(x)
    assert all(torch.equal(p, q) for p, q in zip(straight.model.parameters(), second.model.parameters()))
    assert [r.train_loss for r in straight.position.history] == [r.train_loss for r in second.position.history]


def test_fused_engine_stops_on_nan_data():
    from aelab.errors import TrainingError

    x = images(64)
    x[40, 3] = float("nan")
    model = DenseAutoencoder(64, 6)
    trainer = Trainer(model, objective_for(0.0), batch_size=16, epochs=1, learning_rate=1e-2,
                      generator=torch.Generator().manual_seed(0), quiet=True, stepper=FusedDenseStep(model, 1e-2))
    with pytest.raises(TrainingError, match=r"epoch 1, step \d: training loss became nan"):
        trainer.fit(x)


@pytest.mark.parametrize("scale, shift", [(1.0, 0.0), (30.0, -60.0), (5.0, -120.0), (40.0, 50.0)])
def test_fused_bce_is_exact_for_extreme_logits(scale, shift):
    """Very negative logits (σ underflows) took the fast formula to inf on MNIST; both branches must be exact."""
    import torch.nn.functional as F

    g = torch.Generator().manual_seed(0)
    z = torch.randn(32, 784, generator=g) * scale + shift
    x = (torch.rand(32, 784, generator=g) < 0.3).float() * torch.rand(32, 784, generator=g)
    expected_loss = F.binary_cross_entropy_with_logits(z, x)
    expected_grad = (torch.sigmoid(z) - x) / x.numel()
    z_grad = torch.empty_like(z)
    loss = FusedDenseStep.bce_and_output_gradient(z, x, z_grad)
    assert torch.isfinite(loss) and loss.item() == pytest.approx(expected_loss.item(), rel=1e-5, abs=1e-6)
    assert torch.allclose(z_grad, expected_grad, atol=1e-9)
