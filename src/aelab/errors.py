"""One exception family for everything aelab refuses.

Every error is raised with a single line that names the thing at fault and what was expected, so
the CLI can print it as is and map its kind to an exit code. Code catches these only to add
context, never to hide them.
"""

from __future__ import annotations


class AelabError(Exception):
    """Base of every error aelab raises on purpose; `exit_code` is what the CLI returns."""

    exit_code = 1


class ConfigError(AelabError, ValueError):
    """An option or configuration value is out of range or of the wrong kind.

    One about a single setting also carries it as data, made by settings.refuse: `setting` (its name,
    "code_size"), `value`, `expected` ("a whole number ≥ 1") and `problem` (the line less the setting's
    name: "0: expected a whole number ≥ 1"), so that each door names the setting its own way — the CLI
    and the Python API print the text, `--code-size 0: …`; a study file its key at its line,
    `study.toml:7: steps[1] code_size: 0: …` — and nothing parses the text back. Otherwise `setting`
    is None and `problem` the whole line.
    """

    exit_code = 2

    def __init__(
        self,
        message: str,
        setting: str | None = None,
        value: object = None,
        expected: str | None = None,
        problem: str | None = None,
    ):
        super().__init__(message)
        self.setting, self.value, self.expected = setting, value, expected
        self.problem = message if problem is None else problem

    def __reduce__(self):  # the parts survive pickling: a study cell's error comes back from a Ray worker pickled
        return type(self), (str(self), self.setting, self.value, self.expected, self.problem)


class DataError(AelabError):
    """A data file is missing, malformed, truncated or fails its digest."""

    exit_code = 3


class DatasetNotFoundError(DataError):
    """No copy of a data set was found anywhere aelab looks, and none could be downloaded."""

    exit_code = 4


class CheckpointError(AelabError):
    """A run folder or checkpoint is missing, corrupt, or does not match the model asked for."""

    exit_code = 5


class OutputError(AelabError):
    """The output location cannot be written (a file in the way, no permission, disk full)."""

    exit_code = 6


class TrainingError(AelabError):
    """Training diverged (non-finite loss or gradients) or could not go on."""

    exit_code = 7


class InputError(DataError, ValueError):
    """An array handed to the Python API has the wrong shape, dtype or values (NaN, inf, outside [0, 1])."""


class EngineError(AelabError):
    """A compiled step was asked to compute what it does not (another model or objective), or its
    compiled library is not what the package built."""

    exit_code = 8


class ClusterError(AelabError):
    """A Ray cluster could not be reached, or a cell failed on it (`aelab run --ray`)."""

    exit_code = 9
