"""A folder of images (PNG, JPEG, BMP, TIFF, WebP through Pillow) → uint8 samples (n, C, H, W).

Layout, as torchvision's `ImageFolder`: subfolders name the classes (sorted names → labels 0, 1, …);
images directly in the folder, with no subfolders, are unlabelled. A folder holding exactly `train/`
and `test/` gives its own split, each laid out the same way. Samples are in the order of their
relative paths (data/custom/identity.py), so a folder always reads the same.

Grayscale images give C = 1; if any image has colour, every image is read as RGB (C = 3). All must
have one size, or `image_size` (H, W) resizes each (bilinear). Decoding runs on a thread pool
(Pillow releases the GIL while it decodes), and a decoded folder is cached by its content digest
(data/custom/decoded_cache.py), so the second load costs reading and hashing the files only.
"""

from __future__ import annotations

import io
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from aelab.data.custom import decoded_cache
from aelab.data.custom.identity import folder_digest, relative_name
from aelab.data.custom.paths import IMAGE_SUFFIXES
from aelab.data.custom.samples import Part, Samples
from aelab.errors import DataError

GRAY_MODES = ("1", "L", "LA", "I", "I;16", "F")
SPLITS = ("train", "test")


def _visible(path: Path) -> bool:
    return not path.name.startswith(".")


def _image_files(folder: Path) -> list[Path]:
    """Every visible file under `folder`, sorted by its relative path (POSIX), refusing one that is not an image
    by its name. os.walk and strings, not pathlib: 70,000 relative_to calls cost seconds (measured)."""
    found = []
    for directory, subfolders, names in os.walk(folder):
        subfolders[:] = [d for d in subfolders if not d.startswith(".")]  # hidden folders are skipped, as hidden files
        base = os.path.relpath(directory, folder).replace(os.sep, "/")
        for name in names:
            full = os.path.join(directory, name)
            if not name.startswith(".") and os.path.isfile(full):
                found.append((name if base == "." else f"{base}/{name}", full))
    found.sort()
    files = [Path(full) for _, full in found]
    for path in files:
        if path.suffix.lower() not in IMAGE_SUFFIXES:
            raise DataError(f"{path}: not an image (suffix {path.suffix or 'none'!r}): expected only "
                            f"{', '.join(s[1:] for s in IMAGE_SUFFIXES)} files in an image folder")
    return files


def _classes(folder: Path) -> list[str] | None:
    """Class names (sorted subfolder names), or None when the images lie directly in `folder`."""
    subfolders = sorted(p.name for p in folder.iterdir() if p.is_dir() and _visible(p))
    loose = [p for p in folder.iterdir() if p.is_file() and _visible(p)]
    if subfolders and loose:
        raise DataError(f"{loose[0]}: a file beside the class subfolders {', '.join(subfolders[:3])}: expected every "
                        "image inside a class subfolder, or no subfolders at all")
    return subfolders or None


def _listing(root: Path) -> tuple[dict[str, tuple[list[Path], list[int] | None]], tuple[str, ...] | None]:
    """split → (files, labels or None), and the class names; one split "all" when the folder brings none."""
    entries = sorted(p.name for p in root.iterdir() if _visible(p))
    folders = dict.fromkeys(SPLITS) if entries == sorted(SPLITS) and all((root / s).is_dir() for s in SPLITS) else {"all": None}
    classes = None
    for split in folders:
        folder = root if split == "all" else root / split
        names = _classes(folder)
        if split == "test" and (names is None) != (classes is None):
            raise DataError(f"{folder}: {'class subfolders' if names else 'no class subfolders'} unlike {root / 'train'}: "
                            "expected the same layout in train/ and test/")
        if names is not None and classes is not None and not set(names) <= set(classes):
            extra = sorted(set(names) - set(classes))
            raise DataError(f"{folder / extra[0]}: a class that {root / 'train'} does not have: expected test classes "
                            "among the training classes")
        classes = classes if split == "test" else names
        files = _image_files(folder)
        if not files:
            raise DataError(f"{folder}: no image files: expected {', '.join(s[1:] for s in IMAGE_SUFFIXES)} images"
                            + (" in class subfolders" if names else ""))
        index = {name: i for i, name in enumerate(classes or ())}
        start = len(str(folder).rstrip(os.sep)) + 1  # each file's first folder below `folder` is its class
        labels = None if names is None else [index[str(p)[start:].split(os.sep, 1)[0]] for p in files]
        folders[split] = (files, labels)
    return folders, None if classes is None else tuple(classes)


