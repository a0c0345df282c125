"""`open_dataset(PATH or arrays)`: your own data as a `Dataset`, exactly as the built-in data sets arrive at training.

path → kind (paths.py) → the kind's reader (samples as read, checked) — or arrays / a DataFrame in
memory (in_memory.py), the same from here on → sample layout (C, H, W) or
(L,) → test split (given or seeded, split.py) → scaling fitted on the training split (scaling.py) →
float32 rows → Dataset, with `record`: what config.json keeps of it (identity.py's digest, the
split, the scaling, the loss), so a run says exactly what it was trained on.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import numpy as np

from aelab.data.custom import scaling
from aelab.data.custom.identity import content_digest
from aelab.data.custom.idx_files import read_idx_samples
from aelab.data.custom.image_folder import read_image_folder
from aelab.data.custom.in_memory import ARRAYS, in_memory_samples
from aelab.data.custom.numpy_files import read_npy, read_npz
from aelab.data.custom.paths import kind_of
from aelab.data.custom.samples import Part, Samples, release_pages
from aelab.data.custom.split import split
from aelab.data.custom.tables import read_table
from aelab.data.load import Dataset, read_only
from aelab.errors import ConfigError

CHANNELS = (1, 3, 4)


def read_samples(path: Path, image_size: tuple[int, int] | None = None, label_column: str | None = None) -> Samples:
    """The samples at `path` as read by their kind's reader; options that do not apply to the kind are refused."""
    kind = kind_of(path)
    if image_size is not None and kind != "images":
        raise ConfigError(f"--image-size: applies to an image folder: expected it without {path} ({kind} data)")
    if label_column is not None and kind != "table":
        raise ConfigError(f"--label-column: applies to a CSV/TSV table: expected it without {path} ({kind} data)")
    if kind == "images":
        return read_image_folder(path, None if image_size is None else tuple(image_size))
    if kind == "table":
        return read_table(path, label_column)
    return {"npy": read_npy, "npz": read_npz, "idx": read_idx_samples}[kind](path)


def sample_layout(x: np.ndarray) -> np.ndarray:
    """(n, H, W) → (n, 1, H, W); channels-last (n, H, W, C) with C in 1, 3, 4 → (n, C, H, W); else as is."""
    if x.ndim == 3:
        return x[:, None]
    if x.ndim == 4 and x.shape[3] in CHANNELS and x.shape[1] not in CHANNELS:
        return x.transpose(0, 3, 1, 2)
    return x


def _labels_and_names(train: Part, test: Part, names: tuple[str, ...] | None) -> tuple[str, ...] | None:
    if train.labels is None:
        return None
    if names is not None:
        return names
    top = max(int(train.labels.max()), int(test.labels.max()) if test.labels is not None and len(test.labels) else 0)
    return tuple(str(i) for i in range(top + 1))


def laid_out(samples: Samples) -> Samples:
    """The samples with each part's arrays in the layout the models take ((C, H, W) or (L,))."""
    test = None if samples.test is None else Part(sample_layout(samples.test.x), samples.test.labels)
    train = Part(sample_layout(samples.train.x), samples.train.labels)
    return dataclasses.replace(samples, train=train, test=test)


def loss_for(kind: str, path: Path, method: str, unit: bool, loss: str | None) -> str:
    """The loss asked for, or the default (mse for tables and values outside [0, 1], else bce); bce needs [0, 1]."""
    chosen = loss or ("mse" if kind == "table" or not unit else "bce")
    if chosen == "bce" and not unit:
        raise ConfigError(
            f"--loss bce: {path}'s values, scaled by {method}, are not in [0, 1]: expected --scale minmax, "
            "or --loss mse"
        )
    return chosen


def identity_record(path: Path, samples: Samples, n: int, dtype: str) -> dict:
    """config.json's data.identity: where the data is, its kind, files, shape, dtype and content digest."""
    return {
        "path": str(path.resolve()),
        "kind": samples.kind,
        "files": len(samples.files),
        "shape": [n, *samples.sample_shape],
        "dtype": dtype,
        "sha256": samples.digest or content_digest(path, samples.files),
    }


