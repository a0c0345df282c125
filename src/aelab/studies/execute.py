"""How each kind of planned run executes: one function per kind, registered by name (RUNNERS).

Shared by the local runner (runner.py) and the Ray tasks (on_ray.py), so a run is the same code
wherever it runs. A new kind of study run is one function here and one entry in RUNNERS (and its
config dataclass in kinds.py).
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

from aelab.fileio import atomic_write_json, atomic_write_text
from aelab.manual.study_checks import DERIVATION, format_table, results_to_json, run_checks
from aelab.runs.checkpointing import CHECKPOINT
from aelab.runs.folder import environment, mark_finished, run_dir
from aelab.runs.log import Log
from aelab.studies.plan import GRADIENT_CHECK, PlannedRun, same_config
from aelab.tasks.anomaly.run import run_anomaly
from aelab.tasks.sweep import run_sweep
from aelab.tasks.train import train_run


def run_gradients(folder: Path, quiet: bool, log: Log) -> None:
    """The hand-derived gradients against finite differences and autograd, as a run folder."""
    results = run_checks(**GRADIENT_CHECK)
    with run_dir(folder, force=True, log=log) as folder:  # the runner runs it only when it is not done
        atomic_write_json(folder / "config.json", {"config": GRADIENT_CHECK, "environment": environment()})
        atomic_write_text(folder / "checks.json", results_to_json(results) + "\n")
        atomic_write_text(folder / "summary.md", "# Gradient checks\n\n```\n" + format_table(results) + "\n```\n")
        files = ["config.json", "checks.json", "summary.md"]
        if DERIVATION.is_file():  # copied, so that the report reads only run folders
            atomic_write_text(folder / "derivation.md", DERIVATION.read_text(encoding="utf-8"))
            files.append("derivation.md")
        if not quiet:
            log("  " + format_table(results).splitlines()[-1])
        mark_finished(folder, files)


def gradients_kind(run: PlannedRun, folder: Path, data_dir, force: bool, quiet: bool, log: Log) -> None:
    run_gradients(folder, quiet, log)


def anomaly_kind(run: PlannedRun, folder: Path, data_dir, force: bool, quiet: bool, log: Log) -> None:
    """No checkpoint to continue from: each class trains in seconds (tasks/anomaly/run.py)."""
    run_anomaly(run.config, folder, data_dir=data_dir, quiet=True, log=log, force=True)


def resumed_or_restarted(task, run: PlannedRun, folder: Path, data_dir, force: bool, log: Log) -> None:
    """`train` and `sweep`: an interrupted run of the same config continues from its checkpoint (bit-identical
    to an uninterrupted one); otherwise the folder is started again (forced, or another configuration)."""
    resume = not force and (folder / CHECKPOINT).is_file() and same_config(folder, run)
    task(run.config, folder, data_dir=data_dir, quiet=True, log=log, resume=resume, force=not resume)


def train_kind(run: PlannedRun, folder: Path, data_dir, force: bool, quiet: bool, log: Log) -> None:
    resumed_or_restarted(train_run, run, folder, data_dir, force, log)  # train_run looked up now: tests stand in for it


def sweep_kind(run: PlannedRun, folder: Path, data_dir, force: bool, quiet: bool, log: Log) -> None:
    resumed_or_restarted(run_sweep, run, folder, data_dir, force, log)


RUNNERS = {"gradients": gradients_kind, "anomaly": anomaly_kind, "train": train_kind, "sweep": sweep_kind}


def execute_run(run: PlannedRun, folder: Path, data_dir, force: bool, quiet: bool, log: Log) -> None:
    """Run one planned run into `folder` by its kind's registered function (the gradient checks log as they are)."""
    inner = (lambda message: None) if quiet else (lambda message: log(f"  {run.name}: {message}"))
    RUNNERS[run.kind](run, folder, data_dir, force, quiet, log if run.kind == "gradients" else inner)


class Progress:
    """One display for the whole reproduction: step i/N, name, elapsed, and time left from a cost model.

    Seconds per unit of `PlannedRun.cost` are measured on the steps actually trained in this session,
    so the estimate appears after the first training step and sharpens with every one after it.
    """

    def __init__(self, runs: list[PlannedRun], log: Log, workers: int = 1):
        self.runs, self.log, self.start, self.workers = runs, log, time.perf_counter(), workers
        self.units_done = self.seconds_done = 0.0
        self.finished: set[int] = set()
        self.lock = threading.Lock()

    def line(self, i: int, message: str) -> None:
        with self.lock:
            self.log(f"[{i + 1}/{len(self.runs)}] {self.runs[i].name}: {message}  ({self.times()})")

    def times(self) -> str:
        """ "elapsed …, about … left" (the caller holds the lock): the cost not finished, shared among the workers."""
        elapsed = time.perf_counter() - self.start
        left = sum(s.cost() for j, s in enumerate(self.runs) if j not in self.finished) / self.workers
        rate = self.seconds_done / self.units_done if self.units_done else None
        eta = (
            "time left: estimated after the first training step" if rate is None else f"about {clock(left * rate)} left"
        )
        return f"elapsed {clock(elapsed)}, {eta}"

    def skipped(self, i: int, message: str) -> None:
        """Run i is over without work (done before, or no data): its line, and out of the estimate."""
        self.measured(i, None)
        self.line(i, message)

    def measured(self, i: int, seconds: float | None) -> None:
        """Run i is over (`seconds` of work, or None when it did no work)."""
        with self.lock:
            self.finished.add(i)
            if seconds is not None and self.runs[i].cost():
                self.units_done, self.seconds_done = self.units_done + self.runs[i].cost(), self.seconds_done + seconds


def clock(seconds: float) -> str:
    minutes, secs = divmod(int(round(seconds)), 60)
    return f"{minutes // 60}:{minutes % 60:02d}:{secs:02d}"
