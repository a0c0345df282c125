"""`aelab run STUDY` and `aelab reproduce` (= `aelab run classic`): a whole study in one call.

A study (studies/, planned into run folders by study_plan.py) is gradient checks, trained models
and sweeps per data set; the classic one is four models and a sweep per data set.
Every step is an ordinary run folder under `out`, so the run is resumable by construction:
a step whose folder holds a finished result for the *same* configuration is skipped, an interrupted
training step continues from its checkpoint, and `force` reruns everything. A data set that cannot
be found is skipped (with a line in the console and in the report), not a crash. `reproduce.json`
records what happened to each step and is rewritten after every step; the report comes last.

The training steps are independent, and each trains on one core (train/fused.py), so two of them
run at a time on two worker threads (`workers`), costliest first: the machine's second core would
otherwise idle through most of the study. Threads, not processes, so that the data set is loaded
once (`load_dataset` shares its arrays) and the study stays within 1 GiB. Every step still writes
only its own run folder; a failure or Ctrl-C stops the others after their current step, each with
its checkpoint saved.
"""

from __future__ import annotations

import datetime
import json
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path
from typing import Callable

import aelab
from aelab.errors import ConfigError, DatasetNotFoundError
from aelab.experiments.checkpointing import CHECKPOINT
from aelab.experiments.runs import environment, is_finished, locked_folder, mark_finished, run_dir
from aelab.experiments.sweep import run_sweep
from aelab.experiments.study_plan import GRADIENT_CHECK, Step, is_done, label, plan_study, same_config
from aelab.experiments.train_one import Log, stderr_log, train_run
from aelab.fileio import atomic_write_json, atomic_write_text
from aelab.studies import Study, load_study
from aelab.studies.cluster import RaySettings
from aelab.train.interrupt import graceful_stop_workers, stop_workers
from aelab.train.step import torch_threads
from aelab.train.trainer import TrainingInterrupted

DERIVATION = Path(aelab.__file__).resolve().parents[2] / "docs" / "gradients.md"  # present in a source checkout
MANIFEST = "reproduce.json"
DEFAULT_WORKERS = min(2, os.cpu_count() or 1)  # training steps at a time: each trains on one core
# Seconds per unit of Step.cost on one core, for --dry-run before anything ran here: from the study's log in
# BENCHMARKS.md (shallow 5 s, deep 18 s on Fashion-MNIST) — a rough guide; a previous run in the folder is used instead.
SECONDS_PER_COST = 1.0e-5


def run_gradients(folder: Path, quiet: bool, log: Log) -> None:
    """The hand-derived gradients against finite differences and autograd, as a run folder."""
    from aelab.manual.gradcheck import format_table, results_to_json, run_checks

    results = run_checks(**GRADIENT_CHECK)
    with run_dir(folder, force=True, log=log) as folder:  # reproduce runs this step only when it is not done
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


def run_step(step: Step, folder: Path, data_dir, force: bool, quiet: bool, log: Log) -> None:
    inner = (lambda message: None) if quiet else (lambda message: log(f"  {step.name}: {message}"))
    if step.kind == "gradients":
        run_gradients(folder, quiet, log)
        return
    if step.kind == "anomaly":  # no checkpoint to continue from: each class trains in seconds (experiments/anomaly.py)
        from aelab.experiments.anomaly import run_anomaly

        run_anomaly(step.config, folder, data_dir=data_dir, quiet=True, log=inner, force=True)
        return
    # an interrupted run of the same config continues from its checkpoint (bit-identical to an uninterrupted one)
    resume = not force and (folder / CHECKPOINT).is_file() and same_config(folder, step)
    run = {"sweep": run_sweep, "train": train_run}[step.kind]
    # otherwise the folder is started again: reproduce has decided that (forced, or another configuration)
    run(step.config, folder, data_dir=data_dir, quiet=True, log=inner, resume=resume, force=not resume)


