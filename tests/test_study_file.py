"""Study files: the TOML parser and its checks — grids expand to every combination, and every bad file
is one line naming file:line, the key and what was expected (property-tested with hypothesis)."""

from __future__ import annotations

import dataclasses
import itertools
import json
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aelab.config import SweepConfig, TrainConfig
from aelab.errors import ConfigError
from aelab.models.registry import MODELS
from aelab.studies import load_study, parse_study
from aelab.studies.kinds import KINDS
from aelab.studies.toml_lines import key_line

HEAD = 'title = "t"\ndatasets = ["fashion-mnist"]\n'


def toml_value(value) -> str:
    """A TOML literal: JSON's spelling of strings, numbers, booleans and arrays is valid TOML."""
    return json.dumps(value)


def study_text(steps: list[dict], head: str = HEAD) -> str:
    lines = [head]
    for step in steps:
        lines.append("[[steps]]")
        lines += [f"{key} = {toml_value(value)}" for key, value in step.items()]
        lines.append("")
    return "\n".join(lines)


def error(text: str) -> str:
    with pytest.raises(ConfigError) as caught:
        parse_study(text, "s.toml")
    message = str(caught.value)
    assert "\n" not in message
    return message


def test_the_classic_study_ships_inside_the_package():
    study = load_study("classic")
    assert study.name == "classic" and study.datasets == ("mnist", "fashion-mnist")
    assert [(s.name, s.kind) for s in study.steps] == [
        ("gradients", "gradcheck"),
        ("shallow", "train"),
        ("deep", "train"),
        ("denoising", "train"),
        ("sparse", "train"),
        ("sweep", "sweep"),
    ]
    cells = study.cells()
    assert len(cells) == 1 + 5 * 2 and all(not c.varying for c in cells)
    assert next(c for c in cells if c.step == "denoising").config == TrainConfig(
        model="denoising", dataset="mnist", fixed_noise=True
    )
    assert cells[-1].config == SweepConfig(dataset="fashion-mnist")


def test_an_unknown_shipped_study_gets_a_suggestion():
    with pytest.raises(ConfigError, match=r"unknown study 'clasic' \(did you mean 'classic'\?\)"):
        load_study("clasic")
    with pytest.raises(ConfigError, match=r"nope\.toml: study file not found"):
        load_study("nope.toml")


def test_a_grid_is_every_combination_in_the_files_order():
    text = study_text(
        [{"name": "g", "kind": "train", "model": ["shallow", "deep"], "code_size": [4, 8, 16], "epochs": 2}],
        head=HEAD.replace('["fashion-mnist"]', '["fashion-mnist", "mnist"]') + "seeds = [3, 4]\n",
    )
    cells = parse_study(text, "s.toml").cells()
    assert len(cells) == 2 * 2 * 3 * 2
    assert [dict(c.varying) for c in cells[:3]] == [
        {"model": "shallow", "code_size": 4, "seed": 3},
        {"model": "shallow", "code_size": 4, "seed": 4},
        {"model": "shallow", "code_size": 8, "seed": 3},
    ]
    assert {c.dataset for c in cells[:12]} == {"fashion-mnist"} and all(c.config.epochs == 2 for c in cells)


def test_all_is_every_sample_in_a_study_too():
    from aelab.studies.plan import label

    text = study_text([{"name": "g", "kind": "train", "train_size": ["all", 1000], "test_size": "all"}])
    cells = parse_study(text, "s.toml").cells()
    assert [(c.config.train_size, c.config.test_size) for c in cells] == [(None, None), (1000, None)]
    assert [label(c.varying) for c in cells] == ["train_size=all", "train_size=1000"]  # the folders' names


def test_a_list_setting_is_one_value_and_a_list_of_lists_a_grid():
    one = parse_study(
        study_text([{"name": "a", "kind": "train", "model": "deep", "hidden_sizes": [256, 64]}]), "s.toml"
    )
    assert [c.config.hidden_sizes for c in one.cells()] == [(256, 64)]
    grid = parse_study(
        study_text([{"name": "a", "kind": "train", "model": "deep", "hidden_sizes": [[256, 64], [32]]}]), "s.toml"
    )
    assert [c.config.hidden_sizes for c in grid.cells()] == [(256, 64), (32,)]
    sweep = parse_study(
        study_text([{"name": "s", "kind": "sweep", "code_sizes": [[4, 8], [16, 32]], "seeds": 2}]), "s.toml"
    )
    assert [c.config.code_sizes for c in sweep.cells()] == [(4, 8), (16, 32)]


