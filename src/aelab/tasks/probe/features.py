"""How much of what matters a code keeps: classifiers trained on the codes (probes), beside pixels and PCA.

A linear probe (scikit-learn's LogisticRegression on standardised features) asks whether the
classes are linearly separable in the code; a kNN probe (k = 5, Euclidean) whether images of a
class are near each other. Both are fitted on the training images' features and scored on the
test images'. The same probes on the raw pixels and on PCA coordinates of the same size say what
the autoencoder's nonlinearity adds.

Solvers: L-BFGS on the multinomial loss (scikit-learn's default) on standardised features converges
in seconds on 60,000 codes of tens of units; kNN on such codes is a tree or BLAS search of seconds.
The pixel row costs the most (784 features): it is computed once per data set and call, and its
L-BFGS stops at a gradient tolerance of 1e-3 (ProbeConfig.tol), not scikit-learn's 1e-4. Measured on
the full sets: at 1e-4 Fashion-MNIST's pixels took about 1,000 iterations (576 s on a busy machine) for
0.8348; at 1e-3, 128 iterations for 0.8404 (MNIST: 39 iterations, 0.9259; 0.9215 at 1e-4) — both
within ±0.01 of the published rows, the last digits of accuracy are not worth the 8× more
iterations. SAGA was no faster here (20 epochs: slower than 128 L-BFGS steps, 0.8376). The L-BFGS fits run on one BLAS
and OpenMP thread: their products are small, and with two OpenBLAS threads on a two-core machine shared
with other work one fit took 100 s against 4.5 s on one thread (an order of magnitude, not a timing).
The kNN search keeps scikit-learn's threads: it splits the test rows into large independent chunks, and on
10,000 × 10,000 pixel rows two threads took 2.4 s against 4.6 s on one (AMD EPYC, Zen 3, 2 cores).
"""

from __future__ import annotations

import time
import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from aelab.config import ProbeConfig
from aelab.errors import InputError


def linear_probe(config: ProbeConfig):
    """Standardise, then multinomial logistic regression (C = 1, L-BFGS to `config.tol`): scaling makes L-BFGS
    converge on pixels."""
    return make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=config.max_iter, tol=config.tol))


def knn_probe(config: ProbeConfig):
    """k nearest neighbours, Euclidean, uniform vote, on the features as they are (their geometry is what is probed)."""
    return KNeighborsClassifier(n_neighbors=config.neighbours)


def check_labelled(features: np.ndarray, labels: np.ndarray | None, name: str) -> None:
    if labels is None:
        raise InputError(f"{name}: no labels: a probe measures class accuracy, expected a labelled data set")
    if len(features) != len(labels) or len(np.unique(labels)) < 2:
        raise InputError(
            f"{name}: {len(features)} rows, {len(labels)} labels of {len(np.unique(labels))} classes: "
            "expected one label per row and at least two classes"
        )


PROBES = {"linear": linear_probe, "knn": knn_probe}


def probe_accuracy(
    train: np.ndarray,
    train_labels: np.ndarray | None,
    test: np.ndarray,
    test_labels: np.ndarray | None,
    config: ProbeConfig,
    probes: tuple[str, ...] = tuple(PROBES),
) -> dict[str, float]:
    """Test accuracy of the linear and the kNN probe (or those named in `probes`) fitted on (train, train_labels).

    Returns {"linear", "knn", "linear_seconds", "knn_seconds", "converged"}: accuracies in [0, 1];
    `converged` is False when L-BFGS stopped at max_iter (the accuracy is then a lower bound, usually close).
    """
    check_labelled(train, train_labels, "training features")
    check_labelled(test, test_labels, "test features")
    out: dict = {"converged": True}
    for name in probes:
        make = PROBES[name]
        start = time.perf_counter()
        with warnings.catch_warnings(record=True) as caught, threadpool_limits(1 if name == "linear" else None):
            warnings.simplefilter("always", ConvergenceWarning)
            out[name] = float(make(config).fit(train, train_labels).score(test, test_labels))
        out["converged"] &= not any(issubclass(w.category, ConvergenceWarning) for w in caught)
        out[f"{name}_seconds"] = time.perf_counter() - start
    return out


def subset(n: int, size: int | None, seed: int) -> np.ndarray:
    """Indices of a seeded random subset of `size` of n rows, in order (all rows when size is None or ≥ n)."""
    if size is None or size >= n:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, size=size, replace=False))


# The Fashion-MNIST paper's raw-pixel rows: Xiao, Rasul & Vollgraf 2017, arXiv:1708.07747, Table 3, test accuracy on
# Fashion-MNIST / MNIST. Their benchmark (zalandoresearch/fashion-mnist, benchmark/runner.py and baselines.json)
# standardises the 0–255 pixels (StandardScaler fitted on the training set) and fits scikit-learn classifiers on all
# 60,000 training images; the rows quoted are its best LogisticRegression (C=1, one-vs-rest, L1 penalty: liblinear) and
# its best KNeighborsClassifier (k = 5). Our linear probe differs in the penalty and solver (multinomial, L2, L-BFGS,
# which is what makes it fast on codes) and our kNN probe uses Euclidean distance on the unscaled features; that they
# land within ±0.01 of these rows on raw pixels is what shows the protocol (data, split, features) matches.
PUBLISHED_RAW = {"fashion-mnist": {"linear": 0.842, "knn": 0.854}, "mnist": {"linear": 0.917, "knn": 0.959}}
PUBLISHED_SOURCE = "Xiao et al. 2017 (arXiv:1708.07747), Table 3"