def _decode(path: Path, content: bytes, size: tuple[int, int] | None) -> np.ndarray:
    """One image as uint8 (H, W) or (H, W, 3); a corrupt, truncated or non-image file is a DataError naming it."""
    try:
        with Image.open(io.BytesIO(content)) as image:
            image.load()  # decodes everything now: a truncated file fails here, not later
            image = image.convert("L" if image.mode in GRAY_MODES else "RGB")
            if size is not None and image.size != (size[1], size[0]):
                image = image.resize((size[1], size[0]), Image.Resampling.BILINEAR)
            return np.asarray(image, dtype=np.uint8)
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
        raise DataError(f"{path}: corrupt, truncated or not an image ({exc}): expected a readable "
                        f"{path.suffix[1:].upper() or 'image'} file") from None


def _stack(files: list[Path], images: list[np.ndarray]) -> np.ndarray:
    """(n, C, H, W) uint8; mixed sizes name two files that differ, grey images join colour ones as RGB."""
    first = images[0].shape[:2]
    for path, image in zip(files, images):
        if image.shape[:2] != first:
            raise DataError(f"{path}: {image.shape[1]}×{image.shape[0]} pixels but {files[0]} has {first[1]}×{first[0]}: "
                            "expected one size (or pass --image-size H,W to resize)")
    if any(image.ndim == 3 for image in images):
        images = [np.repeat(image[..., None], 3, axis=2) if image.ndim == 2 else image for image in images]
        return np.stack(images).transpose(0, 3, 1, 2).copy()  # (n, H, W, 3) → (n, 3, H, W)
    return np.stack(images)[:, None]


def decode_images(files: list[Path], contents: list[bytes], size: tuple[int, int] | None,
                  workers: int | None = None) -> np.ndarray:
    """Decode on a pool of threads (default: one per core, at most 32), in order."""
    workers = workers or min(32, os.cpu_count() or 1)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        images = list(pool.map(_decode, files, contents, [size] * len(files), chunksize=64))
    return _stack(files, images)


def _read_all(files: list[Path]) -> list[bytes]:
    def read(path: Path) -> bytes:
        try:
            return path.read_bytes()
        except OSError as exc:
            raise DataError(f"{path}: cannot read: {exc.strerror}") from None

    with ThreadPoolExecutor(max_workers=8) as pool:
        return list(pool.map(read, files))


def read_image_folder(root: Path, image_size: tuple[int, int] | None = None, use_cache: bool = True,
                      workers: int | None = None) -> Samples:
    """Every image under `root` as uint8 (n, C, H, W), labels from class subfolders, a split if train/ and test/ exist."""
    splits, class_names = _listing(root)
    files = [p for split in splits.values() for p in split[0]]
    x = digest = None
    if use_cache:  # an unchanged listing: the digest and the decoded array from the cache, no file read
        fingerprint = decoded_cache.listing_fingerprint(root, files)
        digest = decoded_cache.recall(fingerprint)
        x = None if digest is None else decoded_cache.load(decoded_cache.key(digest, image_size))
    if x is None:
        contents = _read_all(files)
        digest = folder_digest(root, sorted(zip(files, contents), key=lambda pair: relative_name(root, pair[0])))
        key = decoded_cache.key(digest, image_size)
        x = decoded_cache.load(key) if use_cache else None
        if x is None:
            x = decode_images(files, contents, image_size, workers)
            if use_cache:
                decoded_cache.store(key, x)
        if use_cache:
            decoded_cache.remember(fingerprint, digest)
    parts, start = {}, 0
    for split, (split_files, labels) in splits.items():
        stop = start + len(split_files)
        parts[split] = Part(x[start:stop], None if labels is None else np.array(labels, dtype=np.int64))
        start = stop
    train = parts.get("train", parts.get("all"))
    return Samples(root, "images", train, parts.get("test"), class_names, tuple(files), digest)
