"""What a reader of your own data hands on: samples as read, before splitting and scaling.

Every reader (image folder, .npy/.npz, table, IDX) returns a `Samples`: one or two `Part`s (the
test part when the data brings its own split), class names if the data names classes, and the
files that make up the content, in the order the identity digest reads them (data/custom/identity.py).
The checks every kind shares live here too: labels that match the samples, values that are finite.
"""

from __future__ import annotations

import mmap
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from aelab.errors import DataError

CHUNK_BYTES = 64 << 20  # checks over a memory-mapped array read it in pieces of this size: bounded memory
FLOAT32_MAX = float(np.finfo(np.float32).max)  # training is float32: a larger finite value would become inf
# The smallest float64 that rounds to inf in float32: the largest float32 plus half its last place (2^104 / 2), the
# tie going up, to the even (infinite) neighbour (IEEE 754 round to nearest, ties to even). 3.4028235e38, above
# FLOAT32_MAX in float64, still becomes FLOAT32_MAX.
FLOAT32_OVERFLOW = FLOAT32_MAX + 2.0**103
FLOAT32_RANGE = "expected values within float32's range ±3.4e38"


@dataclass(frozen=True)
class Part:
    """One split as read: samples (n, *sample_shape), uint8 or float (possibly a read-only memmap); labels int64 (n,)
    or None."""

    x: np.ndarray
    labels: np.ndarray | None


@dataclass(frozen=True)
class Samples:
    """A data set as read from `path`: its parts, its class names, and its content files in digest order."""

    path: Path
    kind: str
    train: Part
    test: Part | None  # None: the data brings no test split (--test-fraction draws one)
    class_names: tuple[str, ...] | None
    files: Sequence[Path]  # a tuple, or an image folder's FolderFiles (Paths made on demand)
    digest: str | None = None  # the identity digest, when the reader computed it on the way (image folders)
    columns: tuple[str, ...] | None = (
        None  # a table's feature columns by their header names (the label column left out)
    )

    @property
    def sample_shape(self) -> tuple[int, ...]:
        return tuple(self.train.x.shape[1:])


def chunks(n: int, row_bytes: int):
    """Row ranges [start, stop) of at most CHUNK_BYTES each (at least one row)."""
    step = max(1, CHUNK_BYTES // max(1, row_bytes))
    for start in range(0, n, step):
        yield start, min(n, start + step)


def _first_index(mask: np.ndarray, start: int) -> tuple[int, ...]:
    """The index in the whole array of the first True of `mask`, a chunk that begins at row `start`."""
    first = np.argwhere(mask)[0]
    return (start + int(first[0]), *(int(i) for i in first[1:]))


def check_finite(x: np.ndarray, source: str) -> None:
    """Refuse NaN or inf, and values beyond float32's range (training is float32: 1e300 would become inf there): one
    line with how many there are and the index of the first (a chunked scan, one pass)."""
    if not np.issubdtype(x.dtype, np.floating):
        return
    wide = x.itemsize > 4  # only a wider float can hold a finite value that float32 cannot
    count, first, over, first_over = 0, None, 0, None
    row_bytes = x.itemsize * int(np.prod(x.shape[1:], dtype=np.int64))
    for start, stop in chunks(len(x), row_bytes):
        block = x[start:stop]
        bad = ~np.isfinite(block)
        n_bad = int(bad.sum())
        if n_bad and first is None:
            first = _first_index(bad, start)
        count += n_bad
        if wide and not count:
            big = np.abs(block) >= FLOAT32_OVERFLOW  # NaN compares False; inf is counted above
            n_big = int(big.sum())
            if n_big and first_over is None:
                first_over = _first_index(big, start)
            over += n_big
    if count:
        raise DataError(
            f"{source}: {count} NaN or infinite value{'s' if count > 1 else ''}, the first at index "
            f"{first}: expected finite numbers"
        )
    if over:
        raise DataError(
            f"{source}: {over} value{'s' if over > 1 else ''} beyond float32's range, the first "
            f"{float(x[first_over]):g} at index {first_over}: {FLOAT32_RANGE}"
        )


def release_pages(x: np.ndarray) -> None:
    """Drop the resident pages of the memory map behind `x` from this process (nothing else is done).

    The checks above read a memory-mapped array once through; its pages would stay counted in the
    process's RSS until the kernel needs the memory. They are clean, read-only pages of a file, so
    MADV_DONTNEED only forgets them: the next touch reads them again (from the page cache).
    """
    base = x
    while base is not None and not isinstance(base, np.memmap):
        base = getattr(base, "base", None)  # a view's owner; an array over bytes ends the chain
    mapping = getattr(base, "_mmap", None)  # NumPy keeps the mmap object of an np.memmap here
    if mapping is not None and hasattr(mmap, "MADV_DONTNEED"):
        mapping.madvise(mmap.MADV_DONTNEED)


def check_labels(labels: np.ndarray | None, n: int, source: str) -> np.ndarray | None:
    """Labels as int64 (n,): their count must match the samples', and they must be whole numbers ≥ 0."""
    if labels is None:
        return None
    labels = np.asarray(labels)
    if labels.ndim != 1 or len(labels) != n:
        raise DataError(
            f"{source}: {labels.shape[0] if labels.ndim else 0} labels (shape {labels.shape}) for {n} "
            f"samples: expected one label per sample, shape ({n},)"
        )
    if labels.dtype.kind not in "iu":
        if labels.dtype.kind != "f" or not np.all(np.isfinite(labels)) or not np.all(labels == np.round(labels)):
            raise DataError(f"{source}: labels of dtype {labels.dtype}: expected whole numbers ≥ 0")
    if len(labels) and labels.min() < 0:
        raise DataError(f"{source}: label {labels.min()} at index {int(np.argmin(labels))}: expected whole numbers ≥ 0")
    return labels.astype(np.int64)


def check_split_parts(path, train: Part, test: Part | None, test_source: str) -> None:
    """A data set's own test split must match its training split: the same sample shape, labels on both or neither."""
    if test is None:
        return
    if test.x.shape[1:] != train.x.shape[1:]:
        raise DataError(
            f"{test_source}: test samples of shape {test.x.shape[1:]} but training samples of shape "
            f"{train.x.shape[1:]}: expected the same"
        )
    if (test.labels is None) != (train.labels is None):
        raise DataError(f"{path}: labels for only one split: expected labels for train and test both or neither")


def check_samples(x: np.ndarray, source: str) -> None:
    """At least one sample with at least one value, of a numeric dtype, finite."""
    if x.ndim < 2 or len(x) == 0 or x.size == 0:
        raise DataError(
            f"{source}: shape {tuple(x.shape)}: expected samples of shape (n, ...) with n ≥ 1 and at "
            "least one value each"
        )
    if x.dtype.kind not in "uif":
        raise DataError(f"{source}: dtype {x.dtype}: expected numbers (unsigned or signed integers, or floats)")
    check_finite(x, source)