class Progress:
    """One display for the whole reproduction: step i/N, name, elapsed, and time left from a cost model.

    Seconds per unit of `Step.cost` are measured on the steps actually trained in this session,
    so the estimate appears after the first training step and sharpens with every one after it.
    """

    def __init__(self, steps: list[Step], log: Log, workers: int = 1):
        self.steps, self.log, self.start, self.workers = steps, log, time.perf_counter(), workers
        self.units_done = self.seconds_done = 0.0
        self.finished: set[int] = set()
        self.lock = threading.Lock()

    def line(self, i: int, message: str) -> None:
        with self.lock:
            self.log(f"[{i + 1}/{len(self.steps)}] {self.steps[i].name}: {message}  ({self.times()})")

    def times(self) -> str:
        """"elapsed …, about … left" (the caller holds the lock): the cost not finished, shared among the workers."""
        elapsed = time.perf_counter() - self.start
        left = sum(s.cost() for j, s in enumerate(self.steps) if j not in self.finished) / self.workers
        rate = self.seconds_done / self.units_done if self.units_done else None
        eta = "time left: estimated after the first training step" if rate is None else f"about {clock(left * rate)} left"
        return f"elapsed {clock(elapsed)}, {eta}"

    def skipped(self, i: int, message: str) -> None:
        """Step i is over without work (done before, or no data): its line, and out of the estimate."""
        self.measured(i, None)
        self.line(i, message)

    def measured(self, i: int, seconds: float | None) -> None:
        """Step i is over (`seconds` of work, or None when it did no work)."""
        with self.lock:
            self.finished.add(i)
            if seconds is not None and self.steps[i].cost():
                self.units_done, self.seconds_done = self.units_done + self.steps[i].cost(), self.seconds_done + seconds


def clock(seconds: float) -> str:
    minutes, secs = divmod(int(round(seconds)), 60)
    return f"{minutes // 60}:{minutes % 60:02d}:{secs:02d}"


def reproduce(out: str | os.PathLike, datasets: tuple[str, ...] = ("mnist", "fashion-mnist"), quick: bool = False,
              force: bool = False, data_dir: str | os.PathLike | None = None, quiet: bool = False,
              log: Log = stderr_log, workers: int = DEFAULT_WORKERS) -> dict:
    """The classic study (classic.toml) on `datasets`: `run_study` of `aelab run classic`."""
    study = load_study("classic").with_datasets(tuple(datasets))  # an unknown name fails here, before anything runs
    return run_study(study, out, quick=quick, force=force, data_dir=data_dir, quiet=quiet, log=log, workers=workers)


def run_study(study: Study, out: str | os.PathLike, quick: bool = False, force: bool = False,
              data_dir: str | os.PathLike | None = None, quiet: bool = False, log: Log = stderr_log,
              workers: int = DEFAULT_WORKERS, ray: RaySettings | None = None) -> dict:
    """Run (or continue) `study` into `out`, then write out/report.html and out/report.md.

    `quiet` silences the per-epoch lines of each step; `log` receives the progress lines; `workers`
    training steps run at a time (1: one after another, in the plan's order); with `ray`, the training
    steps run as tasks on that Ray cluster instead (experiments/on_ray.py). Returns
    the manifest (also saved as out/reproduce.json): per step its status ("run", "skipped" or
    "missing") and seconds, the missing data sets with the reason, and the report's paths.
    """
    check_workers(workers)
    steps = plan_study(study, quick)  # a bad study fails here, before anything is written
    if ray is not None:
        from aelab.experiments.on_ray import import_ray

        import_ray()  # an --ray without Ray installed fails here too
    with locked_folder(out, log) as out:  # each step locks its own folder inside this one
        return run_study_into(out, study, steps, quick, force, data_dir, quiet, log, workers, ray)


def check_workers(workers) -> None:
    if not isinstance(workers, int) or isinstance(workers, bool) or workers < 1:
        raise ConfigError(f"--workers {workers!r}: expected at least 1")


