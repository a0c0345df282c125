"""NumPy files: `.npy` (memory-mapped) and `.npz` (Keras' mnist.npz layout: x_train, y_train, x_test, y_test).

A `.npy` is opened with `mmap_mode="r"`, so an array larger than memory is paged in as training
touches its batches, never loaded whole. Before mapping, its header is checked against the file's
size: a header that declares an absurd shape (10^15 rows in a 1 kB file) is refused in one line
instead of failing deep inside NumPy, or mapping past the end of the file.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np

from aelab.data.custom.memory_limit import check_values
from aelab.data.custom.samples import Part, Samples, check_labels, check_samples, check_split_parts
from aelab.errors import DataError

NPZ_KEYS = ("x_train", "y_train", "x_test", "y_test")


def read_header(f, source) -> tuple[tuple[int, ...], bool, np.dtype, int]:
    """(shape, fortran_order, dtype, bytes the data claims) of the .npy header at `f`'s start; a numeric dtype."""
    try:
        version = np.lib.format.read_magic(f)
        read = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}.get(version)
        if read is None:
            raise ValueError(f"unsupported .npy format version {version}")
        shape, fortran, dtype = read(f, max_header_size=100_000)
    except (ValueError, SyntaxError, TypeError, OverflowError, EOFError) as exc:
        raise DataError(
            f"{source}: not a readable .npy file ({str(exc).splitlines()[0] if str(exc) else type(exc).__name__}): "
            "expected a NumPy array saved with numpy.save"
        ) from None
    if dtype.hasobject or dtype.kind not in "biuf" or dtype.fields is not None:
        raise DataError(
            f"{source}: dtype {dtype}: expected a numeric array (integers or floats), not objects or records"
        )
    claimed = int(np.prod(shape, dtype=np.float64)) * dtype.itemsize  # float64: no overflow on an absurd claim
    return tuple(int(s) for s in shape), bool(fortran), dtype, claimed


def check_claim(source, shape, dtype, claimed: int, actual: int, holder: str) -> None:
    """The header's claim must be what its file (or archive entry) holds: checked before anything is allocated."""
    if claimed != actual:
        raise DataError(
            f"{source}: the header declares shape {tuple(shape)} of {dtype} ({claimed:.4g} bytes) but the {holder} "
            f"holds {actual} bytes of data: expected a complete .npy file"
        )


def npy_header(path: Path) -> tuple[tuple[int, ...], bool, np.dtype, int]:
    """(shape, fortran_order, dtype, offset of the data) of a .npy file, checked against the file's size."""
    try:
        with open(path, "rb") as f:
            shape, fortran, dtype, claimed = read_header(f, path)
            offset = f.tell()
    except OSError as exc:
        raise DataError(f"{path}: cannot read: {exc.strerror}") from None
    check_claim(path, shape, dtype, claimed, path.stat().st_size - offset, "file")
    return shape, fortran, dtype, offset


def check_npz_entries(path: Path, archive: zipfile.ZipFile) -> None:
    """Every array of an .npz checked from its header before one is read: a claim the entry does not hold, or
    samples above the memory limit, are refused with nothing decompressed."""
    for key in NPZ_KEYS:
        try:
            info = archive.getinfo(f"{key}.npy")
        except KeyError:
            continue
        with archive.open(info) as f:
            shape, _, dtype, claimed = read_header(f, f"{path}[{key}]")
            offset = f.tell()
        check_claim(f"{path}[{key}]", shape, dtype, claimed, info.file_size - offset, "archive's entry")
        check_values(f"{path}[{key}]", int(np.prod(shape, dtype=np.float64)), f"shape {tuple(shape)}")


def map_npy(path: Path, labels: bool = False) -> np.ndarray:
    """The array of a checked .npy file as a read-only memory map: samples (n, ...), or with `labels` (n,)."""
    shape, fortran, dtype, offset = npy_header(path)
    if labels and len(shape) == 1 and shape[0] >= 1:  # y_train.npy: one label per sample, as in an .npz
        return np.load(path, mmap_mode="r", allow_pickle=False)
    if labels:
        raise DataError(f"{path}: shape {shape}: expected labels of shape (n,), one whole number per sample, n ≥ 1")
    check_values(str(path), int(np.prod(shape, dtype=np.float64)), f"shape {shape}")
    if len(shape) < 2 or 0 in shape:  # an empty array cannot be mapped, and its other dimensions may be absurd
        raise DataError(
            f"{path}: shape {shape}: expected samples of shape (n, ...) with n ≥ 1, at least two dimensions "
            "((n, L) for 1-D samples) and at least one value each"
        )
    return np.load(path, mmap_mode="r", allow_pickle=False)


def read_npy(path: Path) -> Samples:
    """A .npy of samples (n, ...), or a folder of x_train.npy (+ y_train.npy, x_test.npy, y_test.npy: the keys
    of an .npz as files, so that each can be memory-mapped); arrays are read-only memory maps."""
    if not path.is_dir():
        x = map_npy(path)
        check_samples(x, str(path))
        return Samples(path, "npy", Part(x, None), None, None, (path,))
    arrays = {
        key: map_npy(path / f"{key}.npy", labels=key.startswith("y_"))
        for key in NPZ_KEYS
        if (path / f"{key}.npy").is_file()
    }
    files = tuple(sorted(path / f"{key}.npy" for key in arrays))
    return _from_arrays(path, "npy", arrays, files)


def read_npz(path: Path) -> Samples:
    """An .npz with x_train (and optionally y_train, x_test, y_test), as Keras' datasets store them."""
    try:
        with np.load(path, allow_pickle=False) as archive:
            check_npz_entries(path, archive.zip)  # NpzFile's own ZipFile: headers read before any array is
            keys = set(archive.files)
            if "x_train" not in keys:
                raise DataError(
                    f"{path}: holds {sorted(keys)}: expected at least x_train (and optionally y_train, x_test, y_test)"
                )
            arrays = {key: archive[key] for key in NPZ_KEYS if key in keys}
    except (zipfile.BadZipFile, ValueError, OSError, EOFError, KeyError) as exc:
        raise DataError(
            f"{path}: not a readable .npz archive ({exc}): expected numpy.savez(_compressed) output"
        ) from None
    return _from_arrays(path, "npz", arrays, (path,))


def _from_arrays(path: Path, kind: str, arrays: dict[str, np.ndarray], files: tuple[Path, ...]) -> Samples:
    """Samples from the arrays named as in NPZ_KEYS, checked: shapes, labels, finite values."""
    if ("y_test" in arrays) and "x_test" not in arrays:
        raise DataError(f"{path}: y_test without x_test: expected both or neither")
    parts = {}
    for split in ("train", "test"):
        if f"x_{split}" not in arrays:
            continue
        x = arrays[f"x_{split}"]
        check_samples(x, f"{path}[x_{split}]")
        labels = check_labels(arrays.get(f"y_{split}"), len(x), f"{path}[y_{split}]")
        parts[split] = Part(x, labels)
    test = parts.get("test")
    check_split_parts(path, parts["train"], test, f"{path}[x_test]")
    return Samples(path, kind, parts["train"], test, None, files)
