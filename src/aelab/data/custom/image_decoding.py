"""Image files' bytes → one array (n, C, H, W), uint8 (float32 for 16-bit images), decoded by Pillow on threads
or on worker processes.

Grayscale images give C = 1; if any image has colour, every image is read as RGB (C = 3). All must
have one size, or `size` (H, W) resizes each (bilinear). 16-bit grey images are read at their full
depth, as float32 in [0, 1] (value / 65535; the folder's 8-bit images, if any, then / 255 alike):
converted to 8 bits they would be clamped at 255. 32-bit float images (TIFF mode F) keep their own values,
float32. Errors are one line naming the file: a corrupt, truncated or non-image file, or two files of
different sizes (seen from the headers, before anything is decoded).

Why processes: Pillow holds the GIL for most of the work on small images (a PNG of 28×28 decodes in
microseconds; opening, converting and wrapping it in NumPy is Python), so a pool of threads decoded
70,000 MNIST PNGs no faster than one thread (BENCHMARKS.md, issue 19). Worker processes each decode
a chunk of the bytes already read and return its arrays; the parent stacks them in file order, so the
result and the errors are those of one thread. Small folders decode here (a worker costs more to
start than they take), and so does a process that may not start workers (a daemon, or a platform
without the forkserver start method).

Why forkserver, never fork: the process that reads a folder may already run training threads, the
compiled kernels' spinning helper and a reader pool, and a forked child inherits every lock those
threads held at that instant, held forever — the deadlock Python's documentation warns of. A
forkserver child is forked from a small server process started once, which runs no such threads;
it imports only this module (preloaded), so it starts in milliseconds.
"""

from __future__ import annotations

import io
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from itertools import repeat
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from aelab.data.custom.memory_limit import check_values
from aelab.errors import DataError

GRAY_MODES = ("1", "L", "LA", "I", "I;16", "F")
DEEP_MODES = ("I;16", "I;16L", "I;16B", "I;16N", "I")  # 16-bit grey (a 16-bit PNG opens as I;16, or I)
DEEP_MAX = 65535.0  # a 16-bit image's values divide by this: [0, 1], as an 8-bit one's divide by 255
PROCESS_MIN_FILES = 2_000  # below this a folder decodes in well under a second: no workers to start
CHUNKS_PER_WORKER = 8  # enough chunks that a slow one does not leave the other workers idle at the end


def decode_one(path: str, content: bytes, size: tuple[int, int] | None, first: tuple | None = None) -> np.ndarray:
    """One image as uint8 (H, W) or (H, W, 3), or a 16-bit grey one as float32 (H, W) in [0, 1]; a corrupt,
    truncated or non-image file is a DataError naming it. `first` (its path, (W, H)): without `size`, an image of
    another size is refused from its header, before it is decoded."""
    try:
        with Image.open(io.BytesIO(content)) as image:  # reads the header only: the size is known, nothing decoded
            if first is not None and size is None and image.size != first[1]:
                raise DataError(one_size_message(path, image.size, first))
            image.load()  # decodes everything now: a truncated file fails here, not later
            if image.mode in DEEP_MODES:
                return _deep(path, image, size)
            if image.mode == "F":
                return _float(path, image, size)
            mode = "L" if image.mode in GRAY_MODES else "RGB"
            image = image if image.mode == mode else image.convert(mode)  # converting to its own mode only copies
            if size is not None and image.size != (size[1], size[0]):
                image = image.resize((size[1], size[0]), Image.Resampling.BILINEAR)
            return np.asarray(image, dtype=np.uint8)
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
        # Pillow's own text for an unknown format names the in-memory buffer (an address that changes per run)
        reason = "no image format Pillow knows" if isinstance(exc, UnidentifiedImageError) else str(exc)
        raise DataError(
            f"{path}: corrupt, truncated or not an image ({reason}): expected a readable "
            f"{Path(path).suffix[1:].upper() or 'image'} file"
        ) from None


def _deep(path: str, image: Image.Image, size: tuple[int, int] | None) -> np.ndarray:
    """A 16-bit grey image at its full depth: float32 (H, W) = value / 65535. Converted to "L" it would be clamped
    at 255 (most pixels of a 16-bit image are above it); Pillow's "F" mode holds every 16-bit value exactly."""
    image = image.convert("F")
    if size is not None and image.size != (size[1], size[0]):
        image = image.resize((size[1], size[0]), Image.Resampling.BILINEAR)
    values = np.asarray(image, dtype=np.float32)
    if values.min() < 0 or values.max() > DEEP_MAX:  # mode I holds 32 bits: only 16-bit values are pixels we know
        raise DataError(
            f"{path}: 32-bit integer pixels in [{values.min():g}, {values.max():g}]: expected an 8- or 16-bit image"
        )
    return values / np.float32(DEEP_MAX)


def one_size_message(path: str, wh: tuple[int, int], first: tuple) -> str:
    (w, h), (first_path, (first_w, first_h)) = wh, first
    return (
        f"{path}: {w}×{h} pixels but {first_path} has {first_w}×{first_h}: expected one size "
        "(or pass --image-size H,W to resize)"
    )


