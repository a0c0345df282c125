"""Every check `aelab run` makes before it writes anything, in one function that `run_study` calls before it makes
the study's folder and `dry_run` before it lists the plan: so a dry run refuses exactly what the run would.

Before, a dry run planned the cells and no more, while the run went on to refuse (or crash on) a
training subset larger than the data set, a model too large to allocate, a folder name the file
system refuses or an output path under a file — after it had made the study's folder. Now each is
one line before anything is written, in both: at the file's line of the key when the file sets it,
else at its step's header (a setting left to its default, or data sets given by `--datasets`).
"""

from __future__ import annotations

import os
from pathlib import Path

from aelab.errors import ConfigError
from aelab.report.collect import MANIFEST
from aelab.report.grids import FIGURES
from aelab.runs.folder import check_output_dir
from aelab.runs.lock import LOCK_NAME
from aelab.studies import Study
from aelab.studies.cluster import RaySettings
from aelab.studies.fits import check_fits
from aelab.studies.limits import expected_path, name_problem, path_problem, shown
from aelab.studies.plan import RUN_KINDS, PlannedRun, label, plan_study

RESERVED = (MANIFEST, "report.md", "report.html", FIGURES, LOCK_NAME)  # the study folder's own files, beside the runs
BATCHED_AS = {"code_sizes": "code_size", "seeds": "seed"}  # a batched group's sweep setting → its train step's key


def preflight(
    study: Study, out: str | os.PathLike, quick: bool, workers: int, ray: RaySettings | None = None
) -> list[PlannedRun]:
    """The study's planned runs, once everything `run_study` would refuse before or while running them has been
    checked without reading data or writing anything; the first problem is raised, one line."""
    check_workers(workers)
    problem = path_problem(out)
    if problem is not None:
        raise ConfigError(f"--out {shown(os.fspath(out))}: {problem}: {expected_path()}")
    runs = plan_study(study, quick)  # every cell's config, within limits.MAX_CELLS
    if ray is not None:
        from aelab.studies.on_ray import import_ray

        import_ray()  # an --ray without Ray installed
    steps = {step.name: i for i, step in enumerate(study.steps)}
    for run in runs:
        check_run(study, steps, run)
        check_folder(study, steps, Path(out), run)
    check_distinct(runs)
    check_output_dir(out)  # a folder (or nothing) that may be written, not under a file, not locked by another run
    return runs


def check_workers(workers) -> None:
    if not isinstance(workers, int) or isinstance(workers, bool) or workers < 1:
        raise ConfigError(f"--workers {workers!r}: expected at least 1")


def check_run(study: Study, steps: dict[str, int], run: PlannedRun) -> None:
    """Each cell's config against its data set (studies/fits.py), and a batched group's models together."""
    checked = [(RUN_KINDS[c.kind], c.config, c.step) for c in run.cells] or [(run.kind, run.config, step_of(run))]
    if run.cells and run.kind != RUN_KINDS[run.cells[0].kind]:  # train cells batched into one sweep
        checked.append((run.kind, run.config, run.study_step))
    for kind, config, step in checked:
        try:
            check_fits(kind, config)
        except ConfigError as exc:
            raise located(study, steps[step], exc) from None


def step_of(run: PlannedRun) -> str:
    return run.study_step or run.name  # a gradcheck step's run folder is its name


def located(study: Study, i: int, exc: ConfigError) -> ConfigError:
    """`exc` at its setting's line in step i, or at the step's header when the file does not set it."""
    given = dict(study.steps[i].settings)
    key = exc.setting if exc.setting in given else BATCHED_AS.get(exc.setting)
    if key in given:
        return study.refusal(("steps", i), key, exc.problem)
    return study.refusal(("steps", i), None, str(exc) if exc.setting is None else f"{exc.setting} {exc.problem}")


def check_folder(study: Study, steps: dict[str, int], out: Path, run: PlannedRun) -> None:
    """Each name in the run's folder one the file system takes (and none of the study folder's own files), and the
    whole path within the file system's limit."""
    i = steps[step_of(run)]
    parts = run.name.split("/", 2)  # data set / step / grid cell; a gradcheck step: its name alone
    keys = [((), "datasets"), (("steps", i), "name"), (("steps", i), grid_key(run))] if len(parts) > 1 else []
    for n, (part, (table, key)) in enumerate(zip(parts, keys or [(("steps", i), "name")])):
        problem = folder_name_problem(part, first=n == 0)
        if problem is not None:
            raise study.refusal(table, key, f"the folder name {shown(part)}: {problem}")
    problem = path_problem(out / run.name)
    if problem is not None:
        raise ConfigError(f"{shown(str(out / run.name))}: {problem}: {expected_path()}")


def folder_name_problem(part: str, first: bool) -> str | None:
    """Why `part` cannot be one folder of a run's path, and what was expected, or None (a grid value's text, such as
    a label column's name, may hold anything)."""
    if "/" in part or "\\" in part or part in (".", ".."):
        return "holds a path separator, or is '.' or '..': expected grid values that make one folder name"
    if first and part in RESERVED:
        return f"is a file of the study's own folder: expected a name other than {', '.join(RESERVED)}"
    problem = name_problem(part)
    return None if problem is None else f"{problem}: {expected_path()}"


def grid_key(run: PlannedRun) -> str | None:
    """The grid setting whose value makes the longest part of the run's folder name (None: no grid)."""
    varying = run.cells[0].varying if run.cells else ()
    return max(varying, key=lambda item: len(label([item])))[0] if varying else None


def check_distinct(runs: list[PlannedRun]) -> None:
    """No two runs in one folder, and none inside another's (`--datasets` ./a/x.npy,./b/x.npy would be both)."""
    names = {}
    for run in runs:
        if run.name in names:
            raise ConfigError(
                f"{run.name}: two runs would write this folder: expected data sets and steps whose folder names differ"
            )
        names[run.name] = run
    for run in runs:
        for parent in Path(run.name).parents:
            if str(parent) in names:
                raise ConfigError(
                    f"{run.name}: inside the folder of the run {parent}: expected data sets and steps whose folder "
                    "names differ"
                )
