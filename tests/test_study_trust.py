"""Hostile study files: deep nesting, huge grids and numbers, names the file system refuses, random bytes — each one
line naming the file, the line and what was expected, exit 2, nothing written; the same line from `--dry-run` as
from the run (one `preflight` for both); a long plan summarised, not printed cell by cell."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aelab import cli
from aelab.errors import ConfigError
from aelab.studies import parse_study
from aelab.studies.kinds import KINDS
from aelab.studies.limits import LINE_MAX, MAX_CELLS, MAX_NESTING, text_nesting

STEP = '[[steps]]\nname = "a"\nkind = "train"\n'
TINY = 'datasets = ["tiny"]\n' + STEP


def run(tmp_path: Path, capsys, text: str | bytes, *options: str, dry: bool = True, out: Path | str | None = None):
    """`aelab run s.toml --out OUT [--dry-run]` in this process: (exit code, stderr lines, stdout lines, OUT)."""
    study = tmp_path / "s.toml"
    study.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8"))
    out = tmp_path / "out" if out is None else out
    argv = ["run", str(study), "--out", str(out), "--workers", "1", "--quiet", *options]
    code = cli.main(argv + (["--dry-run"] if dry else []))
    captured = capsys.readouterr()
    return code, captured.err.splitlines(), captured.out.splitlines(), Path(out)


def refused(tmp_path, capsys, text, *options, code=2, out=None) -> str:
    """The one line both the dry run and the run refuse `text` with (the same line), nothing written by either."""
    lines = []
    for dry in (True, False):
        got, err, _, folder = run(tmp_path, capsys, text, *options, dry=dry, out=out)
        assert got == code and len(err) == 1 and err[0].startswith("aelab: error: "), (dry, got, err)
        assert not os.path.exists(folder) or folder.is_file(), f"{folder} written ({'dry run' if dry else 'run'})"
        lines.append(err[0])
    assert lines[0] == lines[1]  # the dry run refuses exactly as the run does
    return lines[0].removeprefix("aelab: error: ")


# ------------------------------------------------------------------------------------------ 1. deep nesting


@pytest.mark.parametrize(
    "text, line, where, depth",
    [
        ("a = " + "[" * 3000 + "]" * 3000 + "\n", 1, "", 3000),  # beyond the TOML reader's own recursion
        ('title = "t"\n\na = ' + "{b = " * 3000 + "1" + "}" * 3000 + "\n", 3, "", 3000),
        ('title = "t"\nx = ' + "[" * 200 + "]" * 200 + "\n", 2, "x: ", 200),  # parsed, then refused by our walk
        (TINY + "hidden_sizes = " + "[" * 17 + "1" + "]" * 17 + "\n", 5, "steps[1] hidden_sizes: ", 17),
    ],
)
def test_deep_nesting_is_one_line_not_a_traceback(tiny_dataset, tmp_path, capsys, text, line, where, depth):
    message = refused(tmp_path, capsys, text)
    assert (
        message == f"{tmp_path / 's.toml'}:{line}: {where}nested {depth:,} levels deep: expected at most {MAX_NESTING}"
    )


def test_the_nesting_of_text_leaves_strings_and_comments_out():
    text = 'a = "[[[["  # [[[[\nb = [[1], {c = \'{{\'}]\nd = """\n[[[\n"""\n'
    assert text_nesting(text) == (2, 2)
    assert text_nesting("x = 1\n" * 3 + "y = [[[\n") == (3, 4)


def test_a_study_at_the_nesting_limit_is_read():
    grid = "[" * (MAX_NESTING - 1) + "1" + "]" * (MAX_NESTING - 1)
    with pytest.raises(ConfigError, match=r"^s\.toml:\d+: steps\[1\] hidden_sizes: ") as caught:
        parse_study('datasets = ["mnist"]\n' + STEP + f"hidden_sizes = {grid}\n", "s.toml")
    assert "nested" not in str(caught.value)  # refused for its type, as any wrong value is, not for its depth


# ------------------------------------------------------------------------------------------ 2. dry run = run

CSV = "x,y\n" + "".join(f"{i},{i % 2}\n" for i in range(20))


@pytest.mark.parametrize(
    "text, expected",
    [
        (
            TINY + "train_size = 65\n",
            "s.toml:5: steps[1] train_size: 65: expected at most 64 (the training set of tiny)",
        ),
        (TINY + "test_size = 17\n", "s.toml:5: steps[1] test_size: 17: expected at most 16 (the test set of tiny)"),
        (
            TINY.replace('"train"', '"anomaly"') + "classes = [3, 10]\n",
            "s.toml:5: steps[1] classes: (3, 10): expected some of 0,1,2,3,4,5,6,7,8,9 (the classes of tiny)",
        ),
        (
            TINY + "code_size = 1000000000000\n",
            "s.toml:5: steps[1] code_size: 1000000000000 makes a run of 1,569,000,000,000,784",
        ),
        (TINY.replace('"train"', '"sweep"') + "seeds = 1000000\n", "s.toml:5: steps[1] seeds: 1000000 makes a run of"),
        (
            'datasets = ["./pictures"]\n' + STEP + 'model = "conv"\nimage_size = [30, 30]\n',
            "s.toml:6: steps[1] image_size: (30, 30): expected H and W divisible by 4 for model conv",
        ),
        ('datasets = ["./t.csv"]\n' + STEP + 'model = "vae"\nloss = "mse"\n', "s.toml:6: steps[1] loss: 'mse'"),
        (
            'datasets = ["tiny"]\n[[steps]]\nname = "' + "n" * 256 + '"\nkind = "train"\n',
            "s.toml:3: steps[1] name: the folder name 'nnnnn",
        ),
        (
            TINY + 'model = "deep"\nhidden_sizes = [[' + ", ".join(["1"] * 130) + "], [2]]\n",
            "s.toml:6: steps[1] hidden_sizes: the folder name 'hidden_sizes=1x1x1",
        ),
        (
            'datasets = ["./t.csv"]\n' + STEP + 'label_column = ["x/..", "y"]\n',
            "s.toml:5: steps[1] label_column: the folder name 'label_column=x/..': holds a path separator",
        ),
        (
            'datasets = ["tiny"]\n[[steps]]\nname = "reproduce.json"\nkind = "gradcheck"\n',
            "s.toml:3: steps[1] name: the folder name 'reproduce.json': is a file of the study's own folder",
        ),
    ],
)
def test_the_dry_run_refuses_what_the_run_refuses(tiny_dataset, tmp_path, capsys, text, expected):
    (tmp_path / "pictures").mkdir()
    (tmp_path / "t.csv").write_text(CSV)
    root, _, _ = tiny_dataset
    message = refused(tmp_path, capsys, text, "--data-dir", str(root))
    assert message.startswith(f"{tmp_path / 's.toml'}:") and expected.removeprefix("s.toml:") in message, message
    assert len(message) <= LINE_MAX


@pytest.mark.parametrize(
    "out, code, expected",
    [
        ("a\0b", 2, "holds a NUL character"),
        ("n" * 256, 2, "a name of 256 bytes: expected names of at most 255 bytes"),
        ("/".join(["d" * 200] * 25), 2, "bytes: expected names of at most 255 bytes without NUL, in a path of at most"),
        ("file/out", 6, "is a file: expected a folder path for the run's output"),
    ],
)
def test_an_output_folder_the_file_system_refuses_is_refused_by_both(
    tiny_dataset, tmp_path, capsys, out, code, expected
):
    (tmp_path / "file").write_text("kept")
    message = refused(tmp_path, capsys, TINY, code=code, out=f"{tmp_path}/{out}")
    assert expected in message and (tmp_path / "file").read_text() == "kept"


def test_two_data_sets_in_one_folder_are_refused(tmp_path, capsys):
    for part in ("a", "b"):
        (tmp_path / part).mkdir()
        (tmp_path / part / "t.csv").write_text(CSV)
    both = f"{tmp_path}/a/t.csv,{tmp_path}/b/t.csv"
    message = refused(tmp_path, capsys, 'datasets = ["mnist"]\n' + STEP, "--datasets", both)
    assert (
        message == "t.csv/a: two runs would write this folder: expected data sets and steps whose folder names differ"
    )


# ------------------------------------------------------------------------------------------ 3. grids of a million cells


def values(n: int, scale: float = 1.0) -> str:
    return "[" + ", ".join(repr(scale * (i + 1)) if scale != 1.0 else str(i + 1) for i in range(n)) + "]"


def test_a_grid_beyond_the_limit_is_one_line_with_its_product(tiny_dataset, tmp_path, capsys):
    text = TINY + f"code_size = {values(100)}\nseed = {values(100)}\nlearning_rate = {values(100, 1e-4)}\n"
    assert refused(tmp_path, capsys, text) == (
        f"{tmp_path / 's.toml'}:2: steps[1]: a grid of 1,000,000 cells (100 code_size × 100 seed × 100 "
        f"learning_rate): expected at most {MAX_CELLS:,} per study (split the grid into studies, or choose fewer "
        "values)"
    )


def test_the_limit_holds_for_the_whole_study_and_for_datasets_given_later(tiny_dataset, tmp_path, capsys):
    step = f"code_size = {values(60)}\nseed = {values(100)}\n"
    two = TINY + step + STEP.replace('"a"', '"b"') + step
    assert refused(tmp_path, capsys, two).endswith(
        f"s.toml:1: study: 12,000 cells in all (a 6,000 + b 6,000): expected at most {MAX_CELLS:,} per study "
        "(split the grid into studies, or choose fewer values)"
    )
    message = refused(tmp_path, capsys, TINY + step, "--datasets", "tiny,mnist")
    assert "s.toml:2: steps[1]: a grid of 12,000 cells (60 code_size × 100 seed × 2 data sets)" in message


def test_a_long_dry_run_lists_its_first_runs_and_counts_the_rest(tiny_dataset, tmp_path, capsys):
    text = TINY + f"learning_rate = {values(30, 1e-4)}\n" + STEP.replace('"a"', '"b"') + "code_size = [1, 2, 3, 4]\n"
    code, err, lines, out = run(tmp_path, capsys, text + "seed = [0, 1, 2]\n")
    assert code == 0 and not err and not out.exists()
    assert "31 run folders, 42 cells" in lines[0]
    assert len(lines) == 1 + 20 + 1 + 1 and lines[20].lstrip().startswith("[20/31] tiny/a/learning_rate=")
    assert lines[21] == "  … and 11 more runs (22 cells)" and lines[22].startswith("estimated time: about")
    text = TINY + "code_size = [1, 2, 3, 4]\nseed = [0, 1, 2]\n"
    code, _, lines, _ = run(tmp_path, capsys, text)
    assert code == 0 and "(sweep, 12 cells batched)" in lines[1]
    assert lines[2:10] == [f"      code_size={k},seed={s}" for k in (1, 2, 3, 4) for s in (0, 1, 2)][:8]
    assert lines[10] == "      … and 4 more cells" and lines[11].startswith("estimated time")


# ------------------------------------------------------------------------------------------ 4. hostile values


@pytest.mark.parametrize(
    "text, expected",
    [
        (TINY + "code_size = " + "9" * 400 + "\n", "steps[1] code_size: 99999"),
        (TINY + "epochs = 10000000000000000000000000000000\n", "expected a whole number within TOML's 64 bits"),
        (TINY + "learning_rate = nan\n", "steps[1] learning_rate: nan: expected a number in (0, 10)"),
        (TINY + "learning_rate = -inf\n", "steps[1] learning_rate: -inf: expected a number in (0, 10)"),
        ('datasets = ["' + "d" * 100_000 + '"]\n' + STEP, "datasets: 'ddddd"),
        ('datasets = ["./x\\u0000.npy"]\n' + STEP, "datasets: './x\\x00.npy': holds a NUL character"),
        ('title = ["' + "t" * 100_000 + '"]\n' + TINY, "title: ['ttt"),
        ('datasets = ["tiny"]\n[[steps]]\nname = "café"\nkind = "train"\n', "steps[1] name: 'café': expected a folder"),
        (b"\xff\xfe datasets", ":1: not UTF-8 text: expected a TOML study file"),
        (TINY + 'model = "conv-vae"\ncode_size = 1000000000\n', "steps[1] code_size: 1000000000 makes a run of"),
    ],
)
def test_hostile_values_are_one_short_line(tiny_dataset, tmp_path, capsys, text, expected):
    message = refused(tmp_path, capsys, text)
    assert expected in message and len(message) <= LINE_MAX, message


def test_a_study_path_the_file_system_refuses_is_one_line(tmp_path, capsys):
    assert cli.main(["run", "s" * 300 + ".toml", "--dry-run", "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and "a name of 305 bytes: expected a TOML study file" in err[0]


TOML_KEYS = sorted({key for kind in KINDS.values() for key in kind.settings()} | {"name", "kind"})
HOSTILE = st.one_of(
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=300),
    st.booleans(),
    st.lists(st.integers(-3, 2**64), max_size=4),
    st.lists(st.lists(st.integers(0, 300), max_size=3), max_size=3),
    st.lists(st.text(max_size=20), max_size=3),
)


def toml_value(value) -> str:
    """A TOML literal: JSON's spelling, but TOML's for the non-finite floats (and real characters, not escapes)."""
    if isinstance(value, float) and not math.isfinite(value):
        return "nan" if value != value else ("inf" if value > 0 else "-inf")
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    return json.dumps(value, ensure_ascii=False)


@st.composite
def hostile_studies(draw) -> str | bytes:
    """Random bytes, random text, or a study of random steps whose settings hold hostile values of any type."""
    form = draw(st.sampled_from(["bytes", "text", "steps"]))
    if form == "bytes":
        return draw(st.binary(max_size=200))
    if form == "text":
        return draw(st.text(max_size=200))
    datasets = draw(st.lists(st.sampled_from(["mnist", "fashion-mnist", "tiny"]) | st.text(max_size=30), max_size=2))
    lines = [f"datasets = {toml_value(datasets)}"]
    for i in range(draw(st.integers(1, 2))):
        kind = draw(st.sampled_from([*sorted(KINDS), "x"]))
        lines += ["[[steps]]", f'name = "s{i}"', f'kind = "{kind}"']
        step = draw(st.dictionaries(st.sampled_from(TOML_KEYS), HOSTILE, max_size=4))
        lines += [f"{key} = {toml_value(value)}" for key, value in step.items()]
    return "\n".join(lines) + "\n"


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=hostile_studies())
def test_any_study_text_is_a_plan_or_one_line_exit_2(tiny_dataset, tmp_path, capsys, text):
    code, err, lines, out = run(tmp_path, capsys, text)
    assert not os.path.exists(out)
    if code == 0:
        assert not err and lines[-1].startswith("estimated time: about")
        return
    assert code == 2 and len(err) == 1 and err[0].startswith("aelab: error: "), (code, err)
    assert "Traceback" not in err[0] and len(err[0]) <= LINE_MAX + len("aelab: error: ")