def run_study_into(out: Path, study: Study, steps: list[Step], quick: bool, force: bool, data_dir, quiet: bool,
                   log: Log, workers: int, ray: RaySettings | None = None) -> dict:
    """`run_study` in its locked folder `out`."""
    previous = read_manifest(out)
    manifest = {"study": {"name": study.name, "title": study.title, "description": study.description, "source": study.source},
                "quick": quick, "force": force, "datasets": list(study.datasets),
                "data_dir": None if data_dir is None else str(data_dir), "started": now(),
                "environment": environment(), "steps": [], "missing": {}}
    progress, start = Progress(steps, log, workers), time.perf_counter()
    manifest["workers"] = workers
    manifest["steps"] = [s.record() for s in steps]
    manifest_lock = threading.Lock()

    def run_one(i: int) -> None:
        result = do_step(i, steps[i], out, data_dir, force, quiet, manifest["missing"], previous.get(steps[i].name), progress)
        with manifest_lock:
            manifest["steps"][i]["status"], manifest["steps"][i]["seconds"] = result
            atomic_write_json(out / MANIFEST, manifest)

    if ray is None:
        run_steps(steps, run_one, workers)
    else:
        from aelab.experiments.on_ray import run_steps_on_ray

        def record(i: int, status: str, seconds: float | None, missing: str | None) -> None:
            with manifest_lock:
                if missing is not None:
                    manifest["missing"][steps[i].dataset] = missing
                manifest["steps"][i]["status"], manifest["steps"][i]["seconds"] = status, seconds
                atomic_write_json(out / MANIFEST, manifest)

        manifest["ray"] = ray.record()
        run_steps_on_ray(steps, out, data_dir, force, ray, log, run_one, record)
    gradient_folders = [out / s.name / "checks.json" for s in steps if s.kind == "gradients"]
    checks = [row for path in gradient_folders for row in read_json_list(path)]
    manifest.update(finished=now(), seconds=time.perf_counter() - start,
                    gradient_checks_passed=(bool(checks) and all(row.get("passed") for row in checks)) if gradient_folders else None)
    from aelab.report import write_report  # the report reads only the folders written above

    manifest["report"] = {kind: str(path) for kind, path in write_report(out, manifest).items()}
    atomic_write_json(out / MANIFEST, manifest)
    counts = {s: sum(r["status"] == s for r in manifest["steps"]) for s in ("run", "skipped", "missing")}
    what = "reproduction" if study.name == "classic" else f"study {study.name}"
    log(f"{what} finished in {clock(manifest['seconds'])}: {counts['run']} steps run, {counts['skipped']} already "
        f"done, {counts['missing']} without data → {manifest['report']['html']}")
    return manifest


def dry_run(study: Study, out: str | os.PathLike, quick: bool = False, force: bool = False,
            workers: int = DEFAULT_WORKERS) -> list[str]:
    """What `run_study` would do, as lines: each run folder, its cells, done or to run, and the estimated time.

    Writes nothing. The time uses the seconds per unit of cost measured by a previous run in `out`
    when there is one, else SECONDS_PER_COST; steps already done there cost nothing.
    """
    check_workers(workers)
    steps = plan_study(study, quick)
    out = Path(out)
    previous = read_manifest(out)
    timed = [(s, previous[s.name]["seconds"]) for s in steps if s.name in previous and previous[s.name].get("seconds")]
    units = sum(s.cost() for s, _ in timed)
    rate = sum(seconds for _, seconds in timed) / units if units else SECONDS_PER_COST
    source = f"measured by the run in {out}" if units else "a rough guide from one core of the reference machine"
    lines = [f"study {study.name} ({study.source}): {len(steps)} run folders, {sum(max(len(s.cells), 1) for s in steps)} cells"
             f"{' (quick)' if quick else ''} → {out}"]
    left = 0.0
    for i, step in enumerate(steps):
        done = not force and out.exists() and is_done(out / step.name, step)
        seconds = 0.0 if done else step.cost() * rate
        left += seconds
        cells = f", {len(step.cells)} cells batched" if len(step.cells) > 1 else ""
        lines.append(f"  [{i + 1}/{len(steps)}] {step.name} ({step.kind}{cells}): "
                     + ("already done" if done else f"about {clock(seconds)}"))
        if len(step.cells) > 1:
            lines += [f"      {label(cell.varying)}" for cell in step.cells]
    lines.append(f"estimated time: about {clock(left / workers)} with {workers} worker(s) ({source}); nothing was written")
    return lines


