"""`Autoencoder.fit(dataset)`: a Dataset (aelab.open_dataset's or load_dataset's) as the estimator's training data.

The Python side of `--dataset PATH`: the data set brings its own test split, scaling and loss, so the
estimator's config is completed from it exactly as `aelab train` completes its own (run_data.py),
and what config.json records of the data is kept on the estimator (`data_record_`) for `encode`
on new samples and for `save`.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import torch

from aelab.config import TrainConfig
from aelab.data import Dataset
from aelab.data.arrays import shared_tensor
from aelab.errors import InputError


def dataset_inputs(
    data: Dataset, config: TrainConfig, X_test
) -> tuple[TrainConfig, torch.Tensor, torch.Tensor, tuple, dict | None]:
    """(config completed from the data, training rows, test rows, sample shape for new inputs, data record or None)."""
    if X_test is not None:
        raise InputError("X_test: a Dataset brings its own test split: expected no X_test with fit(dataset)")
    train = shared_tensor(np.ascontiguousarray(data.train_images.reshape(len(data.train_images), -1)))
    test = shared_tensor(np.ascontiguousarray(data.test_images.reshape(len(data.test_images), -1)))
    if data.record is None:  # a built-in data set: BCE, images checked as any arrays are
        return dataclasses.replace(config, dataset=data.name), train, test, (train.shape[1],), None
    config = dataclasses.replace(
        config, dataset=data.record["identity"]["path"], scale=data.record["scaling"]["method"], loss=data.loss
    )
    record = {**data.record, "sample_shape": list(data.sample_shape), "class_names": data.class_names}
    return config, train, test, tuple(data.sample_shape), record
