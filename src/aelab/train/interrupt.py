"""Ctrl-C and SIGTERM during training: finish the step, save, exit; a second one quits at once.

A first signal only sets the trainer's stop flag, so the step in progress completes and the
caller can write a consistent checkpoint. A second signal raises KeyboardInterrupt immediately;
the checkpoint on disk is then the previous one, intact, because checkpoints are written atomically.

Signals reach only the main thread. When trainers run in worker threads (a parallel `aelab
reproduce`), each registers itself here, and the main thread's `graceful_stop_workers` asks all
of them — and any that starts afterwards — to stop.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from aelab.signal_handlers import handling_signals
from aelab.train.trainer import Trainer

_workers: set[Trainer] = set()  # trainers running in worker threads
_workers_lock = threading.Lock()
_stop_workers = threading.Event()  # set: every worker's trainer (present and future) stops after its step


@contextmanager
def graceful_stop(trainer: Trainer, quiet: bool = False) -> Iterator[None]:
    """Within the block, the first SIGINT/SIGTERM asks `trainer` to stop; the second quits at once.

    In a worker thread, `trainer` is registered for `graceful_stop_workers` instead."""
    if threading.current_thread() is not threading.main_thread():  # signals can only be handled there
        with _workers_lock:
            _workers.add(trainer)
            if _stop_workers.is_set():
                trainer.request_stop()
        try:
            yield
        finally:
            with _workers_lock:
                _workers.discard(trainer)
        return

    def handler(signum, frame):
        if trainer.stop_requested:
            raise KeyboardInterrupt
        trainer.request_stop()
        announce(signum, "finishing this step and saving a checkpoint", quiet)

    with handling_signals(handler):
        yield


def announce(signum: int, what: str, quiet: bool) -> None:
    if not quiet:
        print(
            f"\naelab: {signal.Signals(signum).name} received: {what} (press Ctrl-C again to quit at once)",
            file=sys.stderr,
            flush=True,
        )


def stop_workers() -> None:
    """Ask every trainer in a worker thread, and every one that starts later, to stop after its step."""
    with _workers_lock:
        _stop_workers.set()
        for trainer in _workers:
            trainer.request_stop()


@contextmanager
def graceful_stop_workers(on_stop: Callable[[], None] = lambda: None, quiet: bool = False) -> Iterator[None]:
    """For the main thread while workers train: the first SIGINT/SIGTERM stops them all after their
    current step (each saves its checkpoint) and calls `on_stop`; the second ends the process at
    once (exit 130)."""
    _stop_workers.clear()

    def handler(signum, frame):
        if _stop_workers.is_set():
            print("\naelab: interrupted", file=sys.stderr, flush=True)
            os._exit(130)  # worker threads cannot be interrupted; every checkpoint on disk is whole (atomic writes)
        on_stop()
        stop_workers()
        announce(signum, "finishing the current steps and saving their checkpoints", quiet)

    try:
        with handling_signals(handler):
            yield
    finally:
        _stop_workers.clear()
