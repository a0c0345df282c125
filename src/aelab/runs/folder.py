"""Run folders: the unit of output. Every file is written atomically; `finished.json` comes last.

A folder without `finished.json` is an interrupted or failed run and is never mistaken for a result.
A run writes its folder inside `run_dir`, which holds the folder's lock (one writer at a time),
clears what a killed writer left, and refuses to replace a finished or interrupted run unless
asked to (`--force`, or `--resume` to continue it).
"""

from __future__ import annotations

import datetime
import json
import os
import platform
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch
from matplotlib.figure import Figure

import aelab
from aelab.data.custom.paths import is_path, kind_of
from aelab.data.registry import get_spec
from aelab.devices import cpu_model
from aelab.errors import CheckpointError, ConfigError, OutputError
from aelab.fileio import atomic_save, atomic_write_json, remove_temporaries, what_is_at
from aelab.runs.checkpointing import CHECKPOINT
from aelab.runs.lock import RunLock, check_not_locked
from aelab.train.checkpoint import config_differences

FINISHED = "finished.json"
FIGURE_DPI = 100


def check_output_dir(out: str | os.PathLike) -> Path:
    """Fail early, before any work and without creating anything, if `out` could not be written."""
    out = Path(out)
    if (out.exists() or out.is_symlink()) and not out.is_dir():
        raise OutputError(f"{out}: is {what_is_at(out)}: expected a folder (or nothing) for the run's output")
    existing = out
    while not existing.exists():
        if existing.is_symlink():  # dangling: mkdir would say "File exists"
            raise OutputError(f"{out}: {existing} is {what_is_at(existing)}: expected a folder path for the output")
        existing = existing.parent
    if not existing.is_dir():
        raise OutputError(f"{out}: {existing} is {what_is_at(existing)}: expected a folder path for the run's output")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise OutputError(f"{out}: {existing} is not writable: expected a folder aelab may write into")
    if out.is_dir():
        check_not_locked(out)
    return out


def check_replace(out: str | os.PathLike, resume: bool = False, force: bool = False) -> None:
    """Refuse to start afresh over a finished or interrupted run unless `force` (or `resume`) says so."""
    out = Path(out)
    if resume and force:
        raise ConfigError(
            "--resume and --force: expected at most one (--resume continues a run, --force starts it again)"
        )
    if resume or force:
        return
    if is_finished(out):
        raise OutputError(f"{out}: holds a finished run: pass --force to replace it, or choose another --out")
    if (out / CHECKPOINT).is_file():
        raise OutputError(
            f"{out}: holds an interrupted run ({CHECKPOINT}): pass --resume to continue it or --force to start again"
        )


def check_start(
    out: str | os.PathLike,
    dataset: str,
    resume: bool,
    force: bool,
    result: str,
    log: Callable[[str], None],
    what: str = "run",
    expected: dict | None = None,
) -> tuple[Path, dict | None]:
    """What `train` and `sweep` check before loading any data: the data set's name, the folder, and
    whether a run there may be replaced (checked again under the lock, `run_dir`).

    Returns (`out`, the `result` JSON of a finished run being "resumed", or None to go on). A finished run is
    only "resumed" if it was trained with `expected` (the asked-for config's JSON): another model's metrics are
    never handed back as this command's result.
    """
    if is_path(dataset):  # your own data: a path that does not exist fails here, before anything is written
        kind_of(Path(dataset))
    else:
        get_spec(dataset)  # an unknown name fails here, before anything is written
    out = check_output_dir(out)
    check_replace(out, resume, force)
    if resume and is_finished(out):
        check_finished_config(out, what, expected)
        log(f"{out} already holds a finished {what}; nothing to resume")
        return out, json.loads((out / result).read_text())
    if (
        resume and not (out / CHECKPOINT).is_file()
    ):  # refused here, before the folder is made (was: an empty folder left)
        raise CheckpointError(
            f"{out}: nothing to resume (no {CHECKPOINT}): expected a folder of an interrupted {what}; "
            "run without --resume to start it"
        )
    return out, None


def check_finished_config(out: Path, what: str, expected: dict | None) -> None:
    """Refuse `--resume` into a finished run trained with another configuration, naming the differences."""
    try:
        saved = json.loads((out / "config.json").read_text()).get("config")
    except (OSError, ValueError, AttributeError):
        saved = None
    diffs = config_differences(saved, expected) if isinstance(saved, dict) and expected is not None else []
    if diffs:
        raise CheckpointError(
            f"{out}: holds a finished {what} of another configuration: {', '.join(diffs)}: expected --resume "
            "with the options it was trained with; choose another --out, or pass --force to replace it"
        )


def make_run_dir(out: str | os.PathLike) -> Path:
    """Create (or reuse) `out`, checking that it can be written."""
    out = check_output_dir(out)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"{out}: cannot create the run folder: {exc.strerror or exc}") from None
    if not os.access(out, os.W_OK | os.X_OK):
        raise OutputError(f"{out}: not writable: expected a folder aelab may write into")
    return out


@contextmanager
def locked_folder(out: str | os.PathLike, log: Callable[[str], None] | None = None) -> Iterator[Path]:
    """`with locked_folder(out) as out:` — `out`, created, and its lock held for the block.

    Once the lock is ours no other aelab process writes here, so the hidden temporary files a killed
    writer left behind are garbage, and are removed.
    """
    out = make_run_dir(out)
    with RunLock(out, log):
        removed = remove_temporaries(out)
        if removed and log is not None:
            log(f"{out}: removed {len(removed)} temporary file(s) left by an interrupted write")
        yield out


@contextmanager
def run_dir(
    out: str | os.PathLike, resume: bool = False, force: bool = False, log: Callable[[str], None] | None = None
) -> Iterator[Path]:
    """`with run_dir(out, …) as out:` — a run's folder, locked (`locked_folder`) for the block.

    Under the lock a finished or interrupted run is refused unless `force` or `resume` (see
    `check_replace`); then the finished marker is cleared (an old result is no longer the result
    once we start) and, unless resuming, the old checkpoint.
    """
    with locked_folder(out, log) as out:
        check_replace(out, resume, force)
        (out / FINISHED).unlink(missing_ok=True)
        if not resume:
            (out / CHECKPOINT).unlink(missing_ok=True)
        yield out


def save_figure(fig: Figure, path: str | os.PathLike) -> Path:
    """Save a figure as PNG atomically."""
    return atomic_save(path, lambda tmp: fig.savefig(tmp, format="png", dpi=FIGURE_DPI))


def environment() -> dict:
    """Versions and machine, recorded with every run so its numbers can be traced."""
    return {
        "aelab": aelab.__version__,
        "torch": torch.__version__,
        "numpy": np.__version__,
        "python": platform.python_version(),
        "machine": platform.machine(),
        "processor": cpu_model(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }


def mark_finished(out: Path, files: list[str]) -> Path:
    """Write the marker that says the folder holds a complete result (always the last write)."""
    return atomic_write_json(out / FINISHED, {"files": files, **environment()})


def is_finished(out: str | os.PathLike) -> bool:
    return (Path(out) / FINISHED).is_file()
