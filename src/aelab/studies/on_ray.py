"""`aelab run STUDY --ray`: a study's cells as Ray tasks on an existing cluster.

Why the results come back to the driver instead of workers writing a shared folder: a cluster
made with `ray up` or KubeRay has no shared file system by default, and a worker that dies while
writing would leave a half-written run folder for someone else to find. So each task trains its
step into a private temporary folder on its node and returns the finished folder's files (the
ones its `finished.json` lists: weights, metrics, figures — a few hundred KB); the driver, which
holds the study folder's lock, writes them under the step folder's own lock, each file atomically
and `finished.json` last, exactly as a local step does. A task whose worker dies is started again
by Ray (`max_retries`); the driver writes a step only when its one result arrives, so each folder
is written exactly once, and a rerun skips the finished ones (reproduce.py's `is_done`).

Steps are the unit (study_plan.py): cells that batch together (a sweep group) stay one task. A
cell trains on `num_cpus` torch threads (one by default), the same as the local workers, so its
numbers are bit-identical to a local run of the same study on the CPU.
"""

from __future__ import annotations

import json
import os
import platform
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from aelab.errors import AelabError, ClusterError, ConfigError, DatasetNotFoundError
from aelab.fileio import atomic_write_bytes
from aelab.runs.folder import FINISHED, run_dir
from aelab.runs.log import Log
from aelab.studies.cluster import RaySettings
from aelab.studies.execute import Progress, execute_run
from aelab.studies.plan import PlannedRun, is_done
from aelab.train.step import torch_threads
from aelab.train.trainer import TrainingInterrupted


def import_ray():
    """The `ray` module, or a one-line error saying how to get it (it is an extra, not a dependency)."""
    try:
        import ray
    except ImportError:
        raise ConfigError("--ray: Ray is not installed: expected it from `pip install 'aelab[ray]'`") from None
    return ray


def train_step_files(planned: PlannedRun, data_dir: str | None, threads: int) -> dict:
    """On a worker: train `step` into a private folder (with `execute_run`, the code a local step runs); its
    finished files as bytes, or why it could not run.

    A data set the node cannot find is reported back (the driver marks the step missing, as a
    local run does) rather than raised, so one node's missing copy does not look like a crash.
    """
    import ray

    where = f"{platform.node()} (node {ray.get_runtime_context().get_node_id()[:8]})"

    begin = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="aelab-ray-") as tmp, torch_threads(threads):
        folder = Path(tmp) / "run"
        try:
            execute_run(planned, folder, data_dir, force=True, quiet=True, log=lambda message: None)
        except DatasetNotFoundError as exc:
            return {"missing": str(exc), "host": where}
        listed = json.loads((folder / FINISHED).read_text())["files"]
        files = {name: (folder / name).read_bytes() for name in listed}
        files[FINISHED] = (folder / FINISHED).read_bytes()  # last: the driver writes it last too
    return {"files": files, "seconds": time.perf_counter() - begin, "host": where, "pid": os.getpid()}


def write_step_files(folder: Path, files: dict[str, bytes], log: Log | None = None) -> None:
    """A finished step's files into `folder`, under its lock, each atomically, `finished.json` last."""
    with run_dir(folder, force=True, log=log) as folder:  # force: the driver decided this step runs
        for name, data in files.items():
            if name != FINISHED:
                (folder / name).parent.mkdir(parents=True, exist_ok=True)
                atomic_write_bytes(folder / name, data)
        atomic_write_bytes(folder / FINISHED, files[FINISHED])


class ClusterProgress(Progress):
    """One line per finished cell for the whole cluster: done, running, waiting, elapsed and time left.

    The time left is `Progress`'s cost model, with the cells the cluster runs at once as its workers;
    the steps that were not sent to the cluster are out of the estimate from the start.
    """

    def __init__(self, runs: list[PlannedRun], todo: list[int], slots: int, log: Log):
        super().__init__(runs, log, max(1, slots))
        sent = set(todo)
        self.finished.update(i for i in range(len(runs)) if i not in sent)
        self.total = len(sent)

    def done(self, i: int, seconds: float | None, what: str) -> None:
        self.measured(i, seconds)
        with self.lock:
            left = len(self.runs) - len(self.finished)
            running = min(left, self.workers)
            self.log(
                f"[cluster] {self.total - left}/{self.total} cells done, {running} running, {left - running} "
                f"waiting ({self.times()}) — {self.runs[i].name}: {what}"
            )


