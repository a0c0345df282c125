"""Ctrl-C and SIGTERM during training: finish the step, save, exit; a second one quits at once.

A first signal only sets the trainer's stop flag, so the step in progress completes and the
caller can write a consistent checkpoint. A second signal raises KeyboardInterrupt immediately;
the checkpoint on disk is then the previous one, intact, because checkpoints are written atomically.
"""

from __future__ import annotations

import signal
import sys
import threading
from contextlib import contextmanager
from typing import Iterator

from aelab.train.trainer import Trainer

SIGNALS = (signal.SIGINT, signal.SIGTERM)


@contextmanager
def graceful_stop(trainer: Trainer, quiet: bool = False) -> Iterator[None]:
    """Within the block, the first SIGINT/SIGTERM asks `trainer` to stop; the second quits at once."""
    if threading.current_thread() is not threading.main_thread():  # signals can only be handled there
        yield
        return

    def handler(signum, frame):
        if trainer.stop_requested:
            raise KeyboardInterrupt
        trainer.request_stop()
        if not quiet:
            print(f"\naelab: {signal.Signals(signum).name} received: finishing this step and saving a checkpoint "
                  "(press Ctrl-C again to quit at once)", file=sys.stderr, flush=True)

    previous = {s: signal.signal(s, handler) for s in SIGNALS}
    try:
        yield
    finally:
        for s, h in previous.items():
            signal.signal(s, h)