def open_dataset(
    source,
    image_size: tuple[int, int] | None = None,
    label_column: str | None = None,
    test_fraction: float | None = None,
    scale: str | None = None,
    loss: str | None = None,
    seed: int = 0,
    *,
    y=None,
    x_test=None,
    y_test=None,
) -> Dataset:
    """Your own data as a Dataset: float32 rows (n, prod(sample_shape)), scaled, split, identified.

    `source` is a path (str or os.PathLike: read as `aelab train --dataset PATH` reads it) or data in
    memory: a NumPy array or torch tensor (n, …) with optional labels `y`, or a DataFrame (numeric
    columns; `label_column` names the labels). Arrays take the files' layouts ((n, L), (n, H, W),
    (n, C, H, W), channels-last (n, H, W, C)); `x_test` (with `y_test`) is their own test split, else
    one is drawn by `test_fraction` (default 0.2; 0: no test split, for arrays only).
    `scale` (none, minmax, standard) and `loss` (bce, mse) default as TrainConfig's help says; the
    scaling statistics come from the training split only.
    """
    if isinstance(source, (str, os.PathLike)):
        if y is not None or x_test is not None or y_test is not None:
            raise ConfigError(f"{source}: y, x_test and y_test go with arrays: expected a path alone")
        path = Path(source)
        samples = read_samples(path, image_size, label_column)
        return as_dataset(samples, path, None, test_fraction, scale, loss, seed)
    if image_size is not None:
        raise ConfigError(f"image_size {image_size}: applies to a folder of image files: expected it without arrays")
    samples = in_memory_samples(source, y, x_test, y_test, label_column)
    if test_fraction == 0 and samples.test is None:  # no test split at all: the caller has none to spare
        labels = samples.train.labels
        samples = dataclasses.replace(samples, test=Part(samples.train.x[:0], None if labels is None else labels[:0]))
    return as_dataset(samples, samples.path, ARRAYS, test_fraction or None, scale, loss, seed)


def as_dataset(
    samples: Samples,
    path: Path,
    named: str | None,
    test_fraction: float | None,
    scale: str | None,
    loss: str | None,
    seed: int,
) -> Dataset:
    """Samples as read → layout → split → scaling fitted on the training split → Dataset with its record.

    `named` is what config.json calls data without a path (ARRAYS), None for a path."""
    samples = laid_out(samples)
    train, test, split_record = split(samples, test_fraction, seed)
    method = scale or scaling.default_scale(train.x)
    record = scaling.fit(train.x, method)
    chosen_loss = loss_for(samples.kind, path, method, scaling.in_unit_range(record, train.x), loss)
    clip = chosen_loss == "bce" and method != "none"
    identity = identity_record(path, samples, len(train.x) + len(test.x), str(train.x.dtype))
    if named is not None:
        identity["path"] = named
    for part in (train, test):  # the scans above paged a memory-mapped array in: forget those pages (bounded RSS)
        release_pages(part.x)
    own_copies = split_record["method"] == "fraction"  # a drawn split's parts are copies: scaled where they are
    data_record = {
        "identity": identity,
        "split": split_record,
        "scaling": record,
        "loss": chosen_loss,
        "clipped_to_unit_range": clip,
    }
    return Dataset(
        spec=None,
        train_images=read_only(scaling.apply(train.x, record, clip, in_place=own_copies)),
        train_labels=None if train.labels is None else read_only(train.labels),
        test_images=read_only(scaled(test.x, record, clip, in_place=own_copies)),
        test_labels=None if test.labels is None else read_only(test.labels),
        source=f"{samples.kind} data at {path}" if named is None else f"{samples.kind} given in memory",
        sample_shape=samples.sample_shape,
        class_names=_labels_and_names(train, test, samples.class_names),
        record=data_record,
        columns=feature_names(samples),
    )


def scaled(x: np.ndarray, record: dict, clip: bool, in_place: bool = False) -> np.ndarray:
    """scaling.apply, and for no samples at all (arrays fitted without a test split) float32 rows (0, features)."""
    if len(x) == 0:
        return np.zeros((0, int(np.prod(x.shape[1:]))), dtype=np.float32)
    return scaling.apply(x, record, clip, in_place)


def feature_names(samples: Samples) -> tuple[str, ...] | None:
    """A table's columns by their header names, or numbered when it has no header; None for other kinds."""
    if samples.kind != "table":
        return None
    return samples.columns or tuple(f"column {j + 1}" for j in range(samples.sample_shape[0]))