def connect(ray, settings: RaySettings, log: Log) -> None:
    """Join the cluster (or start a private one when the address is None); one line on failure."""
    try:
        if settings.address is None:
            ray.init(include_dashboard=False, log_to_driver=False, configure_logging=False)
        else:
            ray.init(address=settings.address, log_to_driver=False, configure_logging=False)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        where = settings.address or "a local Ray"
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ClusterError(
            f"--ray {where}: cannot join the Ray cluster ({first}): expected a running cluster "
            "(`ray start --head` on this machine, or HOST:PORT of its head node)"
        ) from None
    resources = ray.cluster_resources()
    log(
        f"[cluster] joined {settings.address or 'a private local Ray'}: {len(ray.nodes())} node(s), "
        f"{resources.get('CPU', 0):g} CPUs, {resources.get('GPU', 0):g} GPUs"
    )


def slots(ray, settings: RaySettings) -> int:
    """How many cells the cluster runs at once with the resources each asks for."""
    resources = ray.cluster_resources()
    counts = [resources.get("CPU", 0) / settings.num_cpus]
    if settings.num_gpus:
        counts.append(resources.get("GPU", 0) / settings.num_gpus)
    return max(1, int(min(counts)))


def run_plan_on_ray(
    runs: list[PlannedRun],
    out: Path,
    data_dir,
    force: bool,
    settings: RaySettings,
    log: Log,
    local: Callable[[int], None],
    finished: Callable[[int, str, float | None, str | None], None],
) -> None:
    """Every costly step not done yet as a Ray task; the rest (gradient checks, finished steps) by `local`.

    `finished(i, status, seconds, missing_reason)` records each step as its result is written.
    A failed cell stops the study with one line naming it (the other tasks are cancelled; the
    steps already written stay); Ctrl-C cancels the tasks and raises TrainingInterrupted.
    """
    ray = import_ray()
    todo = [i for i, s in enumerate(runs) if s.cost() and (force or not is_done(out / s.name, s))]
    sent = set(todo)
    if todo:
        connect(ray, settings, log)  # an unreachable cluster fails before any step runs
    try:
        for i in (i for i in range(len(runs)) if i not in sent):
            local(i)  # gradient checks here; finished steps are reported as skipped
        if not todo:
            return
        pending = submit(ray, runs, todo, data_dir, settings)
        collect(ray, pending, runs, out, finished, ClusterProgress(runs, todo, slots(ray, settings), log))
    finally:
        if ray.is_initialized():
            ray.shutdown()


def submit(ray, runs: list[PlannedRun], todo: list[int], data_dir, settings: RaySettings) -> dict:
    """One task per run to do, costliest first (so that the last cells to start are short): {task ref: index}."""
    task = ray.remote(
        num_cpus=settings.num_cpus,
        num_gpus=settings.num_gpus,
        max_retries=settings.max_retries,
        retry_exceptions=False,
    )(train_step_files)
    data_dir = None if data_dir is None else str(Path(data_dir).resolve())
    data_dir = data_dir or os.environ.get("AELAB_DATA_DIR")  # the nodes of this machine see the driver's copy
    return {task.remote(runs[i], data_dir, settings.threads()): i for i in sorted(todo, key=lambda i: -runs[i].cost())}


def collect(ray, pending: dict, runs: list[PlannedRun], out: Path, finished, progress: ClusterProgress) -> None:
    """Write each run's files as its task returns; a failed cell or Ctrl-C cancels the tasks still pending."""
    try:
        while pending:
            ready, _ = ray.wait(list(pending), num_returns=1)
            i = pending.pop(ready[0])
            try:
                result = ray.get(ready[0])
            except Exception as exc:  # the cell raised on its worker (not a dead worker: those are retried)
                raise cell_failed(runs[i], exc) from None
            if "missing" in result:
                finished(i, "missing", None, result["missing"])
                progress.done(i, None, f"skipped: its data set was not found on {result['host']}")
                continue
            write_step_files(out / runs[i].name, result["files"])
            finished(i, "run", result["seconds"], None)
            progress.done(i, result["seconds"], f"done in {result['seconds']:.1f} s on {result['host']}")
    except KeyboardInterrupt:
        raise TrainingInterrupted(
            "interrupted: the cells written so far are kept; run the same command again to run the rest"
        ) from None
    finally:
        for ref in pending:
            ray.cancel(ref, force=True)


def cell_failed(planned: PlannedRun, exc: Exception) -> AelabError:
    """One line for a cell that raised on its worker: the step, and its own error's line when it was aelab's."""
    cause = getattr(exc, "cause", None)
    if isinstance(cause, AelabError):
        return type(cause)(f"{planned.name} (on Ray): {cause}")
    text = str(cause if cause is not None else exc).strip().splitlines()
    return ClusterError(f"{planned.name}: failed on its Ray worker: {text[-1] if text else type(exc).__name__}")