BAD = [  # (the step's settings or None for a raw text, the key named, the line, what the message must say)
    (
        {"code_sze": 8},
        "code_sze",
        7,
        r"unknown setting of a train step \(did you mean 'code_size'\?\): expected one of",
    ),
    ({"epochs": "three"}, "epochs", 7, r"'three': expected a whole number"),
    ({"code_size": []}, "code_size", 7, r"empty list: expected one value, or a grid"),
    ({"model": ["shallow", "deap"]}, "model", 7, r"unknown model 'deap' \(did you mean 'deep'\?\)"),
    ({"code_size": [8, 0]}, "code_size", 7, r"0: expected a whole number ≥ 1"),
    ({"code_size": [8, 8]}, "code_size", 7, r"a value is given twice"),
    ({"learning_rate": -1}, "learning_rate", 7, r"expected a number in \(0, 10\)"),
    ({"fixed_noise": "yes"}, "fixed_noise", 7, r"expected true or false"),
    ({"hidden_sizes": [[128], []]}, "hidden_sizes", 7, r"expected one or more whole numbers"),
]


@pytest.mark.parametrize("settings_, key, line, expected", BAD)
def test_a_bad_setting_names_file_line_key_and_what_was_expected(settings_, key, line, expected):
    message = error(study_text([{"name": "a", "kind": "train", **settings_}]))
    assert message.startswith(f"s.toml:{line}: steps[1] {key}: "), message
    assert re.search(expected, message), message


@pytest.mark.parametrize(
    "text, start, expected",
    [
        (HEAD + "[[steps]]\nname = \"a\"\nkind = \"trian\"\n", "s.toml:5: steps[1] kind: ", r"did you mean 'train'"),
        (
            HEAD + "[[steps]]\nname = \"a\"\nkind = \"train\"\nepochs = \n",
            "s.toml:6: TOML syntax error",
            r"expected valid TOML",
        ),
        (
            'datasets = ["fashion-mnst"]\n[[steps]]\nname = "a"\nkind = "train"\n',
            "s.toml:1: datasets: ",
            r"did you mean 'fashion-mnist'",
        ),
        (
            'dataset = ["mnist"]\n[[steps]]\nname = "a"\nkind = "train"\n',
            "s.toml:1: dataset: ",
            r"did you mean 'datasets'",
        ),
        (
            HEAD + "[[steps]]\nname = \"a\"\nkind = \"gradcheck\"\nseed = 1\n",
            "s.toml:6: steps[1] seed: ",
            r"takes no settings",
        ),
        (
            HEAD + "[[steps]]\nname = \"a\"\nkind = \"train\"\n[[steps]]\nname = \"a\"\nkind = \"sweep\"\n",
            "s.toml:7: steps[2] name: ",
            r"used twice",
        ),
        (
            HEAD + "[[steps]]\nname = \"../x\"\nkind = \"train\"\n",
            "s.toml:4: steps[1] name: ",
            r"expected a folder name",
        ),
        (HEAD + "[[steps]]\nkind = \"train\"\n", "s.toml:3: steps[1]: ", r"no 'name'"),
        (HEAD, "s.toml:1: steps: ", r"expected one or more \[\[steps\]\] tables"),
        (
            HEAD + "[[steps]]\nname = \"s\"\nkind = \"sweep\"\nmodel = \"sparse\"\n",
            "s.toml:6: steps[1] model: ",
            r"expected one of shallow, deep",
        ),
    ],
)
def test_a_bad_study_file_is_one_line_at_its_place(text, start, expected):
    message = error(text)
    assert message.startswith(start), message
    assert re.search(expected, message), message


# ------------------------------------------------------------------------------------------ properties

TRAIN_VALUES = {  # setting → a strategy for one valid value
    "model": st.sampled_from(sorted(MODELS)),
    "code_size": st.integers(1, 64),
    "epochs": st.integers(1, 5),
    "batch_size": st.integers(1, 64),
    "learning_rate": st.floats(1e-5, 1.0, allow_nan=False),
    "seed": st.integers(0, 1000),
    "noise_factor": st.floats(0.0, 1.0, allow_nan=False),
    "hidden_sizes": st.lists(st.integers(1, 64), min_size=1, max_size=3),
    "fixed_noise": st.booleans(),
    "noise": st.sampled_from(["gaussian", "masking", "salt-pepper"]),
}


