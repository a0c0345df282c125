"""A checked study and its cells: one config per data set × step × grid point.

A study names its data sets and lists steps; each step has a `name`, a `kind` (studies/kinds.py)
and settings, which are the fields of that kind's config dataclass (config.py, the same classes
that make the CLI's options). Any setting given as a list is a grid: the step runs once for every
combination of its lists. reader.py makes a `Study` from a TOML file, checking everything first.
"""

from __future__ import annotations

import dataclasses
import itertools
import warnings
from dataclasses import dataclass, field
from pathlib import Path

from aelab.data.custom.paths import check_options_apply, is_path, kind_of
from aelab.data.registry import get_spec
from aelab.errors import ConfigError, DataError
from aelab.studies.cluster import RaySettings
from aelab.studies.kinds import KINDS
from aelab.studies.limits import cells_problem, expected_path, one_line, path_problem, shown
from aelab.studies.toml_lines import key_line
from aelab.tasks.recipe import without_unused


@dataclass(frozen=True)
class StudyStep:
    """One step of a study: its settings, each with its values in the file's order (more than one: a grid)."""

    name: str
    kind: str
    settings: tuple[tuple[str, tuple], ...]

    def grid(self) -> dict[str, tuple]:
        """The settings that vary (given as a list of two or more values)."""
        return {key: values for key, values in self.settings if len(values) > 1}


@dataclass(frozen=True)
class Cell:
    """One configuration to run: step × data set × grid point; `varying` holds its grid values."""

    step: str
    kind: str
    dataset: str | None
    config: object | None
    varying: tuple[tuple[str, object], ...] = ()


@dataclass(frozen=True)
class Study:
    """A checked study: its data sets and steps (see `cells` for what runs)."""

    name: str
    title: str
    description: str
    datasets: tuple[str, ...]
    steps: tuple[StudyStep, ...]
    source: str
    ray: RaySettings | None = None  # the file's [ray] table: run the cells on a Ray cluster (studies/cluster.py)
    text: str = field(default="", repr=False, compare=False)  # the file's text: later checks point into it too

    def cells(self) -> list[Cell]:
        """Every cell, step by step, data set by data set, the grid in the file's order (last setting fastest);
        a study of more than limits.MAX_CELLS cells (its data sets may come from `--datasets`) is refused first."""
        too_many = cells_problem(self.steps, self.datasets)
        if too_many is not None:
            raise self.refusal(*too_many)
        return [cell for step in self.steps for cell in step_cells(step, self.datasets)]

    def refusal(self, table: tuple, key: str | None, problem: str) -> ConfigError:
        """The one-line error at `key`'s line in `table` of the study's file (see `refusal`)."""
        return refusal(self.text, self.source, table, key, problem)

    def with_datasets(self, datasets: tuple[str, ...]) -> Study:
        """The same study on other data sets (each must be known)."""
        for name in datasets:
            problem = path_problem(name)
            if problem is not None:
                raise ConfigError(f"--datasets {shown(name)}: {problem}: {expected_path()}")
            try:
                kind_of(Path(name)) if is_path(name) else get_spec(name)  # your own data: the path must exist
            except (ConfigError, DataError) as exc:  # the name quoted as given: a line break in it made two lines
                raise type(exc)(one_line(str(exc))) from None
        return dataclasses.replace(self, datasets=tuple(datasets))

    def with_settings(self, **settings) -> Study:
        """The same study with these settings (e.g. `aelab run --device cuda`) on every step that trains, over the
        file's own; checked as the file's settings are, when the cells are made."""
        steps = tuple(
            step
            if KINDS[step.kind].config is None
            else dataclasses.replace(
                step,
                settings=tuple((k, v) for k, v in step.settings if k not in settings)
                + tuple((k, (v,)) for k, v in settings.items()),
            )
            for step in self.steps
        )
        return dataclasses.replace(self, steps=steps)


def refusal(text: str, source: str, table: tuple, key: str | None, problem: str) -> ConfigError:
    """`study.toml:7: steps[1] code_size: 0: expected …`: the file, the line of `key` in `table` (() the top level,
    ("steps", i) the i-th step, ("ray",) the [ray] table; the table's header when key is None), the key, the problem —
    one line, cut in the middle if a quoted value would make it long (limits.one_line)."""
    where = f"steps[{table[1] + 1}] " if table and table[0] == "steps" else f"{table[0]}." if table else ""
    label = f"{where}{key}" if key is not None else where.strip(" .") or "study"
    return ConfigError(one_line(f"{source}:{key_line(text, table, key)}: {label}: {problem}"))


def setting_named(name: str, value) -> str:
    return f"{name} = {value!r}" if not isinstance(value, tuple) else f"{name} = {list(value)!r}"


def step_warning(step: str):
    """Say a setting a step's model does not use, once per step and setting however often its cells are made."""
    return lambda line: warnings.warn(f"step {step!r}: {line}", UserWarning, stacklevel=2)


def step_cells(step: StudyStep, datasets: tuple[str, ...]) -> list[Cell]:
    kind = KINDS[step.kind]
    if kind.config is None:
        return [Cell(step.name, step.kind, None, None)]
    grid = step.grid()
    cells = []
    for dataset in datasets if kind.per_dataset else (None,):
        for values in itertools.product(*(v for _, v in step.settings)):
            settings = dict(zip((k for k, _ in step.settings), values))
            extra = {"dataset": dataset} if kind.per_dataset else {}
            config = without_unused(kind.config(**extra, **settings), setting_named, step_warning(step.name))
            if kind.per_dataset:
                check_options_apply(config)  # own-data options only with a PATH; names the setting
            cells.append(Cell(step.name, step.kind, dataset, config, tuple((k, settings[k]) for k in grid)))
    return cells
