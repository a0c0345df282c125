"""Denoising corruptions and the L1 sparsity term: properties, not typed-in numbers."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from aelab.data.noise import CORRUPTIONS, corruption, gaussian, masking, salt_pepper
from aelab.errors import ConfigError
from aelab.objectives import SparseObjective, bce_from_logits, l1_penalty, objective_for


def images(n: int = 400, d: int = 784, seed: int = 0) -> torch.Tensor:
    return torch.rand(n, d, generator=torch.Generator().manual_seed(seed))


@settings(max_examples=20, deadline=None)
@given(kind=st.sampled_from(sorted(CORRUPTIONS)), factor=st.floats(0.0, 1.0), seed=st.integers(0, 2**31))
def test_corruptions_stay_in_range_and_keep_shape(kind, factor, seed):
    x = images(8, 50)
    y = CORRUPTIONS[kind](x, factor, torch.Generator().manual_seed(seed))
    assert y.shape == x.shape and y.dtype == x.dtype
    assert (y >= 0).all() and (y <= 1).all()
    assert torch.equal(x, images(8, 50))  # the clean batch is never modified in place


def test_gaussian_is_clipped_x_plus_scaled_normal():
    x = images()
    g1, g2 = torch.Generator().manual_seed(3), torch.Generator().manual_seed(3)
    expected = (x + 0.2 * torch.randn(x.shape, generator=g2)).clamp(0, 1)
    assert torch.equal(gaussian(x, 0.2, g1), expected)


def test_masking_and_salt_pepper_hit_the_requested_fraction():
    x = images(200, 784) * 0.5 + 0.25  # strictly inside (0, 1), so any 0 or 1 is a corruption
    g = torch.Generator().manual_seed(0)
    zeroed = (masking(x, 0.3, g) == 0).float().mean().item()
    assert zeroed == pytest.approx(0.3, abs=0.01)
    sp = salt_pepper(x, 0.2, g)
    hit = ((sp == 0) | (sp == 1)).float()
    assert hit.mean().item() == pytest.approx(0.2, abs=0.01)
    assert (sp == 1).float().sum().item() == pytest.approx((sp == 0).float().sum().item(), rel=0.1)


def test_same_generator_same_noise_fresh_draws_differ():
    x = images(4, 30)
    corrupt = corruption("gaussian", 0.2)
    g = torch.Generator().manual_seed(1)
    a, b = corrupt(x, g), corrupt(x, g)
    assert not torch.equal(a, b)  # the generator advances: fresh noise every batch
    assert torch.equal(a, corrupt(x, torch.Generator().manual_seed(1)))
    with pytest.raises(ConfigError, match="did you mean 'gaussian'"):
        corruption("gausian", 0.2)


def test_l1_term_adds_exactly_the_penalty():
    code = torch.rand(32, 16, generator=torch.Generator().manual_seed(0))
    logits, target = torch.randn(32, 20), torch.rand(32, 20)
    total, parts = SparseObjective(1e-3, "mean")(logits, code, target)
    assert parts["l1"].item() == pytest.approx(1e-3 * code.abs().sum().item() / 32, rel=1e-6)
    assert total.item() == pytest.approx(bce_from_logits(logits, target).item() + parts["l1"].item(), rel=1e-6)
    summed = l1_penalty(code, 1e-3, "sum")
    assert summed.item() == pytest.approx(32 * parts["l1"].item(), rel=1e-6)  # Keras 2.0 grows with the batch
    assert isinstance(objective_for(0.0), type(objective_for(0.0))) and not isinstance(
        objective_for(0.0), SparseObjective
    )


def test_l1_pulls_code_towards_zero():
    """Gradient of the penalty on the code is weight·sign(code)/batch for 'mean'."""
    code = torch.rand(8, 5, requires_grad=True)
    l1_penalty(code, 0.5, "mean").backward()
    assert torch.allclose(code.grad, torch.full_like(code, 0.5 / 8))
