"""The IDX image files as the peers read them: NumPy and gzip only (the peers' environment has no aelab)."""

from __future__ import annotations

import gzip

import numpy as np


def read_images(path: str) -> np.ndarray:
    """The 16-byte-header IDX image file as float32 in [0, 1], (n, 784). Checked by aelab's own tests, not here."""
    with gzip.open(path) as handle:
        raw = handle.read()
    return np.frombuffer(raw, np.uint8, offset=16).reshape(-1, 784).astype("float32") / 255.0


def split(data_dir: str, dataset: str) -> tuple[np.ndarray, np.ndarray]:
    """(train images, test images) of `dataset` under `data_dir`, as aelab's data directory lays them out."""
    return (
        read_images(f"{data_dir}/{dataset}/train-images-idx3-ubyte.gz"),
        read_images(f"{data_dir}/{dataset}/t10k-images-idx3-ubyte.gz"),
    )
