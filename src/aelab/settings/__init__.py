"""One declaration per setting — its range or choices, default and help — for every config that has it.

In the spirit of scikit-learn's `_parameter_constraints`: a `Setting` says once what values `code_size`
takes, and the config dataclasses (config.py) take their fields from it, so `aelab train`, a study file
and `aelab.Autoencoder` accept and refuse the same values. A refusal is a ConfigError that carries the
setting's name, the value and what was expected (errors.py), and each door names the setting its own
way: the CLI and Python as the option, `--code-size 0: expected a whole number ≥ 1`; a study file as
its key at its line, `study.toml:7: steps[1] code_size: 0: expected …`. Nothing parses the text back.

A renamed value still reads: the engine "fused" is now "compiled" (one word per idea); typed by a user
it is read with a DeprecationWarning, read from a saved config.json silently.

Here the `Setting` and its checks; the declarations in `training` (what trains a model: its family, sizes,
optimiser, objective, engine, placement and your own data's options) and `tasks` (a sweep's code sizes, the
one-class protocol, the probes, a run's figures).
"""

from __future__ import annotations

import dataclasses
import sys
import warnings
from collections.abc import Callable
from dataclasses import dataclass

from aelab.errors import ConfigError
from aelab.registries import lookup

COUNT = "a whole number ≥ 1"  # what most counts expect: sizes, epochs, seeds per size, neighbours


def option_flag(name: str) -> str:
    """How the CLI (and so the Python API's errors) spells setting `name`: code_size → --code-size."""
    return "--" + name.replace("_", "-")


def refuse(name: str, value: object, expected: str, detail: str = "") -> ConfigError:
    """The one-line error about setting `name`, `--code-size 0: expected a whole number ≥ 1`, with its parts
    (`detail` follows the value: ` with --model deep`; `expected` is said without the word)."""
    problem = f"{value!r}{detail}: expected {expected}"
    return ConfigError(f"{option_flag(name)} {problem}", setting=name, value=value, expected=expected, problem=problem)


def outside_aelab() -> int:
    """The `stacklevel` of the first caller outside aelab, so that a warning points at the user's own line."""
    frame, level = sys._getframe(1), 1
    while frame is not None and frame.f_globals.get("__name__", "").split(".")[0] == "aelab":
        frame, level = frame.f_back, level + 1
    return level


def whole(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def count_or_all(name: str, expected: str) -> Callable[[str], int | str]:
    """The command line's reading of a count that may also be "all" (every sample: the config's None)."""

    def parse(text: str) -> int | str:
        if text.strip().lower() == "all":
            return "all"
        try:
            return int(text)
        except ValueError:
            raise refuse(name, text, expected) from None

    return parse


def wholes(low: int) -> Callable[[object], bool]:
    """A test of whole numbers ≥ `low`."""
    return lambda value: whole(value) and value >= low


def ascending(low: int) -> Callable[[object], bool]:
    """A test of a non-empty tuple of distinct whole numbers ≥ `low` in increasing order."""
    return lambda value: (
        isinstance(value, tuple)
        and bool(value)
        and all(whole(v) and v >= low for v in value)
        and list(value) == sorted(set(value))
    )


@dataclass(frozen=True)
class Setting:
    """One setting of the configs: what values it takes, its default and its CLI help.

    `accepts` tests a value (None: any value of `choices`, or anything when there are none) and
    `expected` says in words what it accepts (default: "one of " the choices). `optional`: None is
    also accepted, meaning "not given" (a default resolved later, tasks/recipe.py); `none_word` ("all") is a
    word for it that a person can type. `suggest`: a word
    not among the choices gets a close-match suggestion. `renamed`: old spellings → current ones.
    `parse`: the CLI's converter where the field's annotation is not enough.
    """

    name: str
    default: object
    help: str
    expected: str | None = None
    accepts: Callable[[object], bool] | None = None
    choices: tuple | None = None
    optional: bool = False
    suggest: bool = False
    renamed: tuple[tuple[str, str], ...] = ()
    parse: Callable[[str], object] | None = None
    none_word: str | None = None

    def what(self) -> str:
        """What a good value is, in words: "a whole number ≥ 1", "one of compiled, autograd"."""
        return self.expected if self.expected is not None else f"one of {', '.join(map(str, self.choices or ()))}"

    def check(self, value: object) -> None:
        """Refuse a value out of range (a ConfigError naming this setting)."""
        if value is None and self.optional:
            return
        if self.suggest and isinstance(value, str):
            try:
                lookup(value, dict.fromkeys(self.choices), self.name)  # a typo gets a close-match suggestion
            except ConfigError as exc:
                raise ConfigError(str(exc), setting=self.name, value=value, expected=self.what()) from None
        accepted = self.accepts(value) if self.accepts is not None else self.choices is None or value in self.choices
        if not accepted:
            raise refuse(self.name, value, self.what())

    def current(self, value: object, warn: bool = True) -> object:
        """`value`, an old spelling replaced by today's (typed by a user, `warn`, it says so once); the word for None
        ("all") replaced by None."""
        if self.none_word is not None and isinstance(value, str) and value.strip().lower() == self.none_word:
            return None
        for old, new in self.renamed:
            if isinstance(value, str) and value == old:
                if warn:
                    warnings.warn(
                        f"{self.name} '{old}' is now called '{new}'", DeprecationWarning, stacklevel=outside_aelab()
                    )
                return new
        return value

    def field(self, **changes) -> dataclasses.Field:
        """A config's dataclass field of this setting; `changes`: that config's own default, help or choices."""
        setting = dataclasses.replace(self, **changes) if changes else self
        return dataclasses.field(
            default=setting.default,
            metadata={
                "setting": setting,
                "help": setting.help,
                "choices": setting.choices,
                "parse": setting.parse,
            },
        )


def check_fields(config) -> None:
    """Every field's own check, in field order, after an old spelling is replaced by today's (with a warning).

    The replacement is written while the config is being made (its `__post_init__`), the one moment a frozen
    config may change; after that nothing writes into it.
    """
    for f in dataclasses.fields(config):
        setting = f.metadata.get("setting")
        if setting is None:
            continue
        value = setting.current(getattr(config, f.name))
        if value is not getattr(config, f.name):
            object.__setattr__(config, f.name, value)
        setting.check(value)
