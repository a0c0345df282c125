"""The identity of your own data: one SHA-256 over its content in a defined order, recorded in config.json.

A single file (.npy, .npz, .csv, one IDX file) is digested as its bytes, so the digest equals
`sha256sum FILE`. A folder (images, IDX files) is digested over its files sorted by their path
relative to the folder (POSIX separators, compared as strings): for each, the UTF-8 path, a NUL, the
content's length as 8 little-endian bytes, then the content. The path is part of it because in an
image folder the class subfolder *is* the label: moving a file to another class changes what is
trained on, and so changes the digest.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from pathlib import Path

READ_BLOCK = 1 << 20


def file_digest(path: Path) -> str:
    """SHA-256 of one file's bytes, read in blocks (a memory-mapped array is never read whole)."""
    sha = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(READ_BLOCK):
            sha.update(block)
    return sha.hexdigest()


def relative_name(root: Path, path: Path) -> str:
    return path.relative_to(root).as_posix()


def entry_header(root: Path, path: Path, length: int) -> bytes:
    """What precedes a file's bytes in a folder's digest: its relative path, NUL, its length (8 bytes,
    little-endian)."""
    return name_header(relative_name(root, path), length)


def name_header(name: str, length: int) -> bytes:
    return name.encode("utf-8") + b"\0" + length.to_bytes(8, "little")


def folder_digest(root: Path, contents: Iterable[tuple[Path, bytes]]) -> str:
    """SHA-256 over (relative path, NUL, length, bytes) of each file, in the order given (sorted by the caller),
    for files already in memory (an image folder's, read once for decoding and digest alike)."""
    return named_digest((relative_name(root, path), content) for path, content in contents)


def named_digest(contents: Iterable[tuple[str, bytes]]) -> str:
    """`folder_digest` over (relative POSIX name, bytes) pairs, in the order given: an image folder's listing
    already holds those names, and 70,000 `relative_to` calls would cost seconds."""
    sha = hashlib.sha256()
    for name, content in contents:
        sha.update(name_header(name, len(content)))
        sha.update(content)
    return sha.hexdigest()


def content_digest(root: Path, files: tuple[Path, ...]) -> str:
    """The digest of `files` as defined in the module docstring (one file at `root` itself: its bytes).

    Files are read in blocks, never whole: a folder of `.npy` files larger than memory (x_train.npy
    memory-mapped for training) is digested in bounded memory (measured: bench_mmap_rss.py).
    """
    if len(files) == 1 and files[0] == root:
        return file_digest(root)
    sha = hashlib.sha256()
    for path in sorted(files, key=lambda p: relative_name(root, p)):
        sha.update(entry_header(root, path, path.stat().st_size))
        with open(path, "rb") as f:
            while block := f.read(READ_BLOCK):
                sha.update(block)
    return sha.hexdigest()
