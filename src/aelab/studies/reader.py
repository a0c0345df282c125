"""A study file (TOML) → a checked `Study`, or one line saying what is wrong and where.

Everything is checked before anything runs — unknown keys, types, empty grids, model and data-set
names, and every cell's config through its dataclass — and the first problem is raised as one
ConfigError line `file:line: key …: expected …`, with a close-match suggestion where a name is
misspelt. A config's refusal carries the setting it is about (errors.ConfigError), named here by its
TOML key. (A setting that is itself a list, like `hidden_sizes`, is a grid when given as a list of
lists; a study-level `seeds` list is a grid on `seed` for every train step that sets none.) The file is held to
the limits of studies/limits.py — nesting, 64-bit whole numbers, cells per study — before anything else reads it.
"""

from __future__ import annotations

import dataclasses
import difflib
import re
import sys
from importlib import resources
from pathlib import Path

from aelab.data.custom.paths import folder_label, is_path, kind_of
from aelab.data.registry import REGISTRY, get_spec
from aelab.errors import AelabError, ConfigError, DataError
from aelab.models.registry import get_family
from aelab.studies.cluster import RAY_KEYS, RaySettings
from aelab.studies.kinds import KINDS, get_kind
from aelab.studies.limits import (
    MAX_NESTING,
    cells_problem,
    expected_path,
    one_line,
    path_problem,
    shown,
    text_nesting,
    value_problem,
)
from aelab.studies.study import Study, StudyStep, refusal, step_cells

if sys.version_info >= (3, 11):
    import tomllib
else:  # Python 3.10: the same parser, from PyPI (a dependency there)
    import tomli as tomllib

TOP_KEYS = ("title", "description", "datasets", "seeds", "steps", "ray")
STEP_KEYS = ("name", "kind")
STEP_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")  # a folder name on every system
EXPECTED = {
    "bool": "true or false",
    "int": "a whole number",
    "float": "a number",
    "str": "a text string",
    "tuple": "a list of whole numbers",
}


def shipped_studies() -> dict[str, resources.abc.Traversable]:
    """The studies inside the package (classic.toml, …) by name."""
    folder = resources.files("aelab.studies")
    return {entry.name.removesuffix(".toml"): entry for entry in folder.iterdir() if entry.name.endswith(".toml")}


def load_study(source: str | Path) -> Study:
    """A study from a file path, or by name from the studies shipped inside aelab (e.g. "classic")."""
    problem = path_problem(source)
    if problem is not None:
        raise ConfigError(f"{shown(str(source))}: {problem}: expected a TOML study file ({expected_path()})")
    path = Path(source)
    if path.is_file():
        try:
            text = path.read_bytes().decode("utf-8")
        except UnicodeDecodeError:
            raise ConfigError(f"{path}:1: not UTF-8 text: expected a TOML study file") from None
        except OSError as exc:
            raise ConfigError(f"{path}: cannot be read ({exc.strerror}): expected a readable TOML study file") from None
        return parse_study(text, str(path), path.stem)
    shipped = shipped_studies()
    if str(source) in shipped:
        return parse_study(
            shipped[str(source)].read_text(encoding="utf-8"), f"aelab/studies/{source}.toml", str(source)
        )
    if path.suffix == ".toml" or len(path.parts) > 1:
        raise ConfigError(
            f"{path}: study file not found: expected a TOML file or one of the shipped studies "
            f"({', '.join(sorted(shipped))})"
        )
    close = difflib.get_close_matches(str(source), list(shipped), n=1)
    hint = f" (did you mean '{close[0]}'?)" if close else ""
    raise ConfigError(f"unknown study '{source}'{hint}: expected a .toml file or one of {', '.join(sorted(shipped))}")


