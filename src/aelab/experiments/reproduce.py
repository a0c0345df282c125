"""`aelab reproduce`: the whole study in one call — gradient checks, four models and a sweep per data set.

Every step is an ordinary run folder under `out`, so the reproduction is resumable by construction:
a step whose folder holds a finished result for the *same* configuration is skipped, an interrupted
training step continues from its checkpoint, and `force` reruns everything. A data set that cannot
be found is skipped (with a line in the console and in the report), not a crash. `reproduce.json`
records what happened to each step and is rewritten after every step; the report comes last.
"""

from __future__ import annotations

import datetime
import json
import os
import time
from pathlib import Path

import aelab
from aelab.data.registry import get_spec
from aelab.errors import DatasetNotFoundError
from aelab.experiments.checkpointing import CHECKPOINT
from aelab.experiments.runs import check_output_dir, environment, is_finished, mark_finished, prepare_run_dir
from aelab.experiments.sweep import run_sweep
from aelab.experiments.study_plan import GRADIENT_CHECK, Step, is_done, plan, saved_config
from aelab.experiments.train_one import Log, stderr_log, train_run
from aelab.fileio import atomic_write_json, atomic_write_text

DERIVATION = Path(aelab.__file__).resolve().parents[2] / "docs" / "gradients.md"  # present in a source checkout
MANIFEST = "reproduce.json"


def run_gradients(folder: Path, quiet: bool, log: Log) -> None:
    """The hand-derived gradients against finite differences and autograd, as a run folder."""
    from aelab.manual.gradcheck import format_table, results_to_json, run_checks

    results = run_checks(**GRADIENT_CHECK)
    folder = prepare_run_dir(folder)
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
    inner = (lambda message: None) if quiet else (lambda message: log("  " + message))
    if step.kind == "gradients":
        run_gradients(folder, quiet, log)
        return
    # an interrupted run of the same config continues from its checkpoint (bit-identical to an uninterrupted one)
    resume = not force and (folder / CHECKPOINT).is_file() and saved_config(folder) == step.config_json()
    run = run_sweep if step.kind == "sweep" else train_run
    run(step.config, folder, data_dir=data_dir, quiet=True, log=inner, resume=resume)


class Progress:
    """One display for the whole reproduction: step i/N, name, elapsed, and time left from a cost model.

    Seconds per unit of `Step.cost` are measured on the steps actually trained in this session,
    so the estimate appears after the first training step and sharpens with every one after it.
    """

    def __init__(self, steps: list[Step], log: Log):
        self.steps, self.log, self.start = steps, log, time.perf_counter()
        self.units_done = self.seconds_done = 0.0

    def line(self, i: int, message: str) -> None:
        elapsed = time.perf_counter() - self.start
        left = sum(s.cost() for s in self.steps[i:])
        rate = self.seconds_done / self.units_done if self.units_done else None
        eta = "time left: estimated after the first training step" if rate is None else f"about {clock(left * rate)} left"
        self.log(f"[{i + 1}/{len(self.steps)}] {self.steps[i].name}: {message}  (elapsed {clock(elapsed)}, {eta})")

    def measured(self, step: Step, seconds: float) -> None:
        if step.cost():
            self.units_done, self.seconds_done = self.units_done + step.cost(), self.seconds_done + seconds


def clock(seconds: float) -> str:
    minutes, secs = divmod(int(round(seconds)), 60)
    return f"{minutes // 60}:{minutes % 60:02d}:{secs:02d}"


def reproduce(out: str | os.PathLike, datasets: tuple[str, ...] = ("mnist", "fashion-mnist"), quick: bool = False,
              force: bool = False, data_dir: str | os.PathLike | None = None, quiet: bool = False,
              log: Log = stderr_log) -> dict:
    """Run (or continue) the whole study into `out`, then write out/report.html and out/report.md.

    `quiet` silences the per-epoch lines of each step; `log` receives the progress lines. Returns
    the manifest (also saved as out/reproduce.json): per step its status ("run", "skipped" or
    "missing") and seconds, the missing data sets with the reason, and the report's paths.
    """
    for name in datasets:
        get_spec(name)  # an unknown name fails here, before anything runs
    out = check_output_dir(out)
    out.mkdir(parents=True, exist_ok=True)
    steps = plan(tuple(datasets), quick)
    previous = read_manifest(out)
    manifest = {"quick": quick, "force": force, "datasets": list(datasets),
                "data_dir": None if data_dir is None else str(data_dir), "started": now(),
                "environment": environment(), "steps": [], "missing": {}}
    progress, start = Progress(steps, log), time.perf_counter()
    for i, step in enumerate(steps):
        record = {"name": step.name, "kind": step.kind, "dataset": step.dataset, "status": None, "seconds": None}
        manifest["steps"].append(record)
        record["status"], record["seconds"] = do_step(i, step, out, data_dir, force, quiet, manifest["missing"],
                                                      previous.get(step.name), progress)
        atomic_write_json(out / MANIFEST, manifest)
    checks = read_json_list(out / "gradients" / "checks.json")
    manifest.update(finished=now(), seconds=time.perf_counter() - start,
                    gradient_checks_passed=bool(checks) and all(row.get("passed") for row in checks))
    from aelab.report import write_report  # the report reads only the folders written above

    manifest["report"] = {kind: str(path) for kind, path in write_report(out, manifest).items()}
    atomic_write_json(out / MANIFEST, manifest)
    counts = {s: sum(r["status"] == s for r in manifest["steps"]) for s in ("run", "skipped", "missing")}
    log(f"reproduction finished in {clock(manifest['seconds'])}: {counts['run']} steps run, {counts['skipped']} already "
        f"done, {counts['missing']} without data → {manifest['report']['html']}")
    return manifest


def do_step(i: int, step: Step, out: Path, data_dir, force: bool, quiet: bool, missing: dict[str, str],
            previous: dict | None, progress: Progress) -> tuple[str, float | None]:
    """Run, skip or mark missing one step; returns (status, seconds of work, or the earlier run's seconds)."""
    folder = out / step.name
    if step.dataset in missing:
        progress.line(i, f"skipped: data set {step.dataset} was not found")
        return "missing", None
    if not force and is_done(folder, step):
        progress.line(i, "already done, skipped")
        return "skipped", (previous or {}).get("seconds")
    again = "rerunning (forced)" if force else "rerunning (its folder holds another configuration)"
    progress.line(i, again if is_finished(folder) else "running")
    begin = time.perf_counter()
    try:
        run_step(step, folder, data_dir, force, quiet, progress.log)
    except DatasetNotFoundError as exc:
        missing[step.dataset] = str(exc)
        progress.line(i, f"skipped: data set {step.dataset} not found: {exc}")
        return "missing", None
    seconds = time.perf_counter() - begin
    progress.measured(step, seconds)
    progress.line(i, f"done in {seconds:.1f} s")
    return "run", seconds


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
