"""The grader's child processes: each in its own process group, none left behind, all killed on a signal.

A submission is someone else's code, and it may start processes of its own (`subprocess.Popen(['sleep',
'1000'])` at import, a shell's `cmd &`). Each child runs in a new session, so it and everything it starts
share one process group; when the child ends — normally, by its time limit or because the grader is
stopping — the whole group is killed, so nothing a submission started outlives its grading. A process that
starts a session of its own (`setsid`) leaves the group, and escapes this: the grader contains mistakes,
not malice (docs/gradients.md).

Signals reach only the main thread, while children are waited for in worker threads: `grading_signals`
turns SIGINT and SIGTERM into `GradingInterrupted` there, and the caller then stops every `Children` it
started (`Children.stop`), whose waiting threads return at once.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import IO

from aelab.signal_handlers import handling_signals


class GradingInterrupted(KeyboardInterrupt):
    """SIGINT or SIGTERM while files were graded: every child has been killed, and `not_graded` of the
    `total` files have no grade. A KeyboardInterrupt, so a notebook's Ctrl-C reads as one."""

    def __init__(self, signum: int, not_graded: int, total: int):
        super().__init__(signum, not_graded, total)
        self.signum, self.not_graded, self.total = signum, not_graded, total

    @property
    def exit_code(self) -> int:
        """130 for SIGINT, 143 for SIGTERM: as a shell reports a command ended by that signal."""
        return 128 + self.signum

    def __str__(self) -> str:
        name = signal.Signals(self.signum).name
        return f"{self.not_graded} of {self.total} file(s) not graded ({name}; no grades printed)"


class ChildrenStopped(Exception):
    """Raised in a worker thread whose child was killed (or never started) because the grader is stopping."""


def kill_group(pid: int) -> None:
    """SIGKILL to the process group `pid` leads; nothing if it is already empty."""
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):  # gone; or only a process we may not signal is left in it
        pass


class Children:
    """The live child processes of one grading, each the leader of its own process group."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._live: set[subprocess.Popen] = set()
        self.stopped = False

    def run(self, command: Sequence[str], stderr: IO[bytes], env: dict[str, str], limit: float) -> int | None:
        """Run `command` to its end, at most `limit` seconds; its exit status, or None if it was killed at
        the limit. Its whole process group is killed afterwards; ChildrenStopped if `stop` was called."""
        with self._lock:  # no child starts once `stop` has run
            if self.stopped:
                raise ChildrenStopped
            child = subprocess.Popen(
                command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=stderr, env=env,
                start_new_session=True,
            )  # fmt: skip
            self._live.add(child)
        try:
            return child.wait(timeout=limit)
        except subprocess.TimeoutExpired:
            kill_group(child.pid)
            child.wait()
            return None
        finally:
            kill_group(child.pid)  # whatever it started, still running after it ended
            with self._lock:
                self._live.discard(child)
            if self.stopped:
                raise ChildrenStopped

    def stop(self) -> None:
        """Kill every live child's process group; no child starts after this."""
        with self._lock:
            self.stopped = True
            for child in self._live:
                kill_group(child.pid)


@contextmanager
def grading_signals(total: int) -> Iterator[None]:
    """Within the block (in the main thread), the first SIGINT or SIGTERM raises GradingInterrupted (all
    `total` files counted as not graded, until the caller counts them); later ones are ignored while the
    children are killed and their folders removed. Elsewhere, nothing changes (signals reach only the
    main thread)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received: list[int] = []

    def handler(signum, frame):
        if not received:
            received.append(signum)
            raise GradingInterrupted(signum, total, total)

    with handling_signals(handler):
        yield
