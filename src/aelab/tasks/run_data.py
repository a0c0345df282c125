"""The data a training config names: a built-in data set by name, or your own data by path (data/custom/).

Kept apart from train_one.py so `train`, `sweep` and the Python API load data the same way, and so
the defaults that depend on the data (the scaling, the loss) are resolved into a new config in one
place before a model or objective is built.
"""

from __future__ import annotations

import dataclasses

from aelab.config import SweepConfig, TrainConfig
from aelab.data import Dataset, load_dataset
from aelab.data.custom import open_dataset
from aelab.data.custom.paths import check_options_apply, is_path
from aelab.errors import ConfigError


def load_run_data(config: TrainConfig | SweepConfig, data_dir, quiet: bool) -> Dataset:
    """The Dataset `config.dataset` names, read with the config's data options and seed."""
    check_options_apply(config)
    if not is_path(config.dataset):
        return load_dataset(config.dataset, data_dir, progress=not quiet)
    return open_dataset(
        config.dataset,
        image_size=config.image_size,
        label_column=config.label_column,
        test_fraction=config.test_fraction,
        scale=config.scale,
        loss=getattr(config, "loss", None),
        seed=config.seed,
    )


def with_data_defaults(config: TrainConfig | SweepConfig, data: Dataset):
    """`config` with the scaling and loss your own data resolved to (unchanged for a built-in data set).

    A sweep trains with BCE only (its batched objective), so data that needs MSE is refused for it.
    """
    if data.record is None:
        return config
    if isinstance(config, SweepConfig):
        if data.loss != "bce":
            raise ConfigError(
                f"--dataset {config.dataset}: its values train with MSE (scaling "
                f"{data.record['scaling']['method']}), and the sweep trains with BCE only: expected data that trains "
                "with BCE (images, arrays or IDX files with values in [0, 1], or --scale minmax)"
            )
        return dataclasses.replace(config, scale=data.record["scaling"]["method"])
    return dataclasses.replace(config, scale=data.record["scaling"]["method"], loss=data.loss)
