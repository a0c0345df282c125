"""One normal class: train an autoencoder on it alone, score images, measure how anomalies rank.

The protocol of Ruff et al., "Deep One-Class Classification" (ICML 2018): the model sees only the
normal class's training images; every test image is scored and the other classes are the
anomalies. Works without labels too (`is_anomaly` None): then there are scores, thresholds and
the top anomalies, but nothing to rank against.

Why the ten models of a data set are trained one after another, not batched as the sweep's are:
the sweep's batched model (models/batched.py, train/compiled/sweep.py) feeds *one* batch to every
model — the shared first-layer GEMM is what makes it fast — but here each model must see only its
own class's images, so each step would need ten different batches, and the shared product is gone.
Each model trains alone on the compiled engine instead (about 6,000 images, a few seconds an epoch).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import torch

from aelab.config import AnomalyConfig
from aelab.tasks.anomaly.metrics import detection, ranking, thresholds, top_anomalies
from aelab.tasks.anomaly.scores import codes, knn_scores, pca_scores, reconstruction_scores
from aelab.tasks.pca import PCA
from aelab.tasks.recipe import model_and_trainer, resolve, seeded_generators

# Every method's name in anomaly.json → its title in tables and figures. Higher score = more anomalous for all.
METHODS = {
    "ae_sse": "autoencoder SSE",
    "ae_bce": "autoencoder BCE",
    "pca": "PCA SSE",
    "knn_pixels": "kNN pixels",
    "knn_codes": "kNN codes",
}
N_EXTREMES = 8  # most and least anomalous test images kept per class, for the figure


def methods_for(loss: str | None, raw: str = "pixels") -> dict[str, str]:
    """The methods a run reports: every one of METHODS, less the BCE score for data trained with MSE (values outside
    [0, 1] have no binary cross-entropy; anomaly_scores.reconstruction_scores); the raw-feature kNN named for the
    data (`raw`: Description.raw_name, pixels of images, inputs of signals and tables; the key stays knn_pixels)."""
    titles = {**METHODS, "knn_pixels": f"kNN {raw}"}
    return {key: title for key, title in titles.items() if not (loss == "mse" and key == "ae_bce")}


@dataclass
class Scores:
    """One model's scores: the autoencoder's on its training images (for thresholds) and every method's on the test
    set."""

    train: dict[str, np.ndarray]  # "ae_sse", "ae_bce" (not for MSE data): (n_train,)
    test: dict[str, np.ndarray]  # every key of methods_for(loss), in METHODS' order: (n_test,)
    seconds_training: float


def baseline_scores(config: AnomalyConfig, train_x: torch.Tensor, test_x: torch.Tensor) -> dict[str, np.ndarray]:
    """The baselines that need no training: PCA at the code size, kNN distance in pixel space (test scores)."""
    train, test = train_x.numpy(), test_x.numpy()
    k = min(config.code_size, len(train) - 1, train.shape[1])
    pca = PCA(k).fit(train)
    return {"pca": pca_scores(pca, test, k), "knn_pixels": knn_scores(train, test, config.neighbours)}


def train_and_score(
    config: AnomalyConfig,
    train_x: torch.Tensor,
    test_x: torch.Tensor,
    seed: int,
    baselines: dict[str, np.ndarray],
    quiet: bool = True,
    sample_shape: tuple[int, ...] | None = None,
) -> Scores:
    """Train model `seed` on `train_x` (normal samples only, rows of `sample_shape`: (C, H, W) or (L,); default
    the built-ins' 28×28) and score train and test samples with the config's loss (MSE data: squared error only)."""
    train_config = resolve(config.train_config(seed))
    model, trainer, train_inputs, _ = model_and_trainer(
        train_config, train_x, test_x, seeded_generators(seed), quiet, sample_shape
    )
    start = time.perf_counter()
    trainer.fit(train_x, None, train_inputs=train_inputs)  # no test set during training: it holds the anomalies
    seconds = time.perf_counter() - start
    on_train = reconstruction_scores(model, train_x, train_config.loss)
    on_test = reconstruction_scores(model, test_x, train_config.loss)
    code_scores = knn_scores(codes(model, train_x), codes(model, test_x), config.neighbours)
    return Scores(
        train={f"ae_{key}": values for key, values in on_train.items()},
        test={**{f"ae_{key}": values for key, values in on_test.items()}, **baselines, "knn_codes": code_scores},
        seconds_training=seconds,
    )


def evaluate(config: AnomalyConfig, scores: Scores, is_anomaly: np.ndarray | None) -> dict:
    """What one model's scores say: thresholds from the training scores, and with labels, each method's
    AUROC and AUPRC and each threshold's precision, recall and F1; always the top anomalies' indices."""
    key = f"ae_{config.score}"
    cuts = thresholds(scores.train[key], config.quantile, config.sd_multiplier)
    most, least = top_anomalies(scores.test[key], N_EXTREMES)
    result = {
        "score": key,
        "thresholds": cuts,
        "most_anomalous": most.tolist(),
        "least_anomalous": least.tolist(),
        "flagged": {rule: int((scores.test[key] > cut).sum()) for rule, cut in cuts.items()},
        "seconds_training": scores.seconds_training,
    }
    if is_anomaly is not None:
        result["ranking"] = {method: ranking(scores.test[method], is_anomaly) for method in scores.test}
        result["detection"] = {rule: detection(scores.test[key], is_anomaly, cut) for rule, cut in cuts.items()}
    return result


def score_unlabelled(
    config: AnomalyConfig,
    train_x: torch.Tensor,
    images: torch.Tensor,
    seed: int | None = None,
    sample_shape: tuple[int, ...] | None = None,
    quiet: bool = True,
) -> dict:
    """Unlabelled data: train on `train_x` (assumed normal), score `images`; returns their scores under
    "scores" (the config's autoencoder score, (n,)), the thresholds, how many images each flags, and the
    most and least anomalous images' indices. Nothing is ranked: without labels there is no AUROC."""
    scores = train_and_score(
        config,
        train_x,
        images,
        config.seed if seed is None else seed,
        baseline_scores(config, train_x, images),
        quiet,
        sample_shape,
    )
    return {"scores": scores.test[f"ae_{config.score}"], **evaluate(config, scores, None)}
