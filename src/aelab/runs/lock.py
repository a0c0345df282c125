"""One writer per run folder: a lock file that names its holder (PID, host, start time).

Two processes writing into one folder interleave their files (one run's weights beside the other's
config, a finished marker over half a result), and both exit 0. So the writer of a folder holds
`aelab.lock` in it for as long as it writes, and a second writer is refused with one line naming
the holder. The exclusion itself is the kernel's `flock` on that file: it ends with the process
that holds it, so the file left behind by a killed run (same host, PID gone) is recognised as stale
and taken over. Where a file system has no `flock`, the recorded PID decides. A lock recorded on
another machine is refused, with the file to delete if that run is known to be gone.
The lock is per folder: `aelab reproduce` holds its own folder's, and each step (a worker thread)
the lock of the step's folder inside it. Two threads asking for one folder exclude each other too:
`flock` works per open file, not per process.
"""

from __future__ import annotations

import datetime
import errno
import fcntl
import json
import os
import socket
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from aelab.errors import OutputError

LOCK_NAME = "aelab.lock"
BUSY = (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES)  # flock's "someone else holds it"


@dataclass(frozen=True)
class Holder:
    """Who holds (or held) a lock: written into the lock file for the refusal message and for humans."""

    pid: int
    host: str
    started: str

    @classmethod
    def me(cls) -> Holder:
        now = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
        return cls(os.getpid(), socket.gethostname(), now)

    def describe(self) -> str:
        return f"PID {self.pid} on {self.host}, since {self.started}"


def read_holder(fd: int) -> Holder | None:
    """The holder recorded in an open lock file, or None when it is empty or unreadable (being written)."""
    try:
        return Holder(**json.loads(os.pread(fd, 4096, 0)))
    except (OSError, ValueError, TypeError):
        return None


def pid_running(pid: int) -> bool:
    """Whether a process with this PID exists on this machine."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, under another user
        return True
    return True


def in_use(folder: Path, holder: Holder | None) -> OutputError:
    who = holder.describe() if holder else "a process that is just starting"
    return OutputError(f"{folder}: in use by another aelab run ({who}): wait for it to end, or choose another --out")


def refusal(folder: Path, taken: bool | None, holder: Holder | None) -> OutputError | None:
    """Why `folder` may not be written now (None: it may).

    `taken` is the flock's answer (False: held by a live process; None: no flock here). A lock
    recorded on another machine is never judged stale from here: its PID means nothing on this one.
    """
    if taken is False:
        return in_use(folder, holder)
    if holder is None:
        return None
    if holder.host != socket.gethostname():
        return OutputError(
            f"{folder}: locked by an aelab run on another machine ({holder.describe()}): if none runs "
            f"there now, delete {folder / LOCK_NAME}"
        )
    if taken is None and holder.pid != os.getpid() and pid_running(holder.pid):
        return in_use(folder, holder)
    return None


def try_flock(fd: int) -> bool | None:
    """Take `fd`'s exclusive lock without waiting: True taken, False held elsewhere, None unsupported here."""
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except OSError as exc:
        return False if exc.errno in BUSY else None


def same_file(fd: int, path: Path) -> bool:
    """Whether `path` still names the file open as `fd` (its holder may have removed it since we opened it)."""
    try:
        here, there = os.fstat(fd), os.stat(path)
    except FileNotFoundError:
        return False
    return (here.st_dev, here.st_ino) == (there.st_dev, there.st_ino)


def check_not_locked(folder: str | os.PathLike) -> None:
    """Refuse at once if `folder`'s lock may not be taken (a look, before the real `RunLock`; takes nothing)."""
    path = Path(folder) / LOCK_NAME
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return  # no lock file (or none readable): RunLock decides when it is taken
    try:
        error = refusal(Path(folder), try_flock(fd), read_holder(fd))
    finally:
        os.close(fd)  # closing releases a lock taken just to look
    if error is not None:
        raise error


class RunLock:
    """`with RunLock(folder):` — hold `folder`'s lock for the block (the folder must exist).

    A live holder elsewhere makes it raise OutputError (exit 6) at once; a stale lock is taken over,
    with a line to `log`. The lock file is removed when the block ends, however it ends.
    """

    def __init__(self, folder: str | os.PathLike, log: Callable[[str], None] | None = None):
        self.folder, self.log = Path(folder), log
        self.path = self.folder / LOCK_NAME
        self.fd: int | None = None

    def __enter__(self) -> RunLock:
        for _ in range(10):  # a retry only when a holder removed its file between our open and our lock
            fd = self._open()
            try:
                if self._take(fd):
                    self.fd = fd
                    return self
            except BaseException:
                os.close(fd)
                raise
            os.close(fd)
        raise OutputError(f"{self.path}: could not take the lock: it keeps changing hands")

    def _open(self) -> int:
        try:
            return os.open(self.path, os.O_RDWR | os.O_CREAT, 0o666)
        except OSError as exc:
            raise OutputError(f"{self.path}: cannot create the run's lock file: {exc.strerror or exc}") from None

    def _take(self, fd: int) -> bool:
        """Lock the open file and write ourselves into it; False if it was removed meanwhile (try again)."""
        taken = try_flock(fd)
        previous = read_holder(fd)
        error = refusal(self.folder, taken, previous)
        if error is not None:
            raise error
        if not same_file(fd, self.path):
            return False
        if previous is not None and self.log is not None:
            self.log(f"{self.folder}: taking over the lock of an aelab run that no longer runs ({previous.describe()})")
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, json.dumps(asdict(Holder.me())).encode(), 0)
            os.fsync(fd)
        except OSError as exc:
            raise OutputError(f"{self.path}: write failed: {exc.strerror or exc}") from None
        return True

    def __exit__(self, *exc_info) -> None:
        # removed while still held, so that a process waiting on this file finds it gone and starts afresh
        try:
            self.path.unlink(missing_ok=True)
        finally:
            os.close(self.fd)
            self.fd = None
