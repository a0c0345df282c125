"""A decoded image folder kept in aelab's cache, keyed by the folder's content digest, verified on every read.

Decoding 70,000 PNGs costs far more than reading and hashing them; the cache keeps the decoded
array (uint8; float32 for 16-bit images) as a `.npy` named by the content digest and the resize option,
sealed by a keyed digest of its name and bytes (private_files.py: the folder is this user's alone, the
key a secret kept in it). A read takes the file in one call and checks the seal in one pass, so a
damaged, edited or forged entry — one whose stored digest was recomputed to match — is decoded afresh,
never trained on: an entry is only ever the decoding of the images whose digest config.json records.

Reading and hashing 70,000 small files costs seconds by itself (measured: 7.6 s against 0.32 s for the
IDX files, BENCHMARKS.md), so a second load does not re-read them: the folder's listing — each file's
relative path, size, modification and change times in nanoseconds and inode (folder_listing.py) — is
fingerprinted, and the content digest computed the first time is kept under that fingerprint (as git's
index keeps its files' hashes by their stat data). A file that is added, removed, renamed, resized,
touched or written changes the fingerprint: the change time (ctime) is set by the kernel on every
write and cannot be set back, so even an edit that restores a file's size and modification time is seen.

The one race left is git's "racy clean" file: a file written within the timestamp resolution of our
stat, after it. So a listing is remembered only if every file's modification time is RACY_SECONDS
older than the moment the listing began; otherwise the next load reads and hashes the files again
(the decoded array is still found by their digest).

The listing is most of a second load's cost, so the array last used for the folder is read and
verified on a second thread meanwhile (load_latest) and used only when the listing recalls that very
entry: a stale or damaged pointer costs one wasted read, never a wrong array.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
from pathlib import Path

import numpy as np

from aelab.data.locate import cache_root
from aelab.private_files import read_private, seal, sealed, secret, write_private

VERSION = 2  # bump when the decoding changes (modes, resampling): old entries are then never matched (2: 16-bit)
LISTING_VERSION = 2  # bump when the fingerprint's definition changes (2: one stat per file, ctime and inode added)
RACY_SECONDS = 2  # the coarsest file timestamps in use (FAT's 2 s modification times)
NPY_HEADER_MAX = 4096  # our headers are ~128 bytes; a larger one is not ours
DTYPES = (np.dtype(np.uint8), np.dtype("<f4"))  # what decoding makes: uint8, or float32 for 16-bit images
HEADER_READERS = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}
KEY_PATTERN = re.compile(r"v\d+-[0-9a-f]{64}-(native|\d+x\d+)")  # what key() makes: a file name, no path


def key(digest: str, image_size: tuple[int, int] | None) -> str:
    size = "native" if image_size is None else f"{image_size[0]}x{image_size[1]}"
    return f"v{VERSION}-{digest}-{size}"


def folder():
    return cache_root() / "decoded"


def _array_in(payload: np.ndarray) -> np.ndarray | None:
    """The uint8 (or float32) array a `.npy` file's bytes hold, as a view of them (no copy), or None if they are not
    one."""
    header = io.BytesIO(payload[:NPY_HEADER_MAX].tobytes())
    try:
        read_header = HEADER_READERS.get(np.lib.format.read_magic(header))
        if read_header is None:
            return None
        shape, fortran, dtype = read_header(header)
    except (ValueError, SyntaxError, TypeError):
        return None
    data = payload[header.tell() :]
    if dtype not in DTYPES or fortran or len(data) != int(np.prod(shape, dtype=np.int64)) * dtype.itemsize:
        return None
    return data.view(dtype).reshape(shape)  # np.save aligns the data to 64 bytes: the view is aligned


def read_record(path: Path):
    """A JSON record of the private folder, or None if it is missing, not private or not JSON."""
    data = read_private(path)
    try:
        return None if data is None else json.loads(data.tobytes())
    except ValueError:
        return None


def write_record(path: Path, record: dict) -> None:
    """Keep `record` in the private folder (skipped where there is none: the cache only saves time)."""
    write_private(path, json.dumps(record, allow_nan=False).encode())


def load(name: str) -> np.ndarray | None:
    """The cached array, if present and sealed under this user's key for this name; else None."""
    key = secret(folder())
    if key is None:
        return None
    record, payload = read_record(folder() / f"{name}.json"), read_private(folder() / f"{name}.npy")
    if payload is None or not isinstance(record, dict) or not sealed(key, record.get("seal"), name, payload):
        return None
    return _array_in(payload)


