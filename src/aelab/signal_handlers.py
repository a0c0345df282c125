"""The two signals that ask aelab to stop (Ctrl-C's SIGINT, a scheduler's SIGTERM), handled for a block only.

Training (train/interrupt.py: finish the step, save a checkpoint) and the grader (manual/children.py: kill every
child, remove its folder) each stop in their own way, but both take the signals for the block that needs them
and hand back whatever handlers were there before, so neither leaves the process answering signals its way.
"""

from __future__ import annotations

import signal
from collections.abc import Callable, Iterator
from contextlib import contextmanager

SIGNALS = (signal.SIGINT, signal.SIGTERM)


@contextmanager
def handling_signals(handler: Callable) -> Iterator[None]:
    """`handler` for SIGINT and SIGTERM inside the block; the previous handlers afterwards."""
    previous = {s: signal.signal(s, handler) for s in SIGNALS}
    try:
        yield
    finally:
        for s, h in previous.items():
            signal.signal(s, h)
