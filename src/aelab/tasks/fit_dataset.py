"""`Autoencoder.fit(X)`'s data: arrays, a DataFrame, a path or an opened Dataset, through `--dataset PATH`'s pipeline.

Every form ends as `aelab train` sees its data: a path is read exactly as `aelab train --dataset
PATH` reads it (run_data.py); arrays and DataFrames go through `open_dataset` too (the same layout,
split, scaling fitted on the training part, and loss defaults); an opened Dataset brings its own.
The estimator's config is completed from the data as `aelab train` completes its own, and the
description of the data (data/description.py) and what config.json records of it are kept for
`encode` on new samples, for giving outputs back in the caller's units, and for `save`.

Validation data: X_test where given; else a seeded `validation_fraction` of X held out (split.py's
draw); with 0 none at all — then no epoch reports a validation loss, rather than a training loss
under that name.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass

import numpy as np
import torch

from aelab.config import TrainConfig
from aelab.data import Dataset
from aelab.data.arrays import shared_tensor
from aelab.data.custom import open_dataset
from aelab.data.custom.in_memory import ARRAYS, as_array, is_frame
from aelab.data.description import Description
from aelab.errors import ConfigError, InputError
from aelab.tasks.run_data import load_run_data, with_data_defaults

BUILT_IN_ROW = 784  # load_dataset's rows (flatten=True): 28×28 images, the one feature count still read as a shape


@dataclass(frozen=True)
class FitData:
    """What fit trains on: the config completed from the data, scaled rows, and how the caller holds samples."""

    config: TrainConfig
    train: torch.Tensor  # (n, features) float32, scaled
    test: torch.Tensor | None  # the validation rows; None: no validation data
    description: Description
    record: dict | None  # config.json's "data" (None for a built-in data set)
    own_shape: tuple[int, ...]  # a sample's shape as fit was given it (outputs come back in it)
    source: str  # config.json's data_source: what was trained on and what it was evaluated on


def rows(x: np.ndarray) -> torch.Tensor:
    return shared_tensor(np.ascontiguousarray(x.reshape(len(x), int(np.prod(x.shape[1:])))))  # (0, f) too


def fit_data(X, X_test, config: TrainConfig, validation_fraction: float) -> FitData:
    """The data of `fit(X, X_test=X_test)`, refusing X_test where the data brings its own test split."""
    if isinstance(X, (Dataset, str, os.PathLike)):
        if X_test is not None:
            raise InputError(f"X_test: {_what(X)} brings its own test split: expected no X_test with fit({_what(X)})")
        if isinstance(X, Dataset):
            return from_dataset(X, config, "the data set's test split")
        data = load_run_data(dataclasses.replace(config, dataset=os.fspath(X)), None, quiet=True)
        return from_dataset(data, with_data_defaults(config, data), "its test split, as `aelab train` reads it")
    return from_arrays(X, X_test, config, validation_fraction)


def _what(X) -> str:
    return "a Dataset" if isinstance(X, Dataset) else f"the path {os.fspath(X)!r}"


def from_dataset(data: Dataset, config: TrainConfig, evaluated: str) -> FitData:
    """An opened Dataset (aelab.open_dataset's or load_dataset's): its split, scaling and loss as they are."""
    train, test = rows(data.train_images), rows(data.test_images)
    source = f"{data.name}: {len(train)} training samples; evaluated on {evaluated}"
    if data.record is None:  # a built-in data set: its images, BCE
        config = dataclasses.replace(config, dataset=data.name)
        return FitData(config, train, test, data.description, None, tuple(data.train_images.shape[1:]), source)
    config = dataclasses.replace(
        config, dataset=data.record["identity"]["path"], scale=data.record["scaling"]["method"], loss=data.loss
    )
    record = data.config_entries()["data"]
    test = test if len(test) else None
    return FitData(config, train, test, data.description, record, tuple(data.sample_shape), source)


def as_given(X, name: str) -> tuple[object, tuple[int, ...]]:
    """(X for open_dataset, a sample's shape as the caller holds it): rows of 784 values become 28×28 images, as
    load_dataset's rows are (so a conv model fits them and the figures draw images)."""
    if X is None or is_frame(X):
        return X, ()  # a DataFrame's own shape is its feature columns', known once the label column is out
    array = as_array(X, name)
    own = tuple(array.shape[1:])
    if own == (BUILT_IN_ROW,):
        array = array.reshape(len(array), 28, 28)
    return array, own


def from_arrays(X, X_test, config: TrainConfig, validation_fraction: float) -> FitData:
    """Arrays or a DataFrame (and X_test in the same form) through open_dataset, validation drawn if not given."""
    if config.test_fraction is not None:
        raise ConfigError(
            f"test_fraction {config.test_fraction}: applies to fit(PATH): expected validation_fraction= with arrays"
        )
    x, own = as_given(X, "X")
    x_test, _ = as_given(X_test, "X_test")
    fraction = None if x_test is not None else validation_fraction
    if fraction and round(fraction * len(x)) < 1:
        raise ConfigError(
            f"validation_fraction {fraction}: X holds {len(x)} samples, too few to hold one out: expected "
            "validation_fraction=0 (no validation loss), a larger fraction, or X_test="
        )
    data = open_dataset(
        x, label_column=config.label_column, test_fraction=fraction, scale=config.scale, loss=config.loss,
        seed=config.seed, x_test=x_test,
    )  # fmt: skip
    config = with_data_defaults(dataclasses.replace(config, dataset=ARRAYS), data)
    train, test = rows(data.train_images), rows(data.test_images)
    evaluated = (
        "X_test"
        if x_test is not None
        else f"a held-out {fraction} of X (seed {config.seed})"
        if fraction
        else "nothing (validation_fraction=0 and no X_test: no validation loss)"
    )
    source = f"arrays given to Autoencoder.fit: {len(train)} training samples; evaluated on {evaluated}"
    record, own = data.config_entries()["data"], own or tuple(data.sample_shape)
    return FitData(config, train, test if len(test) else None, data.description, record, own, source)