def listing_fingerprint(names: list[str], stats: np.ndarray) -> str:
    """SHA-256 over the listing: its count, its names (NUL-separated, in sample order) and its stat rows (int64)."""
    sha = hashlib.sha256(f"aelab listing v{LISTING_VERSION}: {len(names)} files\n".encode())
    sha.update("\0".join(names).encode("utf-8", "surrogateescape"))  # a name holds no NUL: the join is unambiguous
    sha.update(b"\n")
    sha.update(np.ascontiguousarray(stats, dtype="<i8"))  # one call for every file's size, times and inode
    return sha.hexdigest()


def is_racy(stats: np.ndarray, listed_at_ns: int) -> bool:
    """True if a file was modified so recently (mtime column) that a write after our stat could keep its timestamps."""
    return bool(len(stats)) and int(stats[:, 1].max()) > listed_at_ns - RACY_SECONDS * 1_000_000_000


def _listing_path(fingerprint: str) -> Path:
    return folder() / f"listing-v{LISTING_VERSION}-{fingerprint}.json"


def recall(fingerprint: str) -> str | None:
    """The content digest stored for a listing with this fingerprint, or None (none stored, or one not sealed under
    this user's key: a forged record could name another folder's digest)."""
    key = secret(folder())
    record = read_record(_listing_path(fingerprint)) if key is not None else None
    digest = record.get("digest") if isinstance(record, dict) else None
    if not isinstance(digest, str) or not sealed(key, record.get("seal"), fingerprint, digest):
        return None
    return digest


def remember(fingerprint: str, digest: str) -> None:
    """Keep the content digest of the listing `fingerprint` (skipped when there is no private cache folder)."""
    key = secret(folder())
    if key is not None:
        write_record(_listing_path(fingerprint), {"digest": digest, "seal": seal(key, fingerprint, digest)})


def _latest_path(root, image_size) -> Path:
    where = hashlib.sha256(f"{os.path.abspath(root)}\0{image_size}".encode("utf-8", "surrogateescape")).hexdigest()
    return folder() / f"latest-{where}.json"


def load_latest(root, image_size) -> tuple[str | None, np.ndarray | None]:
    """(key, verified array) of the entry last loaded for this folder and size — a guess, read while the folder is
    listed (file reads and SHA-256 release the GIL: on two cores the array's read and check cost no time); the
    caller uses it only if the listing recalls the same key. (None, None) if there is none."""
    record = read_record(_latest_path(root, image_size))
    name = record.get("key") if isinstance(record, dict) else None
    return (name, load(name)) if isinstance(name, str) and KEY_PATTERN.fullmatch(name) else (None, None)


def note_latest(root, image_size, name: str) -> None:
    """Remember `name` as the entry of this folder and size (for load_latest; skipped when the cache cannot be
    written)."""
    write_record(_latest_path(root, image_size), {"key": name})


def store(name: str, x: np.ndarray) -> None:
    """Keep `x` for the next load, sealed under this user's key; skipped where there is no private cache folder."""
    key = secret(folder())
    if key is None:
        return
    buffer = io.BytesIO()
    np.save(buffer, np.ascontiguousarray(x), allow_pickle=False)
    payload = buffer.getbuffer()
    if write_private(folder() / f"{name}.npy", payload):
        record = {"seal": seal(key, name, payload), "shape": list(x.shape), "dtype": str(x.dtype)}
        write_record(folder() / f"{name}.json", record)
