"""Data already in memory (a NumPy array, a torch tensor, a pandas DataFrame) as the `Samples` a file's reader gives.

`open_dataset(X)` and `Autoencoder.fit(X)` send arrays through the same split, scaling and loss
defaults as `--dataset PATH`, so a model of a CSV is the same whether the CSV or its rows were
handed in. Only the reading differs, and it is here: the array's dtype and shape are checked (one
line naming the argument), a DataFrame's numeric columns become a table with their names (its
`label_column` the labels), and the content gets a digest as a file's does (config.json's
data.identity). pandas is not imported: a DataFrame is recognised by what it has (columns, dtypes,
to_numpy), so aelab does not depend on it.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import torch

from aelab.data.custom.samples import Part, Samples, check_finite, check_labels
from aelab.errors import ConfigError, DataError, InputError

ARRAYS = "arrays"  # config.json's data.identity.path (and a run's `dataset`) for data given in memory
LAYOUTS = "(n, L), (n, H, W), (n, C, H, W) or channels-last (n, H, W, C)"


def is_frame(x) -> bool:
    """Whether `x` is a DataFrame (pandas or alike), recognised without importing pandas."""
    return all(hasattr(x, name) for name in ("columns", "dtypes", "to_numpy", "iloc"))


def as_array(x, name: str) -> np.ndarray:
    """A NumPy view of `x` (a torch tensor detached and on the CPU); a sparse matrix or a ragged list refused."""
    if hasattr(x, "toarray") and hasattr(x, "nnz"):  # scipy.sparse, without importing it
        raise InputError(f"{name}: a sparse matrix is not supported: expected a dense array (use .toarray())")
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu()
        return x.float().numpy() if x.dtype == torch.bfloat16 else x.numpy()
    try:
        return np.asarray(x)
    except (TypeError, ValueError) as exc:
        raise InputError(
            f"{name}: cannot be read as an array ({exc}): expected a NumPy array or torch tensor"
        ) from None


def check_array(x: np.ndarray, name: str) -> None:
    """Samples (n ≥ 1, *sample_shape) in one of LAYOUTS, of numbers (integers or floats), finite."""
    if x.ndim < 2 or x.ndim > 4 or len(x) == 0 or x.size == 0:
        raise InputError(f"{name}: shape {tuple(x.shape)}: expected samples of shape {LAYOUTS}, n ≥ 1")
    if x.dtype.kind not in "uif":
        raise InputError(f"{name}: dtype {x.dtype}: expected numbers (unsigned or signed integers, or floats)")
    try:
        check_finite(x, name)
    except DataError as exc:  # the same check as a file's, worded for an argument (InputError is a ValueError)
        raise InputError(str(exc)) from None


def frame_columns(frame, label_column: str | None, name: str) -> tuple[np.ndarray, np.ndarray | None, tuple, tuple]:
    """(features (n, columns) as float64 or their common dtype, labels or None, class names, feature column names).

    Every column but the label column must be numeric: a text column silently dropped would train on
    less than the user thinks, so it is refused, naming it."""
    names = [str(c) for c in frame.columns]
    if label_column is not None and label_column not in names:
        raise ConfigError(f"label_column {label_column!r}: {name} has no such column: expected one of {names}")
    features = [c for c in frame.columns if str(c) != label_column]
    for column in features:
        if frame[column].dtype.kind not in "uif":
            raise InputError(
                f"{name}: column {str(column)!r} of dtype {frame[column].dtype}: expected numeric feature columns "
                "(drop it, or name it label_column=)"
            )
    if not features:
        raise InputError(f"{name}: no feature columns besides the label column {label_column!r}")
    x = frame[features].to_numpy()
    if label_column is None:
        return x, None, None, tuple(str(c) for c in features)
    labels, classes = class_indices(frame[label_column].to_numpy(), name)
    return x, labels, classes, tuple(str(c) for c in features)


def frame_features(frame, columns: tuple[str, ...] | None, name: str) -> np.ndarray:
    """The feature columns a table model was trained on, by name, from a DataFrame of new samples (other columns,
    the label column among them, are left out); a missing one is refused, naming it."""
    names = [str(c) for c in frame.columns]
    if columns is None:
        return frame.to_numpy()
    missing = [c for c in columns if c not in names]
    if missing:
        raise InputError(f"{name}: no column {missing[0]!r}: expected the feature columns the model was fitted on")
    by_name = dict(zip(names, frame.columns))
    return frame[[by_name[c] for c in columns]].to_numpy()


def class_indices(raw: np.ndarray, name: str) -> tuple[np.ndarray, tuple[str, ...]]:
    """Labels as indices into the class names: whole numbers as themselves (names "0".."max"), anything else as
    the index of its text among the distinct texts in sorted order (as a table's label column, tables.py)."""
    if raw.dtype.kind in "iu" or (raw.dtype.kind == "f" and np.isfinite(raw).all() and (raw == np.round(raw)).all()):
        labels = check_labels(raw, len(raw), f"{name}'s labels")
        return labels, tuple(str(v) for v in range(int(labels.max()) + 1))
    names, index = np.unique(raw.astype(str), return_inverse=True)
    return index.astype(np.int64), tuple(str(v) for v in names)


def digest(arrays: list[np.ndarray]) -> str:
    """SHA-256 over each array's shape, dtype and C-ordered bytes: the content's identity, as a file's is."""
    h = hashlib.sha256()
    for x in arrays:
        h.update(f"{x.shape}{x.dtype.str}".encode())
        h.update(np.ascontiguousarray(x).tobytes())
    return h.hexdigest()


def in_memory_samples(x, y=None, x_test=None, y_test=None, label_column: str | None = None) -> Samples:
    """Arrays or a DataFrame (and optional labels, and an optional test part of the same form) as `Samples`.

    kind "table" for a DataFrame (its column names kept), "arrays" otherwise; labels are checked as
    a file's are (whole numbers ≥ 0, one per sample)."""
    parts, classes, columns = [], None, None
    for name, data, labels in (("X", x, y), ("X_test", x_test, y_test)):
        if data is None:
            parts.append(None)
            continue
        if is_frame(data):
            array, labels, names, features = frame_columns(data, label_column, name)
            classes, columns = (names, features) if name == "X" else (classes, columns)
        elif label_column is not None:
            raise ConfigError(
                f"label_column {label_column!r}: applies to a DataFrame or a table: expected it without an array"
            )
        else:
            array = as_array(data, name)
            labels = None if labels is None else check_labels(as_array(labels, f"{name}'s labels"), len(array), name)
        check_array(array, name)
        parts.append(Part(array, labels))
    train, test = parts
    if test is not None and (test.x.shape[1:] != train.x.shape[1:] or (test.labels is None) != (train.labels is None)):
        raise InputError(
            f"X_test: shape {test.x.shape}: expected samples of X's shape (n, {', '.join(map(str, train.x.shape[1:]))})"
            f"{' with labels as X has' if train.labels is not None else ''}"
        )
    kind = "table" if columns is not None else ARRAYS
    files = ()
    return Samples(Path("X"), kind, train, test, classes, files, digest([p.x for p in parts if p is not None]), columns)
