"""Where a run's progress lines go: one callable, so the CLI, a study's workers and Ray tasks can each redirect it."""

from __future__ import annotations

import sys
from collections.abc import Callable

Log = Callable[[str], None]


def stderr_log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)
