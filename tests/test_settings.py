"""One declaration per setting (aelab/settings.py) feeds every door: the CLI, a study file and the Python API
refuse the same value, each naming the setting its own way; and the engine is "compiled" everywhere, its old
name "fused" still read — with a deprecation warning where a user typed it, silently from a saved config.json."""

from __future__ import annotations

import dataclasses
import pickle
import re
import warnings

import pytest

import aelab
from aelab import settings
from aelab.cli import build_parser, main
from aelab.config import (
    AnomalyConfig,
    FigureConfig,
    ProbeConfig,
    SweepConfig,
    TrainConfig,
    current_json,
    from_arguments,
)
from aelab.errors import ConfigError
from aelab.settings import tasks, training
from aelab.studies import parse_study
from aelab.train.engines import make_step

CONFIGS = (TrainConfig, SweepConfig, AnomalyConfig, ProbeConfig, FigureConfig)
RENAMED = "engine 'fused' is now called 'compiled'"

# (setting, the value from Python and TOML, as typed on the command line, what was expected)
BAD = [
    ("code_size", 0, "0", "a whole number ≥ 1"),
    ("batch_size", -3, "-3", "a whole number ≥ 1"),
    ("learning_rate", 20.0, "20.0", "a number in (0, 10)"),
    ("seed", -1, "-1", "a whole number ≥ 0"),
    ("hidden_sizes", (0,), "0", "one or more whole numbers ≥ 1"),
    ("engine", "turbo", "turbo", "one of compiled, autograd"),
]


def study_text(key: str, value) -> str:
    toml = (
        f"[{', '.join(map(str, value))}]"
        if isinstance(value, tuple)
        else f'"{value}"'
        if isinstance(value, str)
        else value
    )
    return f'title = "t"\ndatasets = ["fashion-mnist"]\n\n[[steps]]\nname = "a"\nkind = "train"\n{key} = {toml}\n'


@pytest.mark.parametrize("key, value, typed, expected", BAD)
def test_one_declaration_refuses_a_value_at_every_door_in_its_own_words(tmp_path, capsys, key, value, typed, expected):
    problem = f"{value!r}: expected {expected}"
    assert main(["train", f"--{key.replace('_', '-')}", typed, "--out", str(tmp_path / "run")]) == ConfigError.exit_code
    assert capsys.readouterr().err == f"aelab: error: --{key.replace('_', '-')} {problem}\n"
    assert not (tmp_path / "run").exists()

    text = study_text(key, value)
    with pytest.raises(ConfigError) as in_file:
        parse_study(text, "s.toml")
    line = text.splitlines().index(next(row for row in text.splitlines() if row.startswith(f"{key} = "))) + 1
    assert str(in_file.value) == f"s.toml:{line}: steps[1] {key}: {problem}"

    with pytest.raises(ConfigError) as in_python:
        aelab.Autoencoder(**{key: value})
    error = in_python.value
    assert str(error) == f"--{key.replace('_', '-')} {problem}"
    assert (error.setting, error.value, error.expected, error.problem) == (key, value, expected, problem)


DECLARED = {v.name: v for module in (training, tasks) for v in vars(module).values() if isinstance(v, settings.Setting)}
OWN = ("default", "help", "choices", "optional", "suggest")  # what a config may say for itself (a sweep's two models)


def test_every_config_field_is_the_one_declaration_of_its_setting():
    for config in CONFIGS:
        for field in dataclasses.fields(config):
            setting = field.metadata["setting"]
            declared = DECLARED[field.name]
            assert dataclasses.replace(setting, **{k: getattr(declared, k) for k in OWN}) == declared, field.name
            assert field.default == setting.default and field.metadata["help"] == setting.help


def test_a_setting_shared_by_configs_is_refused_alike_by_each():
    for config in (TrainConfig, SweepConfig, AnomalyConfig):
        for key, value, expected in [
            ("learning_rate", 0.0, "a number in (0, 10)"),
            ("batch_size", 0, "a whole number ≥ 1"),
            ("engine", "jit", "one of compiled, autograd"),
            ("scale", "log", "one of none, minmax, standard"),
        ]:
            with pytest.raises(ConfigError) as caught:
                config(**{key: value})
            assert (caught.value.setting, caught.value.expected) == (key, expected), config.__name__


