"""The test split of your own data: the data's own (train/test folders, x_test, t10k files), or a seeded draw.

A drawn split holds out round(fraction · n) samples chosen by a generator seeded from the run's seed
(its own stream, so the split never moves when another random choice changes), keeps both sides in
their original order, and is recorded in config.json with its seed, so the run can be redone exactly.
"""

from __future__ import annotations

import numpy as np

from aelab.data.custom.samples import Part, Samples
from aelab.errors import ConfigError, DataError

DEFAULT_TEST_FRACTION = 0.2
SPLIT_STREAM = 0x5EED_5B17  # mixed into the seed: the split's own stream, independent of aelab's torch generators


def split(samples: Samples, test_fraction: float | None, seed: int) -> tuple[Part, Part, dict]:
    """(train part, test part, the split's record for config.json)."""
    if samples.test is not None:
        if test_fraction is not None:
            raise ConfigError(
                f"--test-fraction {test_fraction}: {samples.path} brings its own test split: expected no "
                "--test-fraction"
            )
        return (
            samples.train,
            samples.test,
            {"method": "given", "n_train": len(samples.train.x), "n_test": len(samples.test.x)},
        )
    fraction = DEFAULT_TEST_FRACTION if test_fraction is None else test_fraction
    n = len(samples.train.x)
    n_test = int(round(fraction * n))
    if n_test < 1 or n_test >= n:
        raise DataError(
            f"{samples.path}: {n} samples: expected enough for a test fraction of {fraction} to leave at least "
            "one sample on each side"
        )
    rng = np.random.default_rng([seed, SPLIT_STREAM])
    held = np.zeros(n, dtype=bool)
    held[rng.choice(n, size=n_test, replace=False)] = True
    train_rows, test_rows = np.flatnonzero(~held), np.flatnonzero(held)
    labels = samples.train.labels
    parts = [
        Part(np.asarray(samples.train.x[rows]), None if labels is None else labels[rows])
        for rows in (train_rows, test_rows)
    ]
    record = {
        "method": "fraction",
        "test_fraction": fraction,
        "seed": seed,
        "n_train": len(train_rows),
        "n_test": n_test,
    }
    return parts[0], parts[1], record
