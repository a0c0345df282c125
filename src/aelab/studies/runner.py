"""The study runner: `aelab run STUDY` and `aelab reproduce` (= `aelab run classic`), a whole study in one call.

A study (studies/, planned into run folders by study_plan.py) is gradient checks, trained models
and sweeps per data set; the classic one is four models and a sweep per data set.
Every step is an ordinary run folder under `out`, so the run is resumable by construction:
a step whose folder holds a finished result for the *same* configuration is skipped, an interrupted
training step continues from its checkpoint, and `force` reruns everything. A data set that cannot
be found is skipped (with a line in the console and in the report), not a crash. `reproduce.json`
records what happened to each step and is rewritten after every step; the report comes last.

The training steps are independent, and each trains on one core (train/compiled/dense.py), so two of them
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
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

from aelab.errors import DatasetNotFoundError
from aelab.fileio import atomic_write_json
from aelab.runs.folder import environment, is_finished, locked_folder
from aelab.runs.log import Log, stderr_log
from aelab.studies import Study, load_study
from aelab.studies.cluster import RaySettings
from aelab.studies.execute import Progress, clock, execute_run
from aelab.studies.plan import PlannedRun, is_done, label
from aelab.studies.preflight import preflight
from aelab.train.interrupt import graceful_stop_workers, stop_workers
from aelab.train.step import torch_threads
from aelab.train.trainer import TrainingInterrupted

MANIFEST = "reproduce.json"
DEFAULT_WORKERS = min(2, os.cpu_count() or 1)  # training steps at a time: each trains on one core
# Seconds per unit of PlannedRun.cost on one core, for --dry-run before anything ran here: from the study's log in
# BENCHMARKS.md (shallow 5 s, deep 18 s on Fashion-MNIST) — a rough guide; a previous run in the folder is used instead.
SECONDS_PER_COST = 1.0e-5
LISTED_RUNS, LISTED_CELLS = 20, 8  # a dry run lists this many runs, each with this many cells, and counts the rest


def reproduce(
    out: str | os.PathLike,
    datasets: tuple[str, ...] = ("mnist", "fashion-mnist"),
    quick: bool = False,
    force: bool = False,
    data_dir: str | os.PathLike | None = None,
    quiet: bool = False,
    log: Log = stderr_log,
    workers: int = DEFAULT_WORKERS,
) -> dict:
    """The classic study (classic.toml) on `datasets`: `run_study` of `aelab run classic`."""
    study = load_study("classic").with_datasets(tuple(datasets))  # an unknown name fails here, before anything runs
    return run_study(study, out, quick=quick, force=force, data_dir=data_dir, quiet=quiet, log=log, workers=workers)


def run_study(
    study: Study,
    out: str | os.PathLike,
    quick: bool = False,
    force: bool = False,
    data_dir: str | os.PathLike | None = None,
    quiet: bool = False,
    log: Log = stderr_log,
    workers: int = DEFAULT_WORKERS,
    ray: RaySettings | None = None,
) -> dict:
    """Run (or continue) `study` into `out`, then write out/report.html and out/report.md.

    `quiet` silences the per-epoch lines of each step; `log` receives the progress lines; `workers`
    training steps run at a time (1: one after another, in the plan's order); with `ray`, the training
    steps run as tasks on that Ray cluster instead (studies/on_ray.py). Returns
    the manifest (also saved as out/reproduce.json): per step its status ("run", "skipped" or
    "missing") and seconds, the missing data sets with the reason, and the report's paths.
    """
    runs = preflight(study, out, quick, workers, ray)  # a bad study fails here, before anything is written
    with locked_folder(out, log) as out:  # each step locks its own folder inside this one
        return run_study_into(out, study, runs, quick, force, data_dir, quiet, log, workers, ray)


def run_study_into(
    out: Path,
    study: Study,
    runs: list[PlannedRun],
    quick: bool,
    force: bool,
    data_dir,
    quiet: bool,
    log: Log,
    workers: int,
    ray: RaySettings | None = None,
) -> dict:
    """`run_study` in its locked folder `out`."""
    previous = read_manifest(out)
    manifest = new_manifest(study, runs, quick, force, data_dir, workers)
    progress, start = Progress(runs, log, workers), time.perf_counter()
    manifest_lock = threading.Lock()

    def run_one(i: int) -> None:
        result = do_run(
            i, runs[i], out, data_dir, force, quiet, manifest["missing"], previous.get(runs[i].name), progress
        )
        with manifest_lock:
            manifest["steps"][i]["status"], manifest["steps"][i]["seconds"] = result
            atomic_write_json(out / MANIFEST, manifest)

    if ray is None:
        run_plan(runs, run_one, workers)
    else:
        from aelab.studies.on_ray import run_plan_on_ray

        def record(i: int, status: str, seconds: float | None, missing: str | None) -> None:
            with manifest_lock:
                if missing is not None:
                    manifest["missing"][runs[i].dataset] = missing
                manifest["steps"][i]["status"], manifest["steps"][i]["seconds"] = status, seconds
                atomic_write_json(out / MANIFEST, manifest)

        manifest["ray"] = ray.record()
        run_plan_on_ray(runs, out, data_dir, force, ray, log, run_one, record)
    return finish_manifest(out, study, runs, manifest, start, log)


def new_manifest(study: Study, runs: list[PlannedRun], quick: bool, force: bool, data_dir, workers: int) -> dict:
    """reproduce.json as a study starts: what runs, with which settings, on which machine."""
    return {
        "study": {"name": study.name, "title": study.title, "description": study.description, "source": study.source},
        "quick": quick,
        "force": force,
        "datasets": list(study.datasets),
        "data_dir": None if data_dir is None else str(data_dir),
        "started": now(),
        "environment": environment(),
        "steps": [planned.record() for planned in runs],
        "missing": {},
        "workers": workers,
    }


def finish_manifest(out: Path, study: Study, runs: list[PlannedRun], manifest: dict, start: float, log: Log) -> dict:
    """The gradient checks' verdict, the report, and the manifest's last write; one line says how it went."""
    gradient_folders = [out / s.name / "checks.json" for s in runs if s.kind == "gradients"]
    checks = [row for path in gradient_folders for row in read_json_list(path)]
    manifest.update(
        finished=now(),
        seconds=time.perf_counter() - start,
        gradient_checks_passed=(bool(checks) and all(row.get("passed") for row in checks))
        if gradient_folders
        else None,
    )
    from aelab.report import write_report  # the report reads only the folders written above

    manifest["report"] = {kind: str(path) for kind, path in write_report(out, manifest).items()}
    atomic_write_json(out / MANIFEST, manifest)
    counts = {s: sum(r["status"] == s for r in manifest["steps"]) for s in ("run", "skipped", "missing")}
    what = "reproduction" if study.name == "classic" else f"study {study.name}"
    log(
        f"{what} finished in {clock(manifest['seconds'])}: {counts['run']} steps run, {counts['skipped']} already "
        f"done, {counts['missing']} without data → {manifest['report']['html']}"
    )
    return manifest


def dry_run(
    study: Study,
    out: str | os.PathLike,
    quick: bool = False,
    force: bool = False,
    workers: int = DEFAULT_WORKERS,
    ray: RaySettings | None = None,
) -> list[str]:
    """What `run_study` would do, as lines: each run folder, its cells, done or to run, and the estimated time.

    Writes nothing, and refuses what `run_study` would refuse before it writes (the same `preflight`). The time
    uses the seconds per unit of cost measured by a previous run in `out` when there is one, else
    SECONDS_PER_COST; steps already done there cost nothing. A plan of more than LISTED_RUNS runs lists its first
    ones (each with at most LISTED_CELLS cells) and counts the rest: the totals are what a long plan is read for.
    """
    runs = preflight(study, out, quick, workers, ray)
    out = Path(out)
    rate, source = seconds_per_cost(out, runs)
    lines = [
        f"study {study.name} ({study.source}): {len(runs):,} run folders, "
        f"{sum(max(len(s.cells), 1) for s in runs):,} cells{' (quick)' if quick else ''} → {out}"
    ]
    left = 0.0
    for i, planned in enumerate(runs):
        done = not force and out.exists() and is_done(out / planned.name, planned)
        seconds = 0.0 if done else planned.cost() * rate
        left += seconds
        if i < LISTED_RUNS:
            lines += run_lines(f"[{i + 1}/{len(runs)}]", planned, "already done" if done else f"about {clock(seconds)}")
    if len(runs) > LISTED_RUNS:
        rest = runs[LISTED_RUNS:]
        lines.append(f"  … and {len(rest):,} more runs ({sum(max(len(s.cells), 1) for s in rest):,} cells)")
    lines.append(
        f"estimated time: about {clock(left / workers)} with {workers} worker(s) ({source}); nothing was written"
    )
    return lines


def seconds_per_cost(out: Path, runs: list[PlannedRun]) -> tuple[float, str]:
    """Seconds per unit of `PlannedRun.cost`, as measured by the previous run in `out` when it timed any, and whence."""
    previous = read_manifest(out)
    timed = [(s, previous[s.name]["seconds"]) for s in runs if s.name in previous and previous[s.name].get("seconds")]
    units = sum(s.cost() for s, _ in timed)
    if units:
        return sum(seconds for _, seconds in timed) / units, f"measured by the run in {out}"
    return SECONDS_PER_COST, "a rough guide from one core of the reference machine"


def run_lines(number: str, planned: PlannedRun, status: str) -> list[str]:
    """A run's line of the dry run, and its cells' (the first LISTED_CELLS of a larger batch, then their count)."""
    cells = f", {len(planned.cells)} cells batched" if len(planned.cells) > 1 else ""
    lines = [f"  {number} {planned.name} ({planned.kind}{cells}): {status}"]
    if len(planned.cells) > 1:
        lines += [f"      {label(cell.varying)}" for cell in planned.cells[:LISTED_CELLS]]
        if len(planned.cells) > LISTED_CELLS:
            lines.append(f"      … and {len(planned.cells) - LISTED_CELLS:,} more cells")
    return lines


def do_run(
    i: int,
    planned: PlannedRun,
    out: Path,
    data_dir,
    force: bool,
    quiet: bool,
    missing: dict[str, str],
    previous: dict | None,
    progress: Progress,
) -> tuple[str, float | None]:
    """Run, skip or mark missing one step; returns (status, seconds of work, or the earlier run's seconds)."""
    folder = out / planned.name
    if planned.dataset in missing:
        progress.skipped(i, f"skipped: data set {planned.dataset} was not found")
        return "missing", None
    if not force and is_done(folder, planned):
        progress.skipped(i, "already done, skipped")
        return "skipped", (previous or {}).get("seconds")
    again = "rerunning (forced)" if force else "rerunning (its folder holds another configuration)"
    progress.line(i, again if is_finished(folder) else "running")
    begin = time.perf_counter()
    try:
        execute_run(planned, folder, data_dir, force, quiet, progress.log)
    except DatasetNotFoundError as exc:
        missing[planned.dataset] = str(exc)
        progress.skipped(i, f"skipped: data set {planned.dataset} not found: {exc}")
        return "missing", None
    seconds = time.perf_counter() - begin
    progress.measured(i, seconds)
    progress.line(i, f"done in {seconds:.1f} s")
    return "run", seconds


def run_plan(runs: list[PlannedRun], run_one: Callable[[int], None], workers: int) -> None:
    """Steps without training cost (the gradient checks) first; then the training steps, on
    `workers` threads at one torch thread each, costliest first (so that the last to start are
    short), or one after another in the plan's order when `workers` is 1.

    The first failure stops the other workers after their current step (they save checkpoints)
    and is raised; a SIGINT/SIGTERM stops them all the same way and raises TrainingInterrupted.
    """
    for i in (i for i, s in enumerate(runs) if not s.cost()):
        run_one(i)
    costly = [i for i, s in enumerate(runs) if s.cost()]
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

    with (
        torch_threads(1),
        graceful_stop_workers(stopping.set),
        ThreadPoolExecutor(workers, thread_name_prefix="aelab-step") as pool,
    ):
        futures = [pool.submit(guarded, i) for i in sorted(costly, key=lambda i: -runs[i].cost())]
        for future in as_completed(futures):
            if future.exception() is not None:
                failures.append(future.exception())
    if failures or stopping.is_set():
        errors = [f for f in failures if not isinstance(f, TrainingInterrupted)]
        if errors:
            raise errors[0]
        raise TrainingInterrupted(
            "interrupted: the running steps saved their checkpoints; run the same command "
            "again to continue where they stopped"
        )


def read_manifest(out: Path) -> dict[str, dict]:
    """The previous reproduction's step records by name (for the timings of steps skipped now)."""
    try:
        return {
            r["name"]: r
            for r in json.loads((out / MANIFEST).read_text())["steps"]
            if r.get("status") in ("run", "skipped")
        }
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
