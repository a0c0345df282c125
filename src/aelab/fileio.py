"""Atomic file writes: a temporary file in the same folder, fsync, then rename.

Every file aelab writes goes through here, so an interrupted run or a full disk never leaves half a
file where a whole one is expected: the old file (or nothing) stays until the new one is complete.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any, Callable

from aelab.errors import OutputError


def current_umask() -> int:
    """The process's umask (read by setting and restoring it: there is no getter)."""
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_save(path: str | os.PathLike, save: Callable[[str], None]) -> Path:
    """Produce `path` atomically with `save(tmp_name)`, a writer that takes a filename.

    The temporary file sits beside the target (same file system, so the rename is atomic) and
    keeps its suffix, because savers such as matplotlib choose the format from it.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=path.suffix + ".tmp", dir=path.parent)
        os.fchmod(fd, 0o666 & ~current_umask())  # mkstemp makes 0600; outputs get the usual permissions
        os.close(fd)
    except OSError as exc:
        raise OutputError(f"{path.parent}: cannot write here: {exc.strerror or exc}") from None
    try:
        save(tmp)
        with open(tmp, "rb+") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        if isinstance(exc, OSError):
            raise OutputError(f"{path}: write failed: {exc.strerror or exc}") from None
        raise
    return path


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write `data` to `path` atomically."""
    return atomic_save(path, lambda tmp: Path(tmp).write_bytes(data))


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    """Write `text` (UTF-8) to `path` atomically."""
    return atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | os.PathLike, obj: Any) -> Path:
    """Write `obj` as indented JSON atomically (NaN is refused: metrics must be finite or null)."""
    return atomic_write_text(path, json.dumps(obj, indent=2, allow_nan=False) + "\n")
