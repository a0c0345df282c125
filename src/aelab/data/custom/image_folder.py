"""A folder of images (PNG, JPEG, BMP, TIFF, WebP through Pillow) → uint8 samples (n, C, H, W)
(float32 in [0, 1] for 16-bit grey images: image_decoding.py).

The layout (class subfolders, train/ and test/, the order of the samples) is folder_listing.py's;
decoding (grey or RGB, one size or `image_size`, on worker processes for a large folder) is
image_decoding.py's. Here they meet the decoded cache (decoded_cache.py): an unchanged listing
recalls its content digest and the verified decoded array without reading one image, so the second
load costs a listing and one read of the array (done on a second thread while the folder is listed);
otherwise every file is read once, for the identity digest and for decoding alike.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from aelab.data.custom import decoded_cache
from aelab.data.custom.folder_listing import list_image_folder
from aelab.data.custom.identity import named_digest
from aelab.data.custom.image_decoding import decode_images
from aelab.data.custom.samples import Part, Samples
from aelab.errors import DataError

READ_THREADS = 8  # reading many small files overlaps their waits on the disk (the GIL is released meanwhile)


def _read_all(files: list[str]) -> list[bytes]:
    def read(path: str) -> bytes:
        try:
            with open(path, "rb") as f:
                return f.read()
        except OSError as exc:
            raise DataError(f"{path}: cannot read: {exc.strerror}") from None

    with ThreadPoolExecutor(max_workers=READ_THREADS) as pool:
        return list(pool.map(read, files))


def _decoded(
    names: list[str], paths: list[str], image_size, use_cache: bool, workers, processes
) -> tuple[np.ndarray, str]:
    """Read every file once: the content digest (identity.py's order: sorted names), then the decoded array (cached
    by it)."""
    contents = _read_all(paths)
    digest = named_digest(sorted(zip(names, contents)))  # names are unique: the sort never compares contents
    key = decoded_cache.key(digest, image_size)
    x = decoded_cache.load(key) if use_cache else None
    if x is None:
        x = decode_images(paths, contents, image_size, workers, processes)
        if use_cache:
            decoded_cache.store(key, x)
    return x, digest


def _recalled(digest: str | None, image_size, guessed: str | None, guessed_x: np.ndarray | None) -> np.ndarray | None:
    """The verified cached array of `digest`: the one read meanwhile if it is that entry, else read now; None if
    none."""
    if digest is None:
        return None
    name = decoded_cache.key(digest, image_size)
    return guessed_x if name == guessed else decoded_cache.load(name)


def read_image_folder(
    root: Path,
    image_size: tuple[int, int] | None = None,
    use_cache: bool = True,
    workers: int | None = None,
    processes: bool | None = None,
) -> Samples:
    """Every image under `root` as uint8 (n, C, H, W), labels from class subfolders, a split if train/ and test/ exist.

    `workers` and `processes` choose how a folder is decoded (image_decoding.decode_images); `use_cache`
    False reads and decodes every file (benchmarks).
    """
    listed_at = time.time_ns()
    x = digest = fingerprint = guessed = None
    with ThreadPoolExecutor(max_workers=1) as pool:
        guess = pool.submit(decoded_cache.load_latest, root, image_size) if use_cache else None  # meanwhile: see there
        listing = list_image_folder(root)
        if use_cache:  # an unchanged listing: the digest and the decoded array from the cache, no file read
            fingerprint = decoded_cache.listing_fingerprint(listing.names, listing.stats)
            digest = decoded_cache.recall(fingerprint)
            guessed, guessed_x = guess.result()
            x = _recalled(digest, image_size, guessed, guessed_x)
    if x is None:
        x, digest = _decoded(listing.names, listing.files.strings(), image_size, use_cache, workers, processes)
        if use_cache and not decoded_cache.is_racy(listing.stats, listed_at):
            decoded_cache.remember(fingerprint, digest)
    if use_cache and decoded_cache.key(digest, image_size) != guessed:
        decoded_cache.note_latest(root, image_size, decoded_cache.key(digest, image_size))
    parts = {split: Part(x[rows], labels) for split, (rows, labels) in listing.parts.items()}
    train = parts.get("train", parts.get("all"))
    return Samples(root, "images", train, parts.get("test"), listing.class_names, listing.files, digest)
