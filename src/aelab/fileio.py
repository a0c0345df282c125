"""Atomic file writes: a temporary file in the same folder, fsync, then rename.

Every file aelab writes goes through here, so an interrupted run or a full disk never leaves half a
file where a whole one is expected: the old file (or nothing) stays until the new one is complete.
"""

from __future__ import annotations

import json
import os
import stat
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from aelab.errors import OutputError

# A file being written is hidden beside its target as `.<stem>.<random><suffix>.tmp` until the rename:
# what a killed process leaves behind, and what `remove_temporaries` clears.
TEMP_PREFIX, TEMP_SUFFIX = ".", ".tmp"
PROC_STATUS = "/proc/self/status"  # Linux: holds "Umask:\t0022"


def current_umask() -> int:
    """The process's umask, read without changing it.

    `os.umask` can only read by setting, and a moment with the umask at 0 is a race with every
    thread creating files meanwhile (`aelab reproduce` writes from worker threads). Linux reports
    it in /proc/self/status; elsewhere a probe file created with mode 0666 shows which bits the
    kernel took away.
    """
    try:
        with open(PROC_STATUS, encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    return _umask_from_probe()


def _umask_from_probe() -> int:
    """The umask as the bits missing from a fresh folder made with mode 0777 (the kernel applies it atomically)."""
    with tempfile.TemporaryDirectory(prefix="aelab-umask-") as folder:
        probe = os.path.join(folder, "probe")
        os.mkdir(probe, 0o777)
        return 0o777 & ~os.stat(probe).st_mode


def atomic_save(path: str | os.PathLike, save: Callable[[str], None], mode: int | None = None) -> Path:
    """Produce `path` atomically with `save(tmp_name)`, a writer that takes a filename.

    The temporary file sits beside the target (same file system, so the rename is atomic) and
    keeps its suffix, because savers such as matplotlib choose the format from it. `mode`: the
    file's permissions (a private cache's 0600), set before anything is written; None follows the umask.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(
            prefix=f"{TEMP_PREFIX}{path.stem}.", suffix=path.suffix + TEMP_SUFFIX, dir=path.parent
        )
        os.fchmod(fd, 0o666 & ~current_umask() if mode is None else mode)  # mkstemp makes 0600; outputs: the umask
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


def atomic_write_bytes(path: str | os.PathLike, data: bytes, mode: int | None = None) -> Path:
    """Write `data` to `path` atomically (with permissions `mode`, if given)."""
    return atomic_save(path, lambda tmp: Path(tmp).write_bytes(data), mode)


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    """Write `text` (UTF-8) to `path` atomically."""
    return atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | os.PathLike, obj: Any) -> Path:
    """Write `obj` as indented JSON atomically (NaN is refused: metrics must be finite or null)."""
    return atomic_write_text(path, json.dumps(obj, indent=2, allow_nan=False) + "\n")


def remove_temporaries(folder: str | os.PathLike) -> list[Path]:
    """Delete the hidden temporary files that a process killed mid-write left in `folder`; return them.

    Only safe for a folder whose writer we are (the caller holds its run lock): a live writer's
    temporary file would otherwise vanish under it.
    """
    removed = []
    for path in Path(folder).glob(f"{TEMP_PREFIX}*{TEMP_SUFFIX}"):
        if path.is_file():
            try:
                path.unlink()
            except FileNotFoundError:
                continue
            except OSError as exc:
                raise OutputError(f"{path}: cannot remove a left-over temporary file: {exc.strerror or exc}") from None
            removed.append(path)
    return removed


FILE_KINDS = (
    (stat.S_ISDIR, "a folder"),
    (stat.S_ISREG, "a file"),
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISCHR, "a device"),
    (stat.S_ISBLK, "a device"),
)


def what_is_at(path: str | os.PathLike) -> str:
    """What is at `path`, in words for a one-line error: "nothing", "a file", "a folder", "a FIFO (named pipe)", or
    "a symbolic link to X, which does not exist" — so that a file is never called "no such folder", nor a dangling
    link "File exists"."""
    path = Path(path)
    try:
        info = path.lstat()
        if stat.S_ISLNK(info.st_mode):
            info = path.stat()
    except FileNotFoundError:
        return f"a symbolic link to {os.readlink(path)}, which does not exist" if path.is_symlink() else "nothing"
    except OSError as exc:
        return f"unreadable ({exc.strerror or exc})"
    return next((words for test, words in FILE_KINDS if test(info.st_mode)), "something that is not a file")
