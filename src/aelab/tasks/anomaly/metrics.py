"""How well a score separates anomalies from normal images, and where to cut it.

Scores follow one sign everywhere in aelab: higher = more anomalous. Ranking quality is measured
without a threshold by scikit-learn's AUROC (the probability that a random anomaly scores above a
random normal image; 0.5 is chance, 1 perfect) and AUPRC (average precision: the area under the
precision–recall curve; chance is the share of anomalies, 0.9 in the ten-class one-class protocol).
A deployed detector needs a threshold, and one must come from normal data alone: here from the
scores of the training images (all normal), either a quantile of them or mean + k·sd (as
TensorFlow's autoencoder tutorial does), then precision, recall and F1 on the test set.
"""

from __future__ import annotations

import numpy as np
from sklearn.metrics import average_precision_score, precision_recall_fscore_support, roc_auc_score, roc_curve

from aelab.errors import InputError


def check_scores(scores: np.ndarray, name: str) -> np.ndarray:
    """`scores` as a 1-D float64 array of finite numbers; anything else is a one-line InputError."""
    array = np.asarray(scores, dtype=np.float64)
    if array.ndim != 1 or len(array) == 0:
        raise InputError(f"{name}: shape {array.shape}: expected a non-empty 1-D array of scores")
    if not np.isfinite(array).all():
        raise InputError(
            f"{name}: a non-finite score at index {int(np.argmin(np.isfinite(array)))}: expected finite scores"
        )
    return array


def ranking(scores: np.ndarray, is_anomaly: np.ndarray) -> dict[str, float]:
    """AUROC and AUPRC of `scores` (n,) against `is_anomaly` (n,) bool; both classes must be present."""
    scores, truth = check_scores(scores, "scores"), np.asarray(is_anomaly, dtype=bool)
    if truth.shape != scores.shape or truth.all() or not truth.any():
        raise InputError(
            f"is_anomaly: {int(truth.sum())} anomalies among {truth.size} labels for {scores.size} scores: "
            "expected one label per score and both normal and anomalous images"
        )
    return {"auroc": float(roc_auc_score(truth, scores)), "auprc": float(average_precision_score(truth, scores))}


def roc_points(scores: np.ndarray, is_anomaly: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(false positive rates, true positive rates) of the ROC curve, for the figure."""
    fpr, tpr, _ = roc_curve(np.asarray(is_anomaly, dtype=bool), check_scores(scores, "scores"))
    return fpr, tpr


def quantile_threshold(train_scores: np.ndarray, quantile: float) -> float:
    """The `quantile` of the (normal) training scores: about 1 − quantile of normal images will be flagged."""
    return float(np.quantile(check_scores(train_scores, "training scores"), quantile))


def sd_threshold(train_scores: np.ndarray, k: float) -> float:
    """mean + k·sd of the (normal) training scores (TensorFlow's autoencoder tutorial, with k = 1)."""
    scores = check_scores(train_scores, "training scores")
    return float(scores.mean() + k * scores.std())


def thresholds(train_scores: np.ndarray, quantile: float, k: float) -> dict[str, float]:
    """Both rules' thresholds by name, as the anomaly run reports them."""
    return {
        f"quantile {quantile:g}": quantile_threshold(train_scores, quantile),
        f"mean + {k:g} sd": sd_threshold(train_scores, k),
    }


def flagged(scores: np.ndarray, threshold: float) -> np.ndarray:
    """Which images are called anomalous: score strictly above the threshold (n,) bool."""
    return check_scores(scores, "scores") > threshold


def detection(scores: np.ndarray, is_anomaly: np.ndarray, threshold: float) -> dict[str, float]:
    """Precision, recall and F1 of flagging score > threshold, with anomaly as the positive class.

    Precision is defined as 0 when nothing is flagged (scikit-learn's zero_division=0)."""
    predicted = flagged(scores, threshold)
    precision, recall, f1, _ = precision_recall_fscore_support(
        np.asarray(is_anomaly, dtype=bool), predicted, average="binary", zero_division=0
    )
    return {
        "threshold": float(threshold),
        "flagged": int(predicted.sum()),
        "precision": float(precision),
        "recall": float(recall),
        "f1": float(f1),
    }


def top_anomalies(scores: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices of the `n` highest and the `n` lowest scores (most, least anomalous), each in rank order.

    Ties keep index order (a stable sort), so the choice is deterministic."""
    scores = check_scores(scores, "scores")
    n = min(n, len(scores))
    return np.argsort(-scores, kind="stable")[:n], np.argsort(scores, kind="stable")[:n]
