"""A decoded image folder kept in aelab's cache, keyed by the folder's content digest, verified on every read.

Decoding 70,000 PNGs costs far more than reading and hashing them; the cache keeps the decoded
uint8 array as a `.npy` named by the content digest and the resize option, with the SHA-256 of that
`.npy` beside it. A read checks the digest of the cached bytes, so a damaged or edited cache entry
is decoded afresh, never trained on.

Reading and hashing 70,000 small files costs seconds by itself (measured: 7.6 s against 0.32 s for the
IDX files, BENCHMARKS.md), so a second load does not re-read them: the folder's listing — each file's
relative path, size and modification time in nanoseconds — is fingerprinted, and the content digest
computed the first time is kept under that fingerprint (as git's index keeps its files' hashes by their
stat data). A file that is added, removed, renamed, resized or touched changes the fingerprint and the
folder is read and hashed again; the one change this does not see is an edit that keeps a file's size
and its nanosecond modification time.
"""

from __future__ import annotations

import hashlib
import io
import json
import os

import numpy as np

from aelab.data.locate import cache_root
from aelab.errors import OutputError
from aelab.fileio import atomic_write_bytes, atomic_write_json

VERSION = 1  # bump when the decoding changes (modes, resampling): old entries are then never matched


def key(digest: str, image_size: tuple[int, int] | None) -> str:
    size = "native" if image_size is None else f"{image_size[0]}x{image_size[1]}"
    return f"v{VERSION}-{digest}-{size}"


def folder():
    return cache_root() / "decoded"


def load(name: str) -> np.ndarray | None:
    """The cached array, if present and its bytes match the digest recorded when it was stored; else None."""
    data_path, record_path = folder() / f"{name}.npy", folder() / f"{name}.json"
    try:
        record = json.loads(record_path.read_text())
        payload = data_path.read_bytes()
    except (OSError, ValueError):
        return None
    if not isinstance(record, dict) or hashlib.sha256(payload).hexdigest() != record.get("sha256"):
        return None
    try:
        return np.load(io.BytesIO(payload), allow_pickle=False)
    except ValueError:
        return None


def listing_fingerprint(root, files) -> str:
    """SHA-256 over each file's relative path, size and modification time (ns), sorted by path."""
    prefix = str(root).rstrip(os.sep) + os.sep
    names = sorted((str(p)[len(prefix):] if str(p).startswith(prefix) else os.path.relpath(p, root)).replace(os.sep, "/")
                   for p in files)  # strings, not pathlib's relative_to: 70,000 of those cost seconds
    sha = hashlib.sha256()
    for name in names:
        stat = os.stat(prefix + name)
        sha.update(f"{name}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode("utf-8"))
    return sha.hexdigest()


def recall(fingerprint: str) -> str | None:
    """The content digest stored for a listing with this fingerprint, or None."""
    try:
        record = json.loads((folder() / f"listing-v{VERSION}-{fingerprint}.json").read_text())
    except (OSError, ValueError):
        return None
    digest = record.get("digest") if isinstance(record, dict) else None
    return digest if isinstance(digest, str) and len(digest) == 64 else None


def remember(fingerprint: str, digest: str) -> None:
    """Keep the content digest of the listing `fingerprint` (skipped when the cache cannot be written)."""
    try:
        atomic_write_json(folder() / f"listing-v{VERSION}-{fingerprint}.json", {"digest": digest})
    except OutputError:
        pass


def store(name: str, x: np.ndarray) -> None:
    """Keep `x` for the next load; a cache that cannot be written is skipped (it only saves time)."""
    buffer = io.BytesIO()
    np.save(buffer, np.ascontiguousarray(x), allow_pickle=False)
    payload = buffer.getvalue()
    try:
        atomic_write_bytes(folder() / f"{name}.npy", payload)
        atomic_write_json(folder() / f"{name}.json", {"sha256": hashlib.sha256(payload).hexdigest(),
                                                      "shape": list(x.shape), "dtype": str(x.dtype)})
    except OutputError:
        pass