def parse_study(text: str, source: str, name: str = "study") -> Study:
    """Parse and check a study's TOML text; `source` names the file in error messages."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        message = str(exc)
        where = re.search(r"\(at line (\d+), column \d+\)", message)
        line = where.group(1) if where else len(text.splitlines()) or 1
        reason = re.sub(r"\s*\(at (line \d+, column \d+|end of document)\)", "", message)
        raise ConfigError(one_line(f"{source}:{line}: TOML syntax error: {reason}: expected valid TOML")) from None
    except RecursionError:  # the TOML reader recurses once per level: say how deep, and where, in one line
        depth, line = text_nesting(text)
        raise ConfigError(
            one_line(f"{source}:{line}: nested {depth:,} levels deep: expected at most {MAX_NESTING}")
        ) from None
    reader = StudyReader(text, source)
    beyond = value_problem(data)  # before any check quotes a value: repr and json recurse too
    if beyond is not None:
        raise reader.fail(*beyond)
    return reader.study(data, name)


class StudyReader:
    """Checks a parsed study, raising errors that point into the text it came from."""

    def __init__(self, text: str, source: str):
        self.text, self.source = text, source

    def fail(self, table: tuple, key: str | None, message: str) -> ConfigError:
        return refusal(self.text, self.source, table, key, message)

    def unknown(self, table: tuple, key: str, known: list[str], what: str) -> ConfigError:
        close = difflib.get_close_matches(key, known, n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        return self.fail(table, key, f"unknown {what}{hint}: expected one of {', '.join(known)}")

    def study(self, data: dict, name: str) -> Study:
        for key in data:
            if key not in TOP_KEYS:
                raise self.unknown((), key, list(TOP_KEYS), "study key")
        title = self.text_value((), "title", data.get("title", name))
        description = self.text_value((), "description", data.get("description", ""))
        datasets = self.datasets(data.get("datasets"))
        seeds = self.seeds(data.get("seeds"))
        steps = data.get("steps")
        if not isinstance(steps, list) or not steps or not all(isinstance(s, dict) for s in steps):
            raise self.fail((), "steps", "missing or not tables: expected one or more [[steps]] tables")
        parsed = [self.step(i, raw, seeds) for i, raw in enumerate(steps)]
        self.check_names(parsed, datasets)
        study = Study(
            name, title, description, datasets, tuple(parsed), self.source, self.ray(data.get("ray")), self.text
        )
        too_many = cells_problem(parsed, datasets)  # before a million cells are made one by one
        if too_many is not None:
            raise self.fail(*too_many)
        for i, step in enumerate(parsed):
            self.check_cells(i, step, datasets)
        return study

    def ray(self, value) -> RaySettings | None:
        """The [ray] table (where the cells run and what each asks for), or None when there is none."""
        if value is None:
            return None
        if not isinstance(value, dict):
            raise self.fail((), "ray", f"{shown(value)}: expected a table, e.g. [ray] with address = \"auto\"")
        for key in value:
            if key not in RAY_KEYS:
                raise self.unknown(("ray",), key, list(RAY_KEYS), "[ray] key")
        try:
            return RaySettings(**value)
        except ConfigError as exc:
            raise self.fail(("ray",), exc.setting, exc.problem) from None

    def text_value(self, table: tuple, key: str, value) -> str:
        if not isinstance(value, str):
            raise self.fail(table, key, f"{shown(value)}: expected a text string")
        return value

    def datasets(self, value) -> tuple[str, ...]:
        if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
            raise self.fail(
                (), "datasets", f"{shown(value)}: expected a non-empty list of data set names, e.g. [\"fashion-mnist\"]"
            )
        for dataset in value:  # before the file system is asked about it
            problem = path_problem(dataset)
            if problem is not None:
                raise self.fail((), "datasets", f"{shown(dataset)}: {problem}: {expected_path()}")
        value = [self.own_data_path(dataset) if self.names_own_data(dataset) else dataset for dataset in value]
        for dataset in value:
            try:
                kind_of(Path(dataset)) if is_path(dataset) else get_spec(dataset)
            except (ConfigError, DataError) as exc:
                raise self.fail((), "datasets", str(exc)) from None
        if len(set(value)) != len(value):
            raise self.fail((), "datasets", f"{shown(value)}: a data set is named twice: expected each at most once")
        if len({folder_label(d) for d in value}) != len(value):
            raise self.fail(
                (),
                "datasets",
                f"{shown(value)}: two paths end in the same name (their run folders would be "
                "the same): expected different last parts",
            )
        return tuple(value)

    def names_own_data(self, dataset: str) -> bool:
        """A path (data.custom.paths.is_path), or a bare name that is no built-in data set but exists beside the
        study file."""
        here = Path(self.source).parent if Path(self.source).is_file() else None
        return is_path(dataset) or (dataset not in REGISTRY and here is not None and (here / dataset).exists())

    def own_data_path(self, dataset: str) -> str:
        """Your own data's path, relative to the study file's folder unless absolute."""
        path = Path(dataset).expanduser()
        return str(
            path
            if path.is_absolute() or not Path(self.source).is_file()
            else (Path(self.source).parent / path).resolve()
        )

    def seeds(self, value) -> tuple[int, ...] | None:
        if value is None:
            return None
        if (
            not isinstance(value, list)
            or not value
            or not all(whole(v) and v >= 0 for v in value)
            or len(set(value)) != len(value)
        ):
            raise self.fail((), "seeds", f"{shown(value)}: expected a non-empty list of distinct whole numbers ≥ 0")
        return tuple(value)

    def step(self, i: int, raw: dict, seeds: tuple[int, ...] | None) -> StudyStep:
        table = ("steps", i)
        for key in STEP_KEYS:
            if key not in raw:
                raise self.fail(table, None, f"no '{key}': expected every step to have a name and a kind")
        name = self.text_value(table, "name", raw["name"])
        if not STEP_NAME.match(name):
            raise self.fail(table, "name", f"{shown(name)}: expected a folder name (letters, digits, '_', '-', '.')")
        kind_name = self.text_value(table, "kind", raw["kind"])
        try:
            kind = get_kind(kind_name)
        except ConfigError as exc:
            raise self.fail(table, "kind", str(exc)) from None
        fields = kind.settings()
        settings = []
        for key, value in raw.items():
            if key in STEP_KEYS:
                continue
            if key not in fields:
                known = list(fields) or ["(none: this kind takes no settings)"]
                raise self.unknown(table, key, known, f"setting of a {kind_name} step")
            settings.append((key, self.values(table, key, value, fields[key])))
        if seeds is not None and kind_name == "train" and "seed" not in raw:
            settings.append(("seed", seeds))
        return StudyStep(name, kind_name, tuple(settings))

    def values(self, table: tuple, key: str, value, field: dataclasses.Field) -> tuple:
        """The setting's values: one, or a grid's (a list; a list of lists for a list-valued setting)."""
        annotation = str(field.type)
        base = annotation.split("|")[0].strip().split("[")[0]
        is_list_field = base == "tuple"
        grid = isinstance(value, list) and (not is_list_field or (value and all(isinstance(v, list) for v in value)))
        if isinstance(value, list) and not value and not is_list_field:
            raise self.fail(table, key, "empty list: expected one value, or a grid of one or more values")
        values = value if grid else [value]
        setting = field.metadata.get("setting")
        # a renamed value (engine "fused") as today's, with a deprecation warning; "all" as None
        if setting is not None:
            values = [setting.current(v) for v in values]
        for v in values:
            if v is None and setting is not None and setting.optional:
                continue
            if not type_fits(v, base):
                raise self.fail(
                    table,
                    key,
                    f"{shown(v)}: expected {EXPECTED[base]}" + (" (or a list of them, a grid)" if not grid else ""),
                )
        if is_list_field:
            values = [tuple(v) for v in values]
        if len(set(map(repr, values))) != len(values):
            raise self.fail(
                table, key, f"{shown(value)}: a value is given twice: expected each grid value at most once"
            )
        if key == "model":
            for v in values:
                try:
                    get_family(v)
                except ConfigError as exc:
                    raise self.fail(table, key, str(exc)) from None
        return tuple(values)

    def check_names(self, steps: list[StudyStep], datasets: tuple[str, ...]) -> None:
        seen: set[str] = set()
        for i, step in enumerate(steps):
            if step.name in seen:
                raise self.fail(
                    ("steps", i), "name", f"{shown(step.name)} is used twice: expected a distinct name per step"
                )
            if not KINDS[step.kind].per_dataset and step.name in datasets:
                raise self.fail(
                    ("steps", i), "name", f"{shown(step.name)} is a data set's folder: expected another name"
                )
            seen.add(step.name)

    def check_cells(self, i: int, step: StudyStep, datasets: tuple[str, ...]) -> None:
        """Build every cell's config, so that a value its dataclass refuses is reported here, at its line."""
        try:
            step_cells(step, datasets)
        except ConfigError as exc:  # named by its TOML key, at the key's line when the step sets it
            if exc.setting in dict(step.settings):
                raise self.fail(("steps", i), exc.setting, exc.problem) from None
            message = str(exc) if exc.setting is None else f"{exc.setting} {exc.problem}"
            raise self.fail(("steps", i), None, message) from None
        except (TypeError, AelabError) as exc:
            raise self.fail(("steps", i), None, f"{exc}: expected settings its config accepts") from None


def whole(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def type_fits(value, base: str) -> bool:
    """Whether a TOML value has the type of a config field (its annotation's base: int, float, str, bool, tuple)."""
    if base == "bool":
        return isinstance(value, bool)
    if base == "int":
        return whole(value)
    if base == "float":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if base == "str":
        return isinstance(value, str)
    if base == "tuple":
        return isinstance(value, (list, tuple)) and all(whole(v) for v in value)
    return False
