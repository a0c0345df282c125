"""A decoded image folder kept in aelab's cache, keyed by the folder's content digest, verified on every read.

Decoding 70,000 PNGs costs far more than reading and hashing them; the cache keeps the decoded
uint8 array as a `.npy` named by the content digest and the resize option, with the SHA-256 of that
`.npy` beside it. A read checks the digest of the cached bytes, so a damaged or edited cache entry
is decoded afresh, never trained on. The folder's own digest must be computed anyway (it is the
run's identity), so a hit costs what loading IDX files costs: read, hash, use.
"""

from __future__ import annotations

import hashlib
import io
import json

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
