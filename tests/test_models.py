"""Model shapes, parameter counts and the Keras-like initialisation."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from aelab.errors import ConfigError
from aelab.models.dense import DenseAutoencoder
from aelab.models.registry import MODELS, get_family


def n_params(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def test_shallow_and_deep_parameter_counts():
    assert n_params(DenseAutoencoder(784, 32)) == (784 * 32 + 32) + (32 * 784 + 784)
    deep = DenseAutoencoder(784, 32, (128,))
    assert n_params(deep) == (784 * 128 + 128) + (128 * 32 + 32) + (32 * 128 + 128) + (128 * 784 + 784)


@settings(max_examples=25, deadline=None)
@given(
    batch=st.integers(1, 5),
    n_features=st.integers(1, 30),
    code=st.integers(1, 9),
    hidden=st.lists(st.integers(1, 12), max_size=2),
)
def test_shapes_and_ranges(batch, n_features, code, hidden):
    model = DenseAutoencoder(n_features, code, tuple(hidden))
    x = torch.rand(batch, n_features)
    logits, z = model(x)
    assert logits.shape == (batch, n_features) and z.shape == (batch, code)
    assert (z >= 0).all()  # ReLU code
    recon = model.reconstruct(x)
    assert recon.shape == x.shape and ((recon >= 0) & (recon <= 1)).all()
    assert model.first_layer_weights().shape == ((hidden or [code])[0], n_features)


def test_glorot_uniform_weights_and_zero_biases():
    model = DenseAutoencoder(784, 32, generator=torch.Generator().manual_seed(0))
    for layer in (model.encoder[0], model.decoder[0]):
        fan_in, fan_out = layer.weight.shape[1], layer.weight.shape[0]
        limit = math.sqrt(6 / (fan_in + fan_out))
        w = layer.weight.detach()
        assert w.abs().max() <= limit and w.abs().max() > 0.95 * limit
        assert abs(w.std().item() - limit / math.sqrt(3)) < 0.02 * limit  # std of U(-a, a) is a/√3
        assert torch.count_nonzero(layer.bias) == 0


def test_same_generator_seed_same_weights():
    a = DenseAutoencoder(20, 4, (8,), torch.Generator().manual_seed(7))
    b = DenseAutoencoder(20, 4, (8,), torch.Generator().manual_seed(7))
    c = DenseAutoencoder(20, 4, (8,), torch.Generator().manual_seed(8))
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))
    assert not torch.equal(a.encoder[0].weight, c.encoder[0].weight)


def test_registry_builds_study_models_and_suggests_names():
    assert get_family("shallow").default_epochs == 5 and get_family("deep").default_epochs == 10
    for name, family in MODELS.items():
        model = family.build((1, 28, 28), 32, (128,), None)
        assert model(torch.rand(2, 784))[0].shape == (2, 784), name
    with pytest.raises(ConfigError, match="did you mean 'shallow'"):
        get_family("shalow")
