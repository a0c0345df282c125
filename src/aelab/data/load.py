"""Load a data set as arrays: locate it, verify every payload's digest, scale images to [0, 1].

A copy of the verified payloads is kept in aelab's cache, so a new process's load costs a raw
read and a hash. Within a process, a loaded data set is kept (keyed by its files' paths, sizes and
mtimes, so edits are seen) and the same arrays are returned to every caller: `aelab reproduce`
loads a data set once per step, in two threads at a time, and one float32 copy (220 MB for
Fashion-MNIST) is all it needs. The arrays are shared, so they are made read-only: a caller that
scales or shuffles them in place gets NumPy's "assignment destination is read-only" instead of
silently corrupting every later load in the process (`.copy()` gives a private, writeable one).
"""

from __future__ import annotations

import hashlib
import os
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from aelab.data.description import Description, kind_of
from aelab.data.download import cache_payload, download, downloads_allowed
from aelab.data.idx import decode_idx, encode_idx, read_idx_bytes
from aelab.data.locate import Found, Place, cache_root, locate, missing_files
from aelab.data.registry import SPLIT_FILES, DatasetSpec, get_spec
from aelab.errors import DataError, DatasetNotFoundError

NPZ_KEYS = {  # Keras' mnist.npz key → canonical file name
    "x_train": "train-images-idx3-ubyte",
    "y_train": "train-labels-idx1-ubyte",
    "x_test": "t10k-images-idx3-ubyte",
    "y_test": "t10k-labels-idx1-ubyte",
}


@dataclass(frozen=True)
class Dataset:
    """A loaded data set. Images are float32 rows (n, prod(sample_shape)) (or (n, 28, 28) unflattened built-ins),
    in [0, 1] except your own data scaled for MSE; labels int64 (n,), or None for unlabelled data.

    `spec` is the built-in data set's (None for your own data, data/custom/); `sample_shape` is
    (C, H, W) for images ((1, 28, 28) for MNIST and Fashion-MNIST) or (L,) for 1-D samples;
    `record` is what config.json keeps of your own data (identity, split, scaling, loss).
    """

    spec: DatasetSpec | None
    train_images: np.ndarray
    train_labels: np.ndarray | None
    test_images: np.ndarray
    test_labels: np.ndarray | None
    source: str  # where it was found, for humans
    sample_shape: tuple[int, ...] = (1, 28, 28)
    class_names: tuple[str, ...] | None = None
    record: dict | None = None
    columns: tuple[str, ...] | None = None  # a table's feature columns, by name

    @property
    def description(self) -> Description:
        """What every consumer of a run asks instead of guessing from the number of features (data/description.py)."""
        scaling = None if self.record is None else self.record["scaling"]
        kind = kind_of(tuple(self.sample_shape), self.columns)
        return Description(kind, tuple(self.sample_shape), self.loss, scaling, self.columns, self.class_names)

    def config_entries(self) -> dict:
        """What a run's config.json keeps of its data: `description` always; for your own data also `data` (identity,
        split, scaling, loss, sample shape, class names), so a run says exactly what it was trained on."""
        entries = {"description": self.description.to_json()}
        if self.record is not None:
            entries["data"] = {**self.record, "sample_shape": list(self.sample_shape), "class_names": self.class_names}
        return entries

    @property
    def name(self) -> str:
        return self.spec.name if self.spec is not None else self.record["identity"]["path"]

    @property
    def loss(self) -> str:
        """The reconstruction loss this data trains with: bce for the built-ins, as recorded for your own data."""
        return "bce" if self.record is None else self.record["loss"]


def check_digest(payload: bytes, expected: str, source: str) -> None:
    """Raise a one-line DataError unless SHA-256(payload) == expected."""
    actual = hashlib.sha256(payload).hexdigest()
    if actual != expected:
        raise DataError(f"{source}: SHA-256 mismatch: expected {expected}, got {actual} (corrupt or a different file)")


def _verified_payload(path: str, expected: str, size: int, mtime_ns: int) -> bytes:
    """Decompressed and verified bytes of one IDX file (size and mtime: the caller's key for its memo)."""
    payload = read_idx_bytes(path)
    check_digest(payload, expected, path)
    return payload


def _payloads_from_idx(spec: DatasetSpec, files: dict[str, Path]) -> dict[str, bytes]:
    payloads = {}
    for name, path in files.items():
        stat = path.stat()
        payloads[name] = _verified_payload(str(path), spec.sha256[name], stat.st_size, stat.st_mtime_ns)
    return payloads


def _payloads_from_npz(spec: DatasetSpec, npz: Path) -> dict[str, bytes]:
    """Keras' mnist.npz holds the same arrays; re-encoding them as IDX reproduces the original bytes."""
    try:
        with np.load(npz, allow_pickle=False) as archive:
            arrays = {NPZ_KEYS[key]: archive[key] for key in NPZ_KEYS}
    except (OSError, ValueError, KeyError) as exc:
        raise DataError(f"{npz}: not a Keras MNIST archive with x_train, y_train, x_test, y_test: {exc}") from None
    payloads = {name: encode_idx(arr.astype(np.uint8)) for name, arr in arrays.items()}
    for name, payload in payloads.items():
        check_digest(payload, spec.sha256[name], f"{npz}[{name}]")
    return payloads