def do_step(i: int, step: Step, out: Path, data_dir, force: bool, quiet: bool, missing: dict[str, str],
            previous: dict | None, progress: Progress) -> tuple[str, float | None]:
    """Run, skip or mark missing one step; returns (status, seconds of work, or the earlier run's seconds)."""
    folder = out / step.name
    if step.dataset in missing:
        progress.skipped(i, f"skipped: data set {step.dataset} was not found")
        return "missing", None
    if not force and is_done(folder, step):
        progress.skipped(i, "already done, skipped")
        return "skipped", (previous or {}).get("seconds")
    again = "rerunning (forced)" if force else "rerunning (its folder holds another configuration)"
    progress.line(i, again if is_finished(folder) else "running")
    begin = time.perf_counter()
    try:
        run_step(step, folder, data_dir, force, quiet, progress.log)
    except DatasetNotFoundError as exc:
        missing[step.dataset] = str(exc)
        progress.skipped(i, f"skipped: data set {step.dataset} not found: {exc}")
        return "missing", None
    seconds = time.perf_counter() - begin
    progress.measured(i, seconds)
    progress.line(i, f"done in {seconds:.1f} s")
    return "run", seconds


def run_steps(steps: list[Step], run_one: Callable[[int], None], workers: int) -> None:
    """Steps without training cost (the gradient checks) first; then the training steps, on
    `workers` threads at one torch thread each, costliest first (so that the last to start are
    short), or one after another in the plan's order when `workers` is 1.

    The first failure stops the other workers after their current step (they save checkpoints)
    and is raised; a SIGINT/SIGTERM stops them all the same way and raises TrainingInterrupted.
    """
    for i in (i for i, s in enumerate(steps) if not s.cost()):
        run_one(i)
    costly = [i for i, s in enumerate(steps) if s.cost()]
    if workers == 1:
        for i in costly:
            run_one(i)
        return
    failures: list[BaseException] = []
    stopping = threading.Event()

    def guarded(i: int) -> None:
        if stopping.is_set():  # a step failed or a stop was asked for: start nothing new
            return
        try:
            run_one(i)
        except BaseException:
            stopping.set()  # before this worker can pick up the next step
            stop_workers()
            raise

    with torch_threads(1), graceful_stop_workers(stopping.set), ThreadPoolExecutor(workers, thread_name_prefix="aelab-step") as pool:
        futures = [pool.submit(guarded, i) for i in sorted(costly, key=lambda i: -steps[i].cost())]
        for future in as_completed(futures):
            if future.exception() is not None:
                failures.append(future.exception())
    if failures or stopping.is_set():
        errors = [f for f in failures if not isinstance(f, TrainingInterrupted)]
        if errors:
            raise errors[0]
        raise TrainingInterrupted("interrupted: the running steps saved their checkpoints; run the same command "
                                  "again to continue where they stopped")


def read_manifest(out: Path) -> dict[str, dict]:
    """The previous reproduction's step records by name (for the timings of steps skipped now)."""
    try:
        return {r["name"]: r for r in json.loads((out / MANIFEST).read_text())["steps"] if r.get("status") in ("run", "skipped")}
    except (OSError, ValueError, KeyError, TypeError):
        return {}


def read_json_list(path: Path) -> list[dict]:
    try:
        rows = json.loads(path.read_text())
    except (OSError, ValueError):
        return []
    return rows if isinstance(rows, list) else []


def now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
