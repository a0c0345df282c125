"""The convolutional and variational families: architectures, initialisation, sampling, the VAE loss by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from aelab.config import MODEL_NAMES, VARIATIONAL_NAMES, TrainConfig
from aelab.errors import ConfigError
from aelab.models.conv import ConvAutoencoder
from aelab.models.registry import MODELS, get_family
from aelab.models.variational import ConvVAE, DenseVAE, GaussianCode, seeded_generator
from aelab.objectives import VariationalObjective, gaussian_kl
from aelab.tasks.recipe import resolve
from aelab.train.engines import make_step
from aelab.train.step import AutogradStep

MNIST = (1, 28, 28)


def n_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def test_conv_autoencoder_has_the_keras_examples_28353_parameters():
    model = ConvAutoencoder(MNIST)
    assert n_parameters(model) == 28_353
    assert model.code_size == 7 * 7 * 32


def test_conv_vae_has_the_keras_examples_layers():
    model = ConvVAE(MNIST, 2)
    # encoder 320 + 18,496 + 50,192 + 2×34; decoder 9,408 + 36,928 + 18,464 + 289 (the example's model.summary())
    assert n_parameters(model) == 69_076 + 65_089


@pytest.mark.parametrize("build", [lambda g: ConvAutoencoder((3, 32, 32), g), lambda g: ConvVAE((3, 32, 32), 4, g)])
def test_rgb_32x32_forward_and_backward(build):
    model = build(torch.Generator().manual_seed(0))
    x = torch.rand(5, 3 * 32 * 32)
    logits, code = model(x)
    assert logits.shape == (5, 3 * 32 * 32)
    loss = nn.functional.binary_cross_entropy_with_logits(logits, x) + (
        code.mean.square().mean() if isinstance(code, GaussianCode) else 0
    )
    loss.backward()
    assert all(
        p.grad is not None and torch.isfinite(p.grad).all() and p.grad.abs().sum() > 0 for p in model.parameters()
    )
    assert model.reconstruct(x).shape == x.shape and 0 <= model.reconstruct(x).min() and model.reconstruct(x).max() <= 1


@pytest.mark.parametrize("shape", [(1, 30, 28), (784,), (1, 28)])
def test_conv_models_refuse_shapes_they_cannot_halve_twice(shape):
    for name in ("conv", "conv-vae"):
        with pytest.raises(ConfigError, match="divisible by 4"):
            get_family(name).build(shape, 2, (), None)


def test_keras_initialisation_glorot_uniform_kernels_zero_biases():
    model = ConvAutoencoder(MNIST, torch.Generator().manual_seed(1))
    for layer in (m for m in model.modules() if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d))):
        receptive = layer.weight[0, 0].numel()
        fan_in, fan_out = layer.in_channels * receptive, layer.out_channels * receptive
        bound = math.sqrt(6 / (fan_in + fan_out))  # Glorot & Bengio 2010, eq. 16
        weights = layer.weight.detach()
        assert weights.abs().max() <= bound and weights.abs().max() > 0.8 * bound  # uniform fills the interval
        assert torch.all(layer.bias == 0)


def test_every_family_is_registered_in_config_and_the_variational_ones_agree():
    assert tuple(MODELS) == MODEL_NAMES
    assert tuple(name for name, f in MODELS.items() if f.variational) == VARIATIONAL_NAMES


def test_family_defaults_resolve():
    assert resolve(TrainConfig(model="conv-denoising")).noise == "gaussian"
    assert resolve(TrainConfig(model="conv-denoising")).noise_factor == 0.4
    assert resolve(TrainConfig(model="denoising")).noise_factor == 0.2
    assert resolve(TrainConfig(model="vae")).beta == 1.0 and resolve(TrainConfig(model="beta-vae")).beta == 4.0
    assert resolve(TrainConfig(model="deep")).beta is None
    assert resolve(TrainConfig(model="conv-vae", beta=0.5)).beta == 0.5


@pytest.mark.parametrize(
    "settings, message",
    [
        ({"model": "deep", "beta": 2.0}, "expected --beta only with a variational model"),
        ({"model": "vae", "beta": 0.0}, r"--beta 0.0: expected a number in \(0, 1000\]"),
        ({"model": "vae", "l1": 1e-3}, "expected no L1 on a variational model"),
        ({"model": "vea"}, "did you mean 'vae'"),
    ],
)
def test_bad_family_settings_are_one_line_errors(settings, message):
    with pytest.raises(ConfigError, match=message):
        TrainConfig(**settings)


def test_vae_loss_matches_a_hand_computation():
    """Two images of three pixels, a two-dimensional code: every term written out in NumPy."""
    logits = torch.tensor([[0.5, -1.0, 2.0], [-0.3, 0.0, 1.2]], dtype=torch.float64)
    target = torch.tensor([[1.0, 0.0, 0.7], [0.2, 1.0, 0.0]], dtype=torch.float64)
    mean = torch.tensor([[0.1, -0.4], [1.0, 0.3]], dtype=torch.float64)
    log_var = torch.tensor([[-0.2, 0.5], [0.0, -1.0]], dtype=torch.float64)
    total, parts = VariationalObjective(beta=1.5)(logits, GaussianCode(mean, mean, log_var), target)

    p = 1 / (1 + np.exp(-logits.numpy()))
    bce = -(target.numpy() * np.log(p) + (1 - target.numpy()) * np.log(1 - p))
    reconstruction = bce.sum(axis=1).mean()
    m, lv = mean.numpy(), log_var.numpy()
    kl_terms = -0.5 * (1 + lv - m**2 - np.exp(lv))
    assert parts["reconstruction"].item() == pytest.approx(reconstruction, rel=1e-12)
    assert parts["kl_per_dim"].numpy() == pytest.approx(kl_terms.mean(axis=0), rel=1e-12)
    assert parts["kl"].item() == pytest.approx(kl_terms.sum(axis=1).mean(), rel=1e-12)
    assert total.item() == pytest.approx(reconstruction + 1.5 * kl_terms.sum(axis=1).mean(), rel=1e-12)


def test_gaussian_kl_is_zero_at_the_prior_and_positive_elsewhere():
    zeros = torch.zeros(4, 3)
    assert torch.equal(gaussian_kl(zeros, zeros), zeros)
    shifted = gaussian_kl(torch.full((4, 3), 0.5), torch.full((4, 3), -0.3))
    assert torch.all(shifted > 0)


def test_vae_sampling_is_seeded_fresh_in_training_and_fixed_in_eval():
    model = DenseVAE(12, 3, (8,), torch.Generator().manual_seed(0))
    x = torch.rand(4, 12)
    model.train()
    first, second = model(x)[1].sample, model(x)[1].sample
    assert not torch.equal(first, second) and int(model.draws) == 2
    twin = DenseVAE(12, 3, (8,), torch.Generator().manual_seed(0))
    assert torch.equal(twin(x)[1].sample, first)  # same seed, same first draw
    model.eval()
    assert torch.equal(model(x)[1].sample, model(x)[1].sample) and int(model.draws) == 2
    assert torch.equal(model.encode(x), model(x)[1].mean)


def test_vae_noise_is_a_fresh_generator_s_draw_for_its_seed_whatever_was_drawn_before():
    """ε comes from one reseeded generator per thread: each draw must equal a fresh generator's for the same seed, even
    after a draw of another shape and dtype left the generator mid-stream (or holding a cached normal)."""
    model = DenseVAE(12, 3, (8,), torch.Generator().manual_seed(0))
    seed = int(model.noise_seed)
    draws = []
    for like in (torch.empty(5, 3), torch.empty(1, 3, dtype=torch.float64), torch.empty(33, 3)):
        draws.append((like, model.noise(like)))
        torch.randn(7, generator=seeded_generator(123), dtype=torch.float64)  # leaves the shared generator mid-stream
    for i, (like, drawn) in enumerate(draws):
        fresh = torch.randn(like.shape, generator=torch.Generator().manual_seed(seed + i), dtype=like.dtype)
        assert torch.equal(drawn, fresh)
    assert int(model.draws) == 3


def test_vae_saved_buffers_restore_the_noise_stream():
    model = DenseVAE(12, 3, (), torch.Generator().manual_seed(3))
    x = torch.rand(4, 12)
    model(x)
    copy = DenseVAE(12, 3, ())
    copy.load_state_dict(model.state_dict())
    assert torch.equal(copy(x)[1].sample, model(x)[1].sample)


@pytest.mark.parametrize("name", ["conv", "conv-vae"])  # the dense VAE has its compiled step: tests/test_fused_vae.py
def test_the_fused_engine_trains_these_families_on_autograd_and_says_why(name):
    model = get_family(name).build(MNIST, 2, (16,), None)
    step = make_step("fused", model, VariationalObjective(), 1e-3)
    assert isinstance(step, AutogradStep)
    assert "dense autoencoders only" in step.describe()["fallback"]


def test_a_vae_resumed_mid_training_continues_bit_for_bit():
    """The sampling noise lives in the model's buffers, so a checkpoint restores its stream with the weights."""
    from aelab.train.state import restore_trainer_state, trainer_state
    from aelab.train.trainer import Trainer

    def trainer(epochs: int) -> Trainer:
        model = DenseVAE(12, 2, (8,), torch.Generator().manual_seed(0))
        return Trainer(
            model,
            VariationalObjective(2.0),
            batch_size=8,
            epochs=epochs,
            learning_rate=1e-2,
            generator=torch.Generator().manual_seed(1),
            quiet=True,
        )

    x = torch.rand(40, 12, generator=torch.Generator().manual_seed(2))
    whole = trainer(3)
    whole.fit(x)
    first = trainer(1)
    first.fit(x)
    tensors, info = trainer_state(first)
    resumed = trainer(3)
    restore_trainer_state(resumed, tensors, info)
    resumed.fit(x)
    assert all(
        torch.equal(a, b) for a, b in zip(whole.model.state_dict().values(), resumed.model.state_dict().values())
    )
    assert [r.train_parts for r in whole.position.history] == [r.train_parts for r in resumed.position.history]
