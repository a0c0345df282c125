"""The data of an anomaly run, and everything about it checked before a run folder is made.

A built-in data set by name or your own data by path (run_data.py reads both, as `aelab train` does):
your own data brings its split, scaling and loss, resolved into the config here so config.json records
them. Labelled data runs the one-class protocol over its classes; unlabelled data cannot be ranked
(there is nothing to say which samples are anomalies), so it gets scores, thresholds and the top
anomalies instead (anomaly_unlabelled.py). Every refusal — one class only, a class too small to train
on or absent from the test split, a BCE score for data trained with MSE, a model the sample shape does
not fit — is raised here, before anything is written.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from aelab.config import AnomalyConfig
from aelab.data import Dataset
from aelab.data.arrays import shared_tensor
from aelab.errors import ConfigError, DataError
from aelab.tasks.anomaly.one_class import methods_for
from aelab.tasks.recipe import model_and_trainer, resolve, seeded_generators
from aelab.tasks.run_data import load_run_data, with_data_defaults

MIN_CLASS_SAMPLES = 2  # PCA and a threshold need two normal samples at the least (a batch may be short)


@dataclass(frozen=True)
class AnomalyData:
    """A checked anomaly run's data: the config with the data's scaling and loss resolved, the test rows
    (the first --test-size), their labels (None: unlabelled) and the normal classes to run (empty when unlabelled)."""

    config: AnomalyConfig
    data: Dataset
    test_x: torch.Tensor
    test_labels: np.ndarray | None
    classes: list[int]

    @property
    def labelled(self) -> bool:
        return self.data.train_labels is not None

    @property
    def methods(self) -> dict[str, str]:
        return methods_for(self.config.loss, self.data.description.raw_name)

    @property
    def class_names(self) -> tuple[str, ...]:
        names = self.data.class_names
        return names if names is not None else tuple(str(c) for c in range(max(self.classes, default=-1) + 1))

    def train_rows(self, normal: int | None) -> np.ndarray:
        """Training rows of class `normal` (every training row when None: unlabelled data), flattened."""
        rows = self.data.train_images if normal is None else self.data.train_images[self.data.train_labels == normal]
        return rows.reshape(len(rows), -1)


def load_anomaly_data(config: AnomalyConfig, data_dir, quiet: bool) -> AnomalyData:
    """Read `config.dataset`, resolve its defaults into the config, and check the whole run; nothing is written."""
    data = load_run_data(config, data_dir, quiet)
    config = with_data_defaults(config, data)
    if config.loss == "mse" and config.score == "bce":
        raise ConfigError(
            f"--score bce: {config.dataset} trains with MSE (values outside [0, 1] have no binary "
            "cross-entropy): expected --score sse, or --scale minmax for data that trains with BCE"
        )
    test_x, test_labels = test_split(data, config)
    classes = normal_classes(config, data, test_labels) if data.train_labels is not None else []
    if data.train_labels is None and config.classes is not None:
        raise ConfigError(
            f"--classes {','.join(map(str, config.classes))}: {config.dataset} has no labels: expected no "
            "--classes (unlabelled data is scored as one normal set)"
        )
    if data.train_labels is None and config.seeds > 1:
        raise ConfigError(
            f"--seeds {config.seeds}: {config.dataset} has no labels, so there is no AUROC to average over "
            "seeds: expected --seeds 1"
        )
    checked = AnomalyData(config, data, test_x, test_labels, classes)
    for normal in classes or [None]:
        check_trainable(checked, normal)
    return checked


def test_split(data: Dataset, config: AnomalyConfig) -> tuple[torch.Tensor, np.ndarray | None]:
    """The first --test-size test rows (all of them by default, or when there are fewer: --quick's 2,000 on a small
    data set of your own), flattened, and their labels (None when unlabelled)."""
    n = len(data.test_images) if config.test_size is None else min(config.test_size, len(data.test_images))
    rows = shared_tensor(np.ascontiguousarray(data.test_images.reshape(len(data.test_images), -1)))[:n]
    return rows, None if data.test_labels is None else np.asarray(data.test_labels[:n])


def normal_classes(config: AnomalyConfig, data: Dataset, test_labels: np.ndarray) -> list[int]:
    """The classes to run: the config's, each checked against the labels, or every label present. Each must
    have test samples of its own and of other classes, or AUROC is undefined."""
    present = sorted(int(c) for c in np.unique(data.train_labels))
    if len(present) < 2:
        raise DataError(
            f"{config.dataset}: labels of one class only ({present[0]}): expected at least two classes "
            "(the other classes are the anomalies), or data without labels to score it as one normal set"
        )
    if config.classes is not None:
        unknown = [c for c in config.classes if c not in present]
        if unknown:
            raise ConfigError(
                f"--classes {','.join(map(str, config.classes))}: {unknown} not among {config.dataset}'s "
                f"labels: expected some of {','.join(map(str, present))}"
            )
    classes = list(config.classes) if config.classes is not None else present
    for normal in classes:
        n_normal = int((test_labels == normal).sum())
        if n_normal == 0 or n_normal == len(test_labels):
            raise DataError(
                f"{config.dataset}: class {normal} has {n_normal} of the {len(test_labels)} test samples: "
                "expected both samples of the class and others in the test split to rank against"
            )
    return classes


def check_trainable(run: AnomalyData, normal: int | None) -> None:
    """Enough training samples of `normal` for the subset and the baselines; a model that fits the samples."""
    config = run.config
    n = len(run.train_rows(normal))
    what = "the training samples" if normal is None else f"class {normal}'s training samples"
    if n < MIN_CLASS_SAMPLES:  # a batch larger than the class is one short batch per epoch
        raise DataError(
            f"{config.dataset}: {n} of {what}: expected at least {MIN_CLASS_SAMPLES} (for PCA and the thresholds)"
        )
    if config.train_size is not None and config.train_size < MIN_CLASS_SAMPLES:
        raise ConfigError(
            f"--train-size {config.train_size}: expected at least {MIN_CLASS_SAMPLES} (for PCA and the thresholds)"
        )
    if normal is None or normal == run.classes[0]:  # the model is the same for every class: build it once, as a check
        rows = shared_tensor(np.ascontiguousarray(run.train_rows(normal)[: config.batch_size]))
        model_and_trainer(
            resolve(config.train_config(config.seed)),
            rows,
            rows,
            seeded_generators(config.seed),
            True,
            run.data.sample_shape,
        )


def class_rows(run: AnomalyData, normal: int | None) -> torch.Tensor:
    """The normal class's training rows (every training row when unlabelled), a seeded subset of at most --train-size
    (classes differ in size: a smaller one is used whole, so `--quick`'s 1,000 works on small data sets too)."""
    config = run.config
    rows = run.train_rows(normal)
    if config.train_size is not None and config.train_size < len(rows):
        chosen = torch.randperm(len(rows), generator=seeded_generators(config.seed)["subset"])[: config.train_size]
        rows = rows[np.sort(chosen.numpy())]
    return shared_tensor(np.ascontiguousarray(rows))