def first_header(paths: list[str], contents: list[bytes], size: tuple[int, int] | None) -> tuple | None:
    """(path, (W, H)) of the first image, read from its header (None if it cannot be read); the whole folder's
    decoded size checked against the memory limit before any image is decoded (at the first image's channels: RGB
    among grey ones adds at most 3×)."""
    try:
        with Image.open(io.BytesIO(contents[0])) as image:
            wh, channels = image.size, 1 if image.mode in GRAY_MODES else 3  # as decode_one will read it
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, Image.DecompressionBombError):
        return None  # no size to hold the others to: decode_one names what is wrong with this one
    h, w = (wh[1], wh[0]) if size is None else size
    check_values(
        os.path.commonpath(paths) if len(paths) > 1 else paths[0],
        len(paths) * h * w * channels,
        f"{len(paths)} images of {w}×{h}×{channels}",
    )
    return paths[0], wh


def _float(path: str, image: Image.Image, size: tuple[int, int] | None) -> np.ndarray:
    """A 32-bit float image (a TIFF of mode F: masks, depth maps, scientific images) as its own float32 values:
    converted to "L" they were rounded and clamped to 0–255 (a [0, 1] image became zeros and ones). Non-finite
    values are refused, as in any other data."""
    if size is not None and image.size != (size[1], size[0]):
        image = image.resize((size[1], size[0]), Image.Resampling.BILINEAR)
    values = np.array(image, dtype=np.float32)
    if not np.isfinite(values).all():
        index = tuple(int(i) for i in np.argwhere(~np.isfinite(values))[0])
        raise DataError(f"{path}: a NaN or infinite pixel at (row, column) {index}: expected finite values")
    return values


def decode_chunk(
    paths: list[str], contents: list[bytes], size: tuple[int, int] | None, first: tuple | None = None
) -> np.ndarray | list[np.ndarray]:
    """A worker's chunk, in order: one stacked array when its images share a shape (one object to send back), else a
    list."""
    images = [decode_one(path, content, size, first) for path, content in zip(paths, contents)]
    return np.stack(images) if len({(image.shape, image.dtype) for image in images}) == 1 else images


def stack(files, images: list[np.ndarray]) -> np.ndarray:
    """(n, C, H, W) uint8, or float32 in [0, 1] if any image is 16-bit (8-bit ones then divided by 255); mixed sizes
    name two files that differ, grey images join colour ones as RGB."""
    first = images[0].shape[:2]
    for path, image in zip(files, images):
        if image.shape[:2] != first:
            raise DataError(one_size_message(path, image.shape[1::-1], (files[0], first[::-1])))
    if any(image.dtype != np.uint8 for image in images):  # one dtype, each image on one scale: [0, 1]
        images = [image.astype(np.float32) / np.float32(255) if image.dtype == np.uint8 else image for image in images]
    if any(image.ndim == 3 for image in images):
        images = [np.repeat(image[..., None], 3, axis=2) if image.ndim == 2 else image for image in images]
        return np.stack(images).transpose(0, 3, 1, 2).copy()  # (n, H, W, 3) → (n, 3, H, W)
    return np.stack(images)[:, None]


def can_start_workers() -> bool:
    """Whether worker processes can be started safely here: forkserver exists (POSIX) and this is not a daemon."""
    return "forkserver" in multiprocessing.get_all_start_methods() and not multiprocessing.current_process().daemon


def worker_context():
    """The forkserver context, its server preloading this module (the workers need nothing else)."""
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload([__name__])
    return context


def _on_processes(paths: list[str], contents: list[bytes], size, workers: int, first=None) -> list[np.ndarray]:
    step = max(1, -(-len(paths) // (workers * CHUNKS_PER_WORKER)))
    starts = range(0, len(paths), step)
    try:
        with ProcessPoolExecutor(max_workers=workers, mp_context=worker_context()) as pool:
            chunks = pool.map(
                decode_chunk,
                [paths[i : i + step] for i in starts],
                [contents[i : i + step] for i in starts],
                repeat(size),
                repeat(first),
            )
            return [image for chunk in chunks for image in chunk]  # in file order: the first bad file's error first
    except BrokenProcessPool:  # a worker killed (out of memory, a signal) or crashed inside Pillow's C code
        raise DataError(
            f"{os.path.commonpath(paths)}: a worker process decoding these {len(paths)} images died "
            "(killed, out of memory, or crashed on a file): expected every image decoded; "
            "retry, or free memory"
        ) from None


def decode_images(
    files,
    contents: list[bytes],
    size: tuple[int, int] | None,
    workers: int | None = None,
    processes: bool | None = None,
) -> np.ndarray:
    """Decode `contents` (the bytes of `files`, in order) into (n, C, H, W) uint8 (float32 in [0, 1] where any
    image is 16-bit: `stack`).

    `workers`: default one per core, at most 32. `processes`: True decodes on worker processes (forkserver),
    False on threads; None (the default) chooses processes for a folder of PROCESS_MIN_FILES or more,
    on more than one worker, where this process may start workers.
    """
    workers = workers or min(32, os.cpu_count() or 1)
    paths = [str(path) for path in files]
    if processes is None:
        processes = len(paths) >= PROCESS_MIN_FILES and workers > 1 and can_start_workers()
    first = first_header(paths, contents, size) if paths else None
    if processes:
        images = _on_processes(paths, contents, size, workers, first)
    else:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            images = list(pool.map(decode_one, paths, contents, repeat(size), repeat(first), chunksize=64))
    return stack(paths, images)
