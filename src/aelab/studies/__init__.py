"""Studies: TOML files of data sets × steps (with grids), checked into cells before anything runs.

`study.py` reads and checks a file, `kinds.py` is the registry of step kinds, `toml_lines.py`
finds a key's line for the error messages. The shipped studies (classic.toml) live beside them;
`experiments/study_plan.py` turns cells into run folders and `experiments/reproduce.py` runs them.
"""

from aelab.studies.study import Cell, Study, StudyStep, load_study, parse_study, shipped_studies

__all__ = ["Cell", "Study", "StudyStep", "load_study", "parse_study", "shipped_studies"]
