"""Per-image anomaly scores (higher = more anomalous): the autoencoder's and its baselines'.

An autoencoder trained on normal images only reconstructs them well and others badly, so its
reconstruction error is a score. The baselines answer "is the network needed?": PCA at the same
code size (the best linear autoencoder), and distance to the nearest training images — in pixel
space, and in the autoencoder's own code space (does the code separate what the decoder does not?).
"""

from __future__ import annotations

import numpy as np
import torch
from sklearn.neighbors import NearestNeighbors

from aelab.objectives import output_of
from aelab.tasks.pca import PCA, matmul

BATCH = 2_000  # images per forward pass: bounds the (batch, 784) temporaries


@torch.no_grad()
def reconstruction_scores(model: torch.nn.Module, x: torch.Tensor, loss: str | None = None) -> dict[str, np.ndarray]:
    """Per-sample reconstruction errors of `x` (n, D): {"sse": (n,), "bce": (n,)} float64 for data in [0, 1]
    trained with BCE; {"sse": (n,)} alone for data trained with MSE (`loss` "mse": any range, linear output).

    sse = Σ_d (x_d − x̂_d)², x̂ = sigmoid(logits) (BCE) or the linear output (MSE): the sample's squared error as a whole;
    bce = (1/D) Σ_d −[x_d log x̂_d + (1 − x_d) log(1 − x̂_d)], from the logits (the training objective, per image);
    it is defined only for values in [0, 1], so MSE data has no BCE score.
    """
    model.eval()
    sse, bce = [], []
    for start in range(0, len(x), BATCH):
        batch = x[start : start + BATCH]
        logits, _ = model(batch)
        sse.append(torch.square(batch - output_of(logits, loss)).sum(dim=1))  # Σ_d (x_d − x̂_d)²
        if loss != "mse":
            bce.append(
                torch.nn.functional.binary_cross_entropy_with_logits(logits, batch, reduction="none").mean(dim=1)
            )
    scores = {"sse": torch.cat(sse).double().numpy()}
    return scores if loss == "mse" else {**scores, "bce": torch.cat(bce).double().numpy()}


@torch.no_grad()
def codes(model: torch.nn.Module, x: torch.Tensor) -> np.ndarray:
    """The model's codes of `x`: (n, code_size) float32."""
    model.eval()
    return torch.cat([model.encode(x[i : i + BATCH]) for i in range(0, len(x), BATCH)]).numpy()


def pca_scores(pca: PCA, x: np.ndarray, k: int) -> np.ndarray:
    """Per-image squared error of PCA's rank-k reconstruction, (n,) float64.

    The components are orthonormal, so ‖x − x̂_k‖² = ‖x − μ‖² − Σ_{j<k} s_j² with s = V_k(x − μ)
    (Pythagoras; as tasks/pca.py's `reconstruction_errors`), without building x̂.
    """
    centred = np.asarray(x, dtype=np.float64) - pca.mean_
    scores = matmul(centred, pca.components_[:k].T)  # s = V_k (x − μ), (n, k)
    return np.maximum(np.square(centred).sum(axis=1) - np.square(scores).sum(axis=1), 0.0)  # ‖x − μ‖² − ‖s‖²


def knn_scores(reference: np.ndarray, queries: np.ndarray, k: int) -> np.ndarray:
    """Mean Euclidean distance from each query (n, D) to its k nearest reference rows (m, D): (n,) float64.

    The mean over k rather than the k-th distance alone: it is less sensitive to one stray
    training image. scikit-learn's NearestNeighbors picks the algorithm (a tree for few dimensions,
    brute force through BLAS for images).
    """
    k = min(k, len(reference))
    distances, _ = NearestNeighbors(n_neighbors=k).fit(reference).kneighbors(queries)
    return distances.mean(axis=1).astype(np.float64)
