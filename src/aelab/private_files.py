"""Files only this user may write: the rule every cache aelab keeps is held to.

A cache decides what a later run trains on (decoded images) or how it runs (the BLAS choice), so whoever can
write it can change a result without a trace in the run's provenance: config.json names the image folder's
digest, not the cached array's. Each cache therefore lives in a folder that is this user's alone (0700, owned by
the user, not a symbolic link); its files are opened without following links and read only if they are the
user's and nobody else may write them; and an entry that stands for a source (the decoded array of a folder with
a given content digest) carries a keyed digest, HMAC-SHA256 (RFC 2104), under a secret kept in that folder. A
digest stored beside an entry can be recomputed by whoever forges the entry; the keyed one cannot without the
secret, so an entry written by anyone else, or copied from another machine's cache, fails its check and is
rebuilt from the source. Where no private folder can be had, nothing is cached: a cache only saves time.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import stat
from pathlib import Path

import numpy as np

from aelab.errors import OutputError
from aelab.fileio import atomic_write_bytes

FOLDER_MODE, FILE_MODE = 0o700, 0o600
KEY_NAME, KEY_BYTES = "key", 32  # the secret: 256 random bits, HMAC-SHA256's block-sized key is ample


def is_private(path: Path, mode: int) -> bool:
    """Whether `path` (not followed if a link) is this user's and nobody else may write it (nor, for a folder with
    mode 0700, read or enter it)."""
    try:
        info = path.lstat()
    except OSError:
        return False
    return (
        (stat.S_ISDIR(info.st_mode) or stat.S_ISREG(info.st_mode))
        and info.st_uid == os.getuid()
        and stat.S_IMODE(info.st_mode) & ~mode == 0
    )


def private_folder(folder: Path) -> Path | None:
    """`folder`, made (0700) if missing and made private if it is this user's; None where it is anyone else's, a
    link, or cannot be made."""
    try:
        folder.mkdir(mode=FOLDER_MODE, parents=True, exist_ok=True)
        if folder.lstat().st_uid == os.getuid() and not folder.is_symlink():
            folder.chmod(FOLDER_MODE)  # ours: private whatever the umask (or an older aelab) left
    except OSError:
        return None
    return folder if is_private(folder, FOLDER_MODE) else None


def read_private(path: Path) -> np.ndarray | None:
    """The bytes of `path` (uint8, one read into the array), if it is a regular file of this user's that nobody else
    may write, opened without following a link; None otherwise or if it cannot be read."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError:
        return None
    with os.fdopen(fd, "rb") as file:
        info = os.fstat(fd)  # the file opened, not whatever the name points to by now
        if not (stat.S_ISREG(info.st_mode) and info.st_uid == os.getuid() and stat.S_IMODE(info.st_mode) & 0o022 == 0):
            return None
        try:
            return np.fromfile(file, dtype=np.uint8)
        except (OSError, ValueError):
            return None


def write_private(path: Path, data: bytes) -> bool:
    """Write `data` to `path` atomically with mode 0600, if its folder is private; False where it is not (or the
    write failed: a cache never fails a run)."""
    if private_folder(path.parent) is None:
        return False
    try:
        atomic_write_bytes(path, data, mode=FILE_MODE)
    except OutputError:
        return False
    return True


def secret(folder: Path) -> bytes | None:
    """The private folder's secret key, made on first use; None where the folder is not private.

    Two processes starting at once agree on one key: each writes its own beside the name and links it there,
    and the one whose link fails reads the winner's. A damaged or foreign key is replaced (entries sealed under
    it then fail their check and are rebuilt)."""
    if private_folder(folder) is None:
        return None
    path = folder / KEY_NAME
    for _ in range(2):
        key = read_private(path)
        if key is not None and len(key) == KEY_BYTES:
            return key.tobytes()
        if os.path.lexists(path):
            return secret_of(path) if write_private(path, os.urandom(KEY_BYTES)) else None
        fresh = folder / f".{KEY_NAME}.{os.getpid()}.{os.urandom(4).hex()}.tmp"
        if not write_private(fresh, os.urandom(KEY_BYTES)):
            return None
        try:
            os.link(fresh, path)  # fails if another process made the key meanwhile: then theirs is read
        except OSError:
            pass
        finally:
            fresh.unlink(missing_ok=True)
    return None


def secret_of(path: Path) -> bytes | None:
    """The key just written at `path`, read back as any reader will."""
    key = read_private(path)
    return key.tobytes() if key is not None and len(key) == KEY_BYTES else None


def seal(key: bytes, *parts) -> str:
    """HMAC-SHA256 under `key` of the parts (str or bytes-like), each preceded by its length: no two different lists
    of parts give the same message."""
    mac = hmac.new(key, digestmod=hashlib.sha256)
    for part in parts:
        data = part.encode("utf-8", "surrogateescape") if isinstance(part, str) else memoryview(part).cast("B")
        mac.update(len(data).to_bytes(8, "little"))
        mac.update(data)
    return mac.hexdigest()


def sealed(key: bytes, mac, *parts) -> bool:
    """Whether `mac` is the seal of the parts under `key` (compared in constant time)."""
    return isinstance(mac, str) and hmac.compare_digest(mac, seal(key, *parts))
