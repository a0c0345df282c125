"""Each new family, reduced to a few hundred steps on real MNIST, must learn: bounds a broken model or loss fails.

The full reference runs (the Keras examples: 50 + 100 conv epochs, 30 VAE epochs on 70,000 images) take
hours on a CPU; their rows are in docs/RESULTS.md (scripts/results.py --families). These reduced runs
check what a few hundred steps can show: every family beats the mean image (the best input-blind
reconstruction) by a wide margin, and a VAE's recorded parts add up to its total with KL > 0 and finite.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import aelab

N_TRAIN, N_TEST, BATCH, EPOCHS = 6_400, 2_000, 128, 4  # 200 steps
PIXELS = 784


@pytest.fixture(scope="module")
def mnist(real_data_dir):
    data = aelab.load_dataset("mnist", real_data_dir, progress=False)
    return data.train_images[:N_TRAIN], data.test_images[:N_TEST]


def bce(prediction: np.ndarray, target: np.ndarray) -> float:
    """Mean BCE per pixel of probabilities `prediction` against `target` (float64; clipped away from 0 and 1)."""
    p = np.clip(prediction.astype(np.float64), 1e-7, 1 - 1e-7)
    t = target.astype(np.float64)
    return float(-(t * np.log(p) + (1 - t) * np.log(1 - p)).mean())


def mean_image_bce(train: np.ndarray, test: np.ndarray) -> float:
    """BCE per pixel of predicting every test image by the mean training image: what a model that ignores its input
    scores."""
    return bce(np.broadcast_to(train.mean(axis=0), test.shape), test)


def fit(mnist, **settings) -> aelab.Autoencoder:
    train, test = mnist
    return aelab.Autoencoder(batch_size=BATCH, epochs=EPOCHS, seed=0, **settings).fit(train, X_test=test)


@pytest.mark.slow
@pytest.mark.parametrize("model", ["conv", "conv-denoising"])
def test_conv_autoencoders_beat_the_mean_image_by_far(mnist, model):
    train, test = mnist
    baseline = mean_image_bce(train, test)
    final = fit(mnist, model=model).final_
    floor = final["test_bce_floor"]
    # the mean image sits ~0.19 above the floor; 200 steps of a working conv model close most of that gap
    assert final["test_bce"] < floor + 0.4 * (baseline - floor), (final["test_bce"], floor, baseline)
    if model == "conv-denoising":  # trained on noisy inputs, it still reconstructs the clean images
        assert final["clean_test_bce"] < floor + 0.4 * (baseline - floor)


# −ELBO bound as a share of the mean image's reconstruction term. A collapsed posterior (the code ignored, KL 0)
# scores the mean image's ≈200 nats; measured after these 200 steps (code 16, seed 0): dense VAE 156 nats, conv VAE
# 190 (its 16-unit dense layer before the code learns slowly at first; the Keras example's first epoch is 547 steps).
ELBO_BOUND = {"vae": 0.85, "conv-vae": 0.97}


@pytest.mark.slow
@pytest.mark.parametrize("model", sorted(ELBO_BOUND))
def test_vaes_learn_and_their_parts_add_up(mnist, model):
    train, test = mnist
    baseline = mean_image_bce(train, test) * PIXELS  # nats per image: the mean image's reconstruction term alone
    ae = fit(mnist, model=model, code_size=16, hidden_sizes=(256,))
    final = ae.final_
    for epoch in ae.history_:
        parts = epoch["train_parts"]
        assert math.isfinite(parts["kl"]) and parts["kl"] > 0
        assert epoch["train_loss"] == pytest.approx(parts["reconstruction"] + parts["kl"], rel=1e-5)
    losses = [epoch["train_loss"] for epoch in ae.history_]
    assert losses == sorted(losses, reverse=True)
    assert final["test_kl"] > 0 and math.isfinite(final["test_elbo"])
    assert final["test_elbo"] == pytest.approx(-(final["test_reconstruction"] + final["test_kl"]))
    assert -final["test_elbo"] < ELBO_BOUND[model] * baseline, (final["test_elbo"], baseline)  # the KL included
    assert final["test_active_dims"] >= 1


@pytest.mark.slow
def test_beta_weights_the_kl_term(mnist):
    """β = 4 buys a smaller KL than β = 1 (at a cost in reconstruction): the weight reaches the gradient."""
    plain = fit(mnist, model="vae", code_size=8, hidden_sizes=(256,)).final_
    heavy = fit(mnist, model="beta-vae", code_size=8, hidden_sizes=(256,)).final_
    assert heavy["test_kl"] < 0.8 * plain["test_kl"], (heavy["test_kl"], plain["test_kl"])
    assert heavy["test_reconstruction"] > plain["test_reconstruction"]
