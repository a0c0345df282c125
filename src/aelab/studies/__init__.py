"""Studies: TOML files of data sets × steps (with grids), checked into cells before anything runs.

`reader.py` reads and checks a file into a `Study` (study.py: the study and its cells), `kinds.py`
is the registry of step kinds, `toml_lines.py` finds a key's line for the error messages, `limits.py`
holds the limits a file is held to (nesting, cells per study, folder names). The shipped studies
(classic.toml) live beside them. Then, higher in the import order (they run tasks): `plan.py` turns
cells into planned runs (run folders), `preflight.py` (with `fits.py`) checks them before anything is
written — for the run and its dry run alike — `runner.py` runs them on local worker threads and
`on_ray.py` on a Ray cluster, each through `execute.py` (how each kind runs). Importing this package
imports only the first group.
"""

from aelab.studies.reader import load_study, parse_study, shipped_studies
from aelab.studies.study import Cell, Study, StudyStep

__all__ = ["Cell", "Study", "StudyStep", "load_study", "parse_study", "shipped_studies"]