def test_a_refusal_keeps_its_parts_across_pickling():  # a study cell's error comes back from a Ray worker pickled
    error = settings.refuse("code_size", 0, "a whole number ≥ 1")
    back = pickle.loads(pickle.dumps(error))
    assert type(back) is ConfigError and str(back) == str(error) == "--code-size 0: expected a whole number ≥ 1"
    assert (back.setting, back.value, back.expected, back.problem) == (
        "code_size",
        0,
        "a whole number ≥ 1",
        "0: expected a whole number ≥ 1",
    )


# --- the engine is "compiled" --------------------------------------------------------------------------------------


@pytest.mark.parametrize("command", ["train", "sweep", "anomaly"])
def test_the_engine_is_compiled_by_default_and_in_the_help(capsys, command):
    assert TrainConfig().engine == SweepConfig().engine == AnomalyConfig().engine == "compiled"
    with pytest.raises(SystemExit):
        main([command, "--help"])
    help_text = capsys.readouterr().out
    assert "--engine {compiled,autograd}" in help_text and not re.search(r"\bfused\b", help_text)


@pytest.mark.parametrize("config", [TrainConfig, SweepConfig, AnomalyConfig])
def test_fused_typed_in_python_is_read_as_compiled_with_one_warning(config):
    with pytest.warns(DeprecationWarning, match=RENAMED) as caught:
        made = config(engine="fused")
    assert len(caught) == 1 and made.engine == "compiled" and made == config()


def test_fused_on_the_command_line_is_read_as_compiled_with_one_warning():
    with pytest.warns(DeprecationWarning, match=RENAMED) as caught:
        config = from_arguments(TrainConfig, build_parser().parse_args(["train", "--engine", "fused"]))
    assert len(caught) == 1 and config == TrainConfig()


def test_fused_in_a_study_file_is_read_as_compiled_with_one_warning():
    text = study_text("engine", "fused") + "code_size = [4, 8, 16]\n"
    with pytest.warns(DeprecationWarning, match=RENAMED) as caught:
        cells = parse_study(text, "s.toml").cells()
    assert len(caught) == 1 and [c.config.engine for c in cells] == ["compiled"] * 3
    with (
        pytest.raises(ConfigError, match=r"s\.toml:7: steps\[1\] engine: .*a value is given twice"),
        pytest.warns(DeprecationWarning, match=RENAMED),
    ):
        parse_study(study_text("engine", "fused").replace('"fused"', '["fused", "compiled"]'), "s.toml")


def test_fused_in_the_python_api_is_held_as_compiled_with_one_warning():
    with pytest.warns(DeprecationWarning, match=RENAMED) as caught:
        estimator = aelab.Autoencoder(engine="fused")
    assert len(caught) == 1 and estimator.get_params()["engine"] == "compiled"
    with warnings.catch_warnings():  # it holds today's name: checking its settings again says nothing more
        warnings.simplefilter("error")
        estimator.set_params(code_size=8)


def test_make_step_reads_fused_as_compiled():
    from aelab.models.dense import DenseAutoencoder
    from aelab.objectives import ReconstructionObjective

    with pytest.warns(DeprecationWarning, match=RENAMED):
        old = make_step("fused", DenseAutoencoder(8, 2), ReconstructionObjective(), 1e-3, threads=1)
    new = make_step("compiled", DenseAutoencoder(8, 2), ReconstructionObjective(), 1e-3, threads=1)
    assert type(old) is type(new) and old.describe()["engine"] == new.describe()["engine"]


@pytest.mark.parametrize("config", [TrainConfig, SweepConfig, AnomalyConfig])
def test_a_config_json_saved_with_fused_reads_back_equal_and_silently(config):
    saved = {**config().to_json(), "engine": "fused"}  # as runs saved before the rename hold it
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        read = config.from_json(saved)
    assert read == config() and read.engine == "compiled"
    assert config.from_json(read.to_json()) == read


def test_a_saved_config_compares_through_current_json_as_the_same_configuration():
    """What a study's done-check and a checkpoint's config check compare (studies/plan.py, train/checkpoint.py)."""
    for config in (TrainConfig, SweepConfig, AnomalyConfig):
        assert current_json({**config().to_json(), "engine": "fused"}) == config().to_json()
    assert {s.name for s in DECLARED.values() if s.renamed} == {s.name for s in training.RENAMED_SETTINGS}
