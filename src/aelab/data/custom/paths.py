"""Which `--dataset` values are paths to your own data, and what kind of data a path holds.

A built-in name (mnist, fashion-mnist) is looked up in the registry, with a close-match suggestion
for a typo; anything that looks like a path (a separator, a known suffix, or something on disk) is
your own data. So `--dataset mnst` still says "did you mean mnist?", and `--dataset ./mnst` says
that no such file or folder exists.
"""

from __future__ import annotations

import os
from pathlib import Path

from aelab.config import DATA_OPTIONS
from aelab.data.registry import REGISTRY
from aelab.errors import ConfigError, DataError
from aelab.fileio import what_is_at

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")
TABLE_SUFFIXES = {".csv": ",", ".tsv": "\t"}  # suffix → delimiter
IDX_MARKERS = ("-ubyte", ".idx")  # MNIST's names end in -ubyte (or -ubyte.gz); .idx is the generic suffix
KINDS = ("images", "npy", "npz", "table", "idx")
EXPECTED = "expected an image folder, a .npy or .npz file, a .csv or .tsv table, or IDX files"


def is_path(dataset: str) -> bool:
    """True when `dataset` names your own data rather than a built-in data set."""
    if dataset in REGISTRY:
        return False
    suffixes = (".npy", ".npz", *TABLE_SUFFIXES, ".gz", ".idx")
    return (
        os.sep in dataset
        or "/" in dataset
        or dataset.lower().endswith(suffixes)
        or "-ubyte" in dataset
        or Path(dataset).exists()
    )


def check_options_apply(config) -> None:
    """The options of your own data (--image-size, --scale, …) only with a --dataset PATH: a built-in data set
    has its own size, split and scaling, and silently ignoring an option would train on something else than asked."""
    given = [name for name in DATA_OPTIONS if getattr(config, name, None) is not None]
    if given and not is_path(config.dataset):
        value = getattr(config, given[0])
        shown = ",".join(map(str, value)) if isinstance(value, tuple) else value
        problem = f"{shown}: applies to --dataset PATH (your own data): expected it without --dataset {config.dataset}"
        flag = given[0].replace("_", "-")
        raise ConfigError(f"--{flag} {problem}", setting=given[0], value=value, problem=problem)


def is_idx_name(path: Path) -> bool:
    name = path.name.lower().removesuffix(".gz")
    return name.endswith(IDX_MARKERS)


def kind_of(path: Path) -> str:
    """The kind of data at `path` (one of KINDS); a missing path or an unknown file is a one-line DataError."""
    found = what_is_at(path)
    if found == "nothing" and str(path) in REGISTRY:  # a built-in data set's name, given where a path is read
        raise DataError(
            f"{path}: no such file or folder: '{path}' is a built-in data set, opened by aelab.load_dataset('{path}')"
        )
    if found == "nothing":
        raise DataError(f"{path}: no such file or folder: {EXPECTED}")
    if found not in ("a file", "a folder"):  # a FIFO would hang the reader; a dangling link is not "missing"
        raise DataError(f"{path}: is {found}: {EXPECTED}")
    if path.is_dir():
        if (path / "x_train.npy").is_file():
            return "npy"
        return "idx" if any(is_idx_name(p) for p in path.iterdir() if p.is_file()) else "images"
    suffix = path.suffix.lower()
    if suffix in (".npy", ".npz"):
        return suffix[1:]
    if suffix in TABLE_SUFFIXES:
        return "table"
    if is_idx_name(path):
        return "idx"
    raise DataError(f"{path}: unknown kind of file (suffix {suffix or 'none'!r}): {EXPECTED}")


def folder_label(dataset: str) -> str:
    """The name of a data set's folder in a study's output: the built-in name, or the path's last part
    (characters other than letters, digits, '.', '_' and '-' become '-'), so every step folder stays one level deep."""
    if not is_path(dataset):
        return dataset
    name = Path(dataset).name or "data"
    return "".join(c if c.isalnum() or c in "._-" else "-" for c in name)
