"""Run folders: the unit of output. Every file is written atomically; `finished.json` comes last.

A folder without `finished.json` is an interrupted or failed run and is never mistaken for a result.
"""

from __future__ import annotations

import datetime
import os
import platform
from pathlib import Path

import numpy as np
import torch
from matplotlib.figure import Figure

import aelab
from aelab.errors import OutputError
from aelab.fileio import atomic_save, atomic_write_json

FINISHED = "finished.json"
FIGURE_DPI = 100


def check_output_dir(out: str | os.PathLike) -> Path:
    """Fail early, before any work and without creating anything, if `out` could not be written."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise OutputError(f"{out}: is a file: expected a folder (or nothing) for the run's output")
    existing = out
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():
        raise OutputError(f"{out}: {existing} is a file: expected a folder path for the run's output")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise OutputError(f"{out}: {existing} is not writable: expected a folder aelab may write into")
    return out


def prepare_run_dir(out: str | os.PathLike) -> Path:
    """Create (or reuse) `out` for a run and clear its finished marker."""
    out = check_output_dir(out)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"{out}: cannot create the run folder: {exc.strerror or exc}") from None
    if not os.access(out, os.W_OK | os.X_OK):
        raise OutputError(f"{out}: not writable: expected a folder aelab may write into")
    (out / FINISHED).unlink(missing_ok=True)  # an old result is no longer the result once we start
    return out


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
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }


def mark_finished(out: Path, files: list[str]) -> Path:
    """Write the marker that says the folder holds a complete result (always the last write)."""
    return atomic_write_json(out / FINISHED, {"files": files, **environment()})


def is_finished(out: str | os.PathLike) -> bool:
    return (Path(out) / FINISHED).is_file()
