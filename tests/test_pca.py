"""The PCA reference, checked against NumPy's own eigendecomposition and by its properties."""

from __future__ import annotations

import numpy as np
import pytest

from aelab.errors import ConfigError
from aelab.tasks.pca import CLIP, PCA, reconstruction_errors


def correlated(n: int = 300, d: int = 12, seed: int = 0) -> np.ndarray:
    """(n, d) float32 data with unequal variances, roughly in [0, 1]."""
    rng = np.random.default_rng(seed)
    return (0.5 + 0.1 * rng.normal(size=(n, d)) @ rng.normal(size=(d, d))).astype(np.float32)


@pytest.mark.parametrize("solver", ["covariance_eigh", "full"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_training_mse_is_the_sum_of_discarded_eigenvalues(seed, solver):
    X = correlated(seed=seed)
    n, d = X.shape
    eigenvalues = np.linalg.eigvalsh(np.cov(X.astype(np.float64), rowvar=False))[::-1]  # NumPy's, descending
    pca = PCA(svd_solver=solver).fit(X)
    np.testing.assert_allclose(pca.explained_variance_, eigenvalues, rtol=1e-10, atol=1e-12)
    errors = reconstruction_errors(pca, X, list(range(d + 1)))
    discarded = np.array([eigenvalues[k:].sum() for k in range(d + 1)]) * (n - 1) / n / d  # per pixel, ddof 0
    np.testing.assert_allclose(errors["mse"], discarded, rtol=1e-9, atol=1e-12)
    assert np.all(np.diff(errors["mse"]) < 0)  # each component removes its (positive) variance


def test_full_rank_reconstructs_exactly_and_components_are_orthonormal():
    X = correlated()
    pca = PCA().fit(X)
    np.testing.assert_allclose(pca.reconstruct(X, X.shape[1]), X, atol=1e-6)
    np.testing.assert_allclose(pca.components_ @ pca.components_.T, np.eye(X.shape[1]), atol=1e-12)
    np.testing.assert_allclose(
        pca.reconstruct(X, 0), np.broadcast_to(X.mean(axis=0, dtype=np.float64), X.shape), atol=1e-12
    )


def test_fit_returns_self_with_shapes_and_float64():
    X = correlated(n=50, d=6)
    pca = PCA(n_components=4)
    assert pca.fit(X) is pca
    assert pca.mean_.shape == (6,) and pca.components_.shape == (4, 6) and pca.explained_variance_.shape == (4,)
    assert pca.components_.dtype == np.float64 and pca.n_samples_ == 50
    assert np.all(np.diff(pca.explained_variance_) <= 0)
    assert pca.transform(X, 2).shape == (50, 2)


@pytest.mark.parametrize("compiled", [True, False], ids=["compiled", "numpy"])
@pytest.mark.parametrize("n, d", [(40, 5), (300, 30)])
def test_bce_uses_clipped_reconstructions_and_stays_finite(compiled, n, d, monkeypatch):
    if not compiled:
        monkeypatch.setattr("aelab.tasks.pca.load_native", lambda: None)
    rng = np.random.default_rng(0)
    X = (rng.integers(0, 2, size=(n, d)) * rng.uniform(0.5, 1.0, size=(n, d))).astype(np.float32)  # PCA leaves [0, 1]
    pca = PCA().fit(X)
    sizes = [1, d // 2, d]
    errors = reconstruction_errors(pca, X, sizes)
    assert np.all(np.isfinite(errors["bce"]))
    for j, k in enumerate(sizes):  # the compiled kernel works in float32: ~1e-6 relative
        p = np.clip(pca.reconstruct(X, k), CLIP, 1 - CLIP)
        exact = -(X * np.log(p) + (1 - X) * np.log(1 - p)).mean()
        np.testing.assert_allclose(errors["bce"][j], exact, rtol=1e-5 if compiled else 1e-9)
        np.testing.assert_allclose(errors["mse"][j], np.square(pca.reconstruct(X, k) - X).mean(), rtol=1e-9, atol=1e-12)


def test_sizes_in_any_order_and_beyond_the_components():
    X = correlated(n=40, d=6)
    pca = PCA().fit(X)
    forward = reconstruction_errors(pca, X, [1, 3, 6])
    shuffled = reconstruction_errors(pca, X, [6, 1, 3, 10])
    np.testing.assert_allclose(
        shuffled["mse"], [forward["mse"][2], forward["mse"][0], forward["mse"][1], forward["mse"][2]]
    )


@pytest.mark.parametrize("n", [8, 40])
def test_both_solvers_give_the_same_components(n):
    X = correlated(n=n, d=12)
    eig, svd = PCA(svd_solver="covariance_eigh").fit(X), PCA(svd_solver="full").fit(X)
    rank = min(n - 1, 12)  # centring removes one dimension; beyond it the components are arbitrary
    np.testing.assert_allclose(svd.explained_variance_[:rank], eig.explained_variance_[:rank], rtol=1e-9)
    np.testing.assert_allclose(svd.components_[:rank], eig.components_[:rank], atol=1e-7)
    assert PCA().fit(X).components_.shape == (min(n, 12), 12)


def test_bad_settings_are_refused():
    with pytest.raises(ConfigError):
        PCA(n_components=7).fit(correlated(n=20, d=6))
    with pytest.raises(ConfigError):
        PCA().fit(correlated(n=1, d=6))
    with pytest.raises(ConfigError, match="svd_solver"):
        PCA(svd_solver="arpack").fit(correlated(n=20, d=6))
    with pytest.raises(ConfigError, match="k=7"):
        PCA().fit(correlated(n=20, d=6)).reconstruct(correlated(n=2, d=6), 7)
