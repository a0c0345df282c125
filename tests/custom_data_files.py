"""Writers of the fixtures for your own data: scikit-learn's bundled digits (real data shipped in its wheel)
as a PNG folder, an .npz and a CSV; generated RGB images and 1-D signals; MNIST exported to PNG folders."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from PIL import Image
from sklearn.datasets import load_digits


def digits() -> tuple[np.ndarray, np.ndarray]:
    """The 1,797 8×8 digits as uint8 (0–255; the originals are 0–16) and their labels."""
    bunch = load_digits()
    return np.round(bunch.images * (255 / 16)).astype(np.uint8), bunch.target.astype(np.int64)


def write_png_folder(root: Path, images: np.ndarray, labels: np.ndarray | None, start: int = 0) -> Path:
    """One PNG per image, in class subfolders when labelled; names are the zero-padded index (image (H, W) or (H, W,
    3))."""
    for i, image in enumerate(images, start):
        folder = root if labels is None else root / str(int(labels[i - start]))
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(image).save(folder / f"{i:05d}.png")
    return root


def age_files(root: Path, seconds: int = 3600) -> Path:
    """Set every file's modification time `seconds` back, as a data folder written earlier has: a file modified within
    the timestamps' resolution of a listing is "racy" and its listing is not remembered (decoded_cache.py)."""
    for path in root.rglob("*"):
        if path.is_file():
            stat = path.stat()
            os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns - seconds * 1_000_000_000))
    return root


def write_digits_csv(path: Path, rows: np.ndarray, labels: np.ndarray, delimiter: str = ",") -> Path:
    header = [f"pixel{j}" for j in range(rows.shape[1])] + ["digit"]
    lines = [delimiter.join(header)] + [
        delimiter.join([*(f"{v:g}" for v in row), str(int(y))]) for row, y in zip(rows, labels)
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


def rgb_images(n: int = 60, size: int = 12, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Coloured squares on a dark background: class = which channel is lit; (n, size, size, 3) uint8."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 3, n)
    images = rng.integers(0, 40, (n, size, size, 3), dtype=np.uint8)
    for image, c in zip(images, labels):
        top, left = rng.integers(0, size // 2, 2)
        image[top : top + size // 2, left : left + size // 2, c] = 230
    return images, labels


def signals(n: int = 120, length: int = 50, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """1-D signals like beats: sines of two frequencies (the label) with noise, amplitude ~3 (not in [0, 1])."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, n)
    t = np.linspace(0, 1, length)
    x = 3 * np.sin(2 * np.pi * (2 + 3 * labels[:, None]) * t + rng.uniform(0, 1, (n, 1))) + 0.1 * rng.standard_normal(
        (n, length)
    )
    return x.astype(np.float32), labels