@st.composite
def train_steps(draw):
    """A step with a random choice of settings, each one value or a grid of 1–3 distinct values."""
    keys = draw(st.lists(st.sampled_from(sorted(TRAIN_VALUES)), unique=True, max_size=4))
    step = {}
    for key in keys:
        if draw(st.booleans()):
            step[key] = draw(st.lists(TRAIN_VALUES[key], min_size=1, max_size=3, unique_by=repr))
        else:
            step[key] = draw(TRAIN_VALUES[key])
    return step


def as_grid(key: str, value) -> list:
    """The values a setting takes: a list is a grid, except a list of numbers for hidden_sizes (one value)."""
    if key == "hidden_sizes":
        return [tuple(v) for v in value] if value and isinstance(value[0], list) else [tuple(value)]
    return value if isinstance(value, list) else [value]


@settings(max_examples=60, deadline=None)
@given(steps=st.lists(train_steps(), min_size=1, max_size=3))
def test_every_valid_study_expands_to_the_product_of_its_grids(steps):
    text = study_text([{"name": f"s{i}", "kind": "train", **s} for i, s in enumerate(steps)])
    cells = parse_study(text, "s.toml").cells()
    expected = []
    for i, step in enumerate(steps):
        keys = list(step)
        for combination in itertools.product(*(as_grid(k, step[k]) for k in keys)):
            expected.append((f"s{i}", dict(zip(keys, combination))))
    assert len(cells) == len(expected)
    for cell, (name, values) in zip(cells, expected):
        assert cell.step == name and cell.dataset == "fashion-mnist"
        assert all(getattr(cell.config, k) == as_used(cell.config, k, v) for k, v in values.items())
        assert dict(cell.varying) == {k: v for k, v in values.items() if len(as_grid(k, steps[int(name[1:])][k])) > 1}


def as_used(config, key: str, value):
    """`value` where the cell's model uses setting `key`; its default where it does not (tasks/recipe.without_unused
    puts it back, with a warning)."""
    from aelab.models.registry import get_family
    from aelab.tasks.recipe import UNUSED

    flags = {name: flag for name, flag, _ in UNUSED}
    if key in flags and not getattr(get_family(config.model), flags[key]):
        return next(f.default for f in dataclasses.fields(config) if f.name == key)
    return value


UNKNOWN = st.from_regex(r"[a-z][a-z_]{0,11}", fullmatch=True).filter(
    lambda k: k not in KINDS["train"].settings() and k not in ("name", "kind")
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    steps=st.lists(train_steps(), min_size=1, max_size=3),
    where=st.integers(0, 2),
    key=UNKNOWN,
    value=st.integers(-(2**63), 2**63 - 1),  # TOML's integers (beyond them the file is refused first: limits.py)
)
def test_an_unknown_key_anywhere_is_named_at_its_line(steps, where, key, value):
    where %= len(steps)
    steps = [{"name": f"s{i}", "kind": "train", **s} for i, s in enumerate(steps)]
    steps[where][key] = value
    text = study_text(steps)
    message = error(text)
    line = next(
        n
        for n, row in enumerate(text.splitlines(), 1)
        if row.startswith(f"{key} = ") and key_line(text, ("steps", where), key) == n
    )
    assert message.startswith(f"s.toml:{line}: steps[{where + 1}] {key}: unknown setting of a train step"), message


@settings(max_examples=200, deadline=None)
@given(text=st.text(max_size=200))
def test_any_text_is_a_study_or_one_config_error(text):
    try:
        parse_study(text, "s.toml")
    except ConfigError as exc:
        assert re.match(r"s\.toml:\d+: ", str(exc)) and "\n" not in str(exc)


TOML_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 100) | st.floats(-1, 20) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3),
    max_leaves=6,
).filter(lambda v: v is not None)


@settings(max_examples=150, deadline=None)
@given(
    step=st.dictionaries(
        st.sampled_from(["name", "kind", *KINDS["train"].settings(), *KINDS["sweep"].settings()]),
        TOML_VALUES,
        max_size=5,
    ),
    kind=st.sampled_from(sorted(KINDS)),
)
def test_any_values_are_a_study_or_one_config_error(step, kind):
    text = study_text([{"name": "a", "kind": kind, **step}])
    try:
        study = parse_study(text, "s.toml")
    except ConfigError as exc:
        assert re.match(r"s\.toml:\d+: ", str(exc)) and "\n" not in str(exc), str(exc)
        return
    assert all(c.config is None or type(c.config) is KINDS[c.kind].config for c in study.cells())
