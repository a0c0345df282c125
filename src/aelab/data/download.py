"""Fetch a data set from its public mirrors into aelab's cache: temporary file → verify → rename.

Nothing unverified ever sits under a final name: each payload is downloaded to a temporary file,
decompressed, checked against its SHA-256, and only then renamed into the cache.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import tempfile
import urllib.request
import zlib
from pathlib import Path

from tqdm.auto import tqdm

from aelab.data.locate import Found, Place, cache_root
from aelab.data.registry import DatasetSpec
from aelab.errors import DataError, OutputError
from aelab.fileio import atomic_write_bytes

TIMEOUT_S = 30


def _fetch(url: str, progress: bool) -> bytes:
    """Download `url` through a temporary file (so memory holds one copy) and return its bytes."""
    with urllib.request.urlopen(url, timeout=TIMEOUT_S) as response, tempfile.TemporaryFile() as tmp:
        total = int(response.headers.get("Content-Length") or 0) or None
        with tqdm(
            total=total, unit="B", unit_scale=True, desc=url.rsplit("/", 1)[-1], disable=not progress, leave=False
        ) as bar:
            while chunk := response.read(1 << 20):
                tmp.write(chunk)
                bar.update(len(chunk))
        tmp.seek(0)
        return tmp.read()


def fetch_verified(spec: DatasetSpec, file_name: str, progress: bool = True) -> bytes:
    """The decompressed, verified payload of one file, from the first mirror that serves it."""
    expected = spec.sha256[file_name]
    failures = []
    for mirror in spec.mirrors:
        url = mirror + file_name + ".gz"
        try:
            payload = gzip.decompress(_fetch(url, progress))
        except (OSError, EOFError, zlib.error, ValueError) as exc:  # URLError is an OSError
            failures.append(f"{url}: {getattr(exc, 'reason', exc)}")
            continue
        actual = hashlib.sha256(payload).hexdigest()
        if actual == expected:
            return payload
        failures.append(f"{url}: SHA-256 {actual[:12]}… expected {expected[:12]}…")
    raise DataError(f"could not download {spec.name}/{file_name}: " + "; ".join(failures))


def download(spec: DatasetSpec, progress: bool = True) -> Found:
    """Download every file of `spec` into the cache and return where it now lives."""
    folder = cache_root() / spec.name
    files = {}
    for file_name in spec.sha256:
        target = folder / file_name
        if not target.is_file():
            atomic_write_bytes(target, fetch_verified(spec, file_name, progress))
        files[file_name] = target
    return Found(Place("aelab cache (downloaded)", folder), files=files)


def downloads_allowed() -> bool:
    """Downloads are on unless `AELAB_OFFLINE` is set to a true value (tests, air-gapped machines)."""
    return os.environ.get("AELAB_OFFLINE", "").lower() not in {"1", "true", "yes"}


def cache_payload(spec: DatasetSpec, file_name: str, payload: bytes) -> Path | None:
    """Keep a verified, decompressed copy in the cache; a cache that cannot be written is skipped."""
    target = cache_root() / spec.name / file_name
    try:
        return atomic_write_bytes(target, payload)
    except OutputError:  # the cache is an optimisation, never a reason to fail
        return None