def not_found_message(spec: DatasetSpec, places: list[Place], why: str) -> str:
    """One line: every place looked in (an incomplete one with the files it lacks), `why` no download, what to do."""
    looked = "; ".join(
        f"{p.label} {p.path}" + (f" (incomplete: no {', '.join(missing)})" if (missing := missing_files(p)) else "")
        for p in places
    )
    return (
        f"data set '{spec.name}' not found (looked in: {looked}) and {why}: "
        f"put the four IDX files ({', '.join(SPLIT_FILES.values())}, .gz or raw) in DIR/{spec.name}/ "
        "and pass --data-dir DIR or set AELAB_DATA_DIR=DIR"
    )


def find_or_download(spec: DatasetSpec, data_dir: str | os.PathLike | None = None, progress: bool = True) -> Found:
    """The first complete copy of `spec`, downloading into the cache if none exists and downloads are allowed."""
    found, places = locate(spec, data_dir)
    if found is not None:
        return found
    if not downloads_allowed():
        off = (
            f"downloads are turned off (AELAB_OFFLINE={os.environ.get('AELAB_OFFLINE')}; unset it to "
            "download from the mirrors)"
        )
        raise DatasetNotFoundError(not_found_message(spec, places, off))
    try:
        return download(spec, progress)
    except DataError as exc:
        raise DatasetNotFoundError(not_found_message(spec, places, f"could not be downloaded ({exc})")) from None


def verified_payloads(spec: DatasetSpec, found: Found) -> dict[str, bytes]:
    """All four decompressed payloads of `found`, each checked against its digest; cached when new."""
    payloads = _payloads_from_npz(spec, found.npz) if found.npz else _payloads_from_idx(spec, found.files)
    cache = cache_root() / spec.name
    if found.place.path.resolve() != cache.resolve():
        for name, payload in payloads.items():
            if not (cache / name).is_file():
                cache_payload(spec, name, payload)
    return payloads


_LOADED: dict[tuple, Dataset] = {}  # see the module docstring
_LOADED_MAX = 4
_LOCK = threading.Lock()


def clear_loaded() -> None:
    """Forget the data sets kept by this process (the next load reads and verifies the files again)."""
    with _LOCK:
        _LOADED.clear()


def identity(found: Found) -> tuple:
    """What a loaded copy depends on: each file's path, size and modification time."""
    paths = [found.npz] if found.npz else [found.files[name] for name in sorted(found.files)]
    return tuple((str(p), p.stat().st_size, p.stat().st_mtime_ns) for p in paths)


def load_dataset(
    name: str, data_dir: str | os.PathLike | None = None, flatten: bool = True, progress: bool = True
) -> Dataset:
    """Load data set `name`: images float32 in [0, 1], (n, 784) if `flatten` else (n, 28, 28).

    A second call in the same process for the same files returns the same (shared, read-only) arrays.
    """
    spec = get_spec(name)
    with _LOCK:
        found = find_or_download(spec, data_dir, progress)
        key = (spec.name, flatten, identity(found))
        if key not in _LOADED:
            while len(_LOADED) >= _LOADED_MAX:
                _LOADED.pop(next(iter(_LOADED)))
            _LOADED[key] = decode_dataset(spec, found, flatten)
        return _LOADED[key]


def decode_dataset(spec: DatasetSpec, found: Found, flatten: bool) -> Dataset:
    """Verify and decode `found`'s payloads into a Dataset (the raw bytes are dropped afterwards)."""
    payloads = verified_payloads(spec, found)
    arrays = {role: decode_idx(payloads[file], source=f"{spec.name}/{file}") for role, file in SPLIT_FILES.items()}
    for split, n in (("train", spec.n_train), ("test", spec.n_test)):
        images, labels = arrays[f"{split}_images"], arrays[f"{split}_labels"]
        if images.shape != (n, *spec.image_shape) or labels.shape != (n,):
            raise DataError(
                f"{spec.name} {split}: shapes {images.shape} and {labels.shape}: expected ({n}, 28, 28) and ({n},)"
            )
    return Dataset(
        spec=spec,
        train_images=read_only(to_unit_float(arrays["train_images"], flatten)),
        train_labels=read_only(arrays["train_labels"].astype(np.int64)),
        test_images=read_only(to_unit_float(arrays["test_images"], flatten)),
        test_labels=read_only(arrays["test_labels"].astype(np.int64)),
        source=f"{found.place.label}: {found.place.path}",
        sample_shape=(1, *spec.image_shape),
        class_names=spec.class_names,
    )


def read_only(array: np.ndarray) -> np.ndarray:
    """`array`, marked read-only (it is shared by every caller; see the module docstring)."""
    array.flags.writeable = False
    return array


def to_unit_float(images: np.ndarray, flatten: bool = True) -> np.ndarray:
    """uint8 images → float32 in [0, 1] (divided by 255, as the Keras study does)."""
    out = images.astype(np.float32)
    out /= np.float32(255.0)
    return out.reshape(len(out), -1) if flatten else out
