"""IDX files of any shape: one file of samples, or a folder with the train/test images and labels files.

One IDX file (n, ...) is unlabelled samples. A folder is read as MNIST lays its files out: a
`train-images…` file, optionally `train-labels…`, `t10k-images…` (or `test-images…`) and
`t10k-labels…` (or `test-labels…`), raw or .gz — the same names `aelab` writes when it exports
a data set, whatever the shape of the samples (1-D signals as idx2, RGB images as idx4).
"""

from __future__ import annotations

from pathlib import Path

from aelab.data.custom.paths import is_idx_name
from aelab.data.custom.samples import Part, Samples, check_labels, check_samples, check_split_parts
from aelab.data.idx import read_idx
from aelab.errors import DataError

ROLES = {
    "train_images": ("train-images",),
    "train_labels": ("train-labels",),
    "test_images": ("t10k-images", "test-images"),
    "test_labels": ("t10k-labels", "test-labels"),
}


def _role_files(folder: Path) -> dict[str, Path]:
    found: dict[str, Path] = {}
    for path in sorted(p for p in folder.iterdir() if p.is_file() and is_idx_name(p)):
        for role, prefixes in ROLES.items():
            if path.name.lower().startswith(prefixes):
                if role in found:
                    raise DataError(
                        f"{path}: a second {role.replace('_', ' ')} file beside {found[role].name}: expected one"
                    )
                found[role] = path
    if "train_images" not in found:
        raise DataError(
            f"{folder}: no train-images IDX file: expected train-images…-ubyte[.gz] (and optionally "
            "train-labels…, t10k-images…, t10k-labels…)"
        )
    for split in ("train", "test"):
        if f"{split}_labels" in found and f"{split}_images" not in found:
            raise DataError(f"{found[f'{split}_labels']}: labels without {split} images: expected both")
    return found


def read_idx_samples(path: Path) -> Samples:
    """An IDX file of samples, or a folder of MNIST-named IDX files (with labels and a test split when present)."""
    if path.is_file():
        x = read_idx(path)
        check_samples(x, str(path))
        return Samples(path, "idx", Part(x, None), None, None, (path,))
    files = _role_files(path)
    parts = {}
    for split in ("train", "test"):
        if f"{split}_images" not in files:
            continue
        images_path = files[f"{split}_images"]
        x = read_idx(images_path)
        check_samples(x, str(images_path))
        labels_path = files.get(f"{split}_labels")
        labels = None if labels_path is None else check_labels(read_idx(labels_path), len(x), str(labels_path))
        parts[split] = Part(x, labels)
    test = parts.get("test")
    check_split_parts(path, parts["train"], test, str(files.get("test_images")))
    return Samples(path, "idx", parts["train"], test, None, tuple(sorted(files.values())))
