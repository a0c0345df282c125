"""The gradient grader: `aelab gradcheck --impl`, `aelab.gradcheck.check`, the diagnosis, the sandbox.

Student files are written as a person would write them (tests/student_files.py); every expectation
about numbers comes from autograd or finite differences computed by the grader, never typed in.
"""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from student_files import SHALLOW_RIGHT, SHALLOW_WRONG, SOURCES, two_layer_source, write

from aelab.cli import main
from aelab.gradcheck import check, check_files, template
from aelab.manual import layered
from aelab.manual.exercises import EXERCISES
from aelab.manual.grading import Grader
from aelab.manual.mistakes import FIXES, catalogue, pairs
from aelab.manual.problems import relu_preactivations, sample_problems
from aelab.manual.study_checks import errors

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def graders():
    return {name: Grader(exercise) for name, exercise in EXERCISES.items()}


@pytest.mark.parametrize("model", list(EXERCISES))
def test_each_mistake_written_as_a_student_file_is_diagnosed_as_that_mistake(model, tmp_path):
    source, wrong = SOURCES[model]
    assert set(wrong) == {m.name for m in catalogue(EXERCISES[model].model)}  # every mistake written out
    files = [write(tmp_path, "correct.py", source())]
    files += [write(tmp_path, f"mistake_{i}.py", source(change)) for i, change in enumerate(wrong.values())]
    grades = check_files(files, model, timeout=30)
    correct, *mistaken = grades
    assert correct.status == "pass" and correct.mistakes == () and not correct.errors, str(correct)
    assert all(p.passed for p in correct.parameters)
    for name, grade in zip(wrong, mistaken):
        assert grade.status == "fail", str(grade)
        assert grade.mistakes == (name,), str(grade)
        assert any(not p.passed for p in grade.parameters), str(grade)
        assert grade.fixes and all(fix.split(" of docs")[0] in FIXES for fix in grade.fixes)
        assert f"'{name}'" in grade.diagnosis and "docs/gradients.md" in grade.diagnosis


def test_a_transposed_product_is_named_although_it_has_the_wrong_shape_when_d_differs_from_h(tmp_path):
    path = write(tmp_path, "t.py", two_layer_source(SHALLOW_RIGHT, SHALLOW_WRONG["W2 gradient transposed"]))
    grade = check(path)
    assert grade.mistakes == ("W2 gradient transposed",)
    return_line = 1 + two_layer_source(SHALLOW_RIGHT).splitlines().index(
        '    return {"W1": dW1, "b1": db1, "W2": dW2, "b2": db2}'
    )
    assert grade.errors and all(
        e.startswith(f"{path}:{return_line}: the gradient of W2 has shape") for e in grade.errors
    )
    assert "its transpose" in grade.errors[0]


def test_two_known_mistakes_at_once_are_named_as_two_not_one(tmp_path):
    both = two_layer_source(SHALLOW_RIGHT, SHALLOW_WRONG["output mask dropped"], SHALLOW_WRONG["b1 gradient averaged"])
    grade = check(write(tmp_path, "two.py", both))
    assert grade.status == "fail"
    assert grade.mistakes == ("output mask dropped", "b1 gradient averaged"), str(grade)
    assert "two known mistakes at once" in grade.diagnosis
    assert {fix.split(" ")[0] for fix in grade.fixes} == {"(G2)", "(G8)"}


@pytest.mark.parametrize(
    "changes",
    [
        # a known mistake with an unknown one (W2's gradient scaled by 1.5)
        (SHALLOW_WRONG["hidden mask dropped"], dict(dW2="1.5 * (dZ2.T @ A1)")),
        # three known mistakes: no single one, and no pair, explains them
        (
            SHALLOW_WRONG["output mask dropped"],
            SHALLOW_WRONG["hidden mask dropped"],
            SHALLOW_WRONG["b2 gradient averaged"],
        ),
    ],
    ids=["known-and-unknown", "three-known"],
)
def test_mistakes_no_single_diagnosis_explains_are_reported_wrong_without_one(changes, tmp_path, graders):
    grade = check(write(tmp_path, "mixed.py", two_layer_source(SHALLOW_RIGHT, *changes)))
    assert grade.status == "fail" and grade.mistakes == () and grade.fixes == (), str(grade)
    assert grade.diagnosis.startswith("wrong: ") and "no known mistake" in grade.diagnosis
    assert "matches" not in grade.diagnosis
    wrong = [p.name for p in grade.parameters if not p.passed]
    assert wrong and all(f"{name} (max rel error" in grade.diagnosis for name in wrong)
    for p in grade.parameters:  # the errors reported are the ones against the grader's own references
        assert (p.autograd_error > 1e-3) == (not p.passed)


def test_float32_arithmetic_is_told_apart_from_a_wrong_derivation(tmp_path):
    source = two_layer_source(SHALLOW_RIGHT).replace(
        "    n = X.shape[0]\n",
        "    n = X.shape[0]\n    X = X.astype(np.float32)\n"
        "    W1, b1, W2, b2 = (a.astype(np.float32) for a in (W1, b1, W2, b2))\n",
    )
    grade = check(write(tmp_path, "single.py", source))
    assert grade.status == "fail" and grade.mistakes == () and grade.diagnosis.startswith("nearly right: ")
    assert all(1e-10 < p.autograd_error < 1e-4 for p in grade.parameters if not p.passed)


def test_code_right_where_it_runs_but_failing_on_one_problem_fails_without_a_mistake_named():
    def fails_on_one_row(params, X):
        if X.shape[0] == 1:
            raise ValueError("a batch of one")
        return layered.gradients(EXERCISES["shallow"].model, params, X)

    grade = check(fails_on_one_row)
    line = fails_on_one_row.__code__.co_firstlineno + 2
    assert grade.status == "fail" and grade.mistakes == () and all(p.passed for p in grade.parameters)
    assert grade.errors == (f"{__file__}:{line}: ValueError: a batch of one (problem 2)",)
    assert "failed on some problems" in grade.diagnosis


def test_check_grades_a_python_function_in_process():
    def correct(params, X):  # other keys beside the gradients are allowed, and ignored
        return {**layered.gradients(EXERCISES["shallow"].model, params, X), "loss": "not graded"}

    def no_output_mask(params, X):
        swaps = {("act", 2): lambda grad, Z: grad}
        return layered.gradients(EXERCISES["shallow"].model, params, X, swaps)

    def broken(params, X):
        return {"W1": params["W9"]}

    assert check(correct).passed
    assert check(no_output_mask).mistakes == ("output mask dropped",)
    grade = check(broken)
    line = broken.__code__.co_firstlineno + 1
    assert grade.status == "error" and grade.errors[0].startswith(f"{__file__}:{line}: KeyError: 'W9'"), grade.errors


BROKEN = {
    # name: (source, line the message must name, words it must contain)
    "crash.py": (
        "import numpy as np\n\n\ndef gradients(params, X):\n    rows = X.shape[0]\n"
        "    return {'W1': params['W1'][rows + 100]}\n",
        6,
        "IndexError",
    ),
    "abort.py": (
        "import os\n\n\ndef gradients(params, X):\n    os.abort()\n",
        5,
        "crashed: the process was killed by SIGABRT",
    ),
    "hang.py": ("def gradients(params, X):\n    n = 0\n    while True: n += 1\n", 3, "did not finish within 2 s"),
    "syntax.py": ("import numpy as np\n\ndef gradients(params, X)\n    return {}\n", 3, "SyntaxError"),
    "shapes.py": (
        "import numpy as np\n\n\ndef gradients(params, X):\n"
        "    grads = {k: np.zeros_like(v) for k, v in params.items()}\n"
        "    grads['b1'] = grads['b1'][:, None]\n    return grads\n",
        7,
        "the gradient of b1 has shape",
    ),
    "nan.py": (
        "import numpy as np\n\n\ndef gradients(params, X):\n"
        "    grads = {k: np.zeros_like(v) for k, v in params.items()}\n"
        "    grads['W2'][0, 0] = np.nan\n    return grads\n",
        7,
        "the gradient of W2 has NaN in 1 of",
    ),
    "import.py": ("import numpy as np\n\nSCALE = 1 / 0\n", 3, "ZeroDivisionError"),
    "exits.py": ("import sys\n\n\ndef gradients(params, X):\n    sys.exit(3)\n", 5, "SystemExit: 3"),
    "missing.py": ("def gradient(params, X):\n    return {}\n", None, "gradients is not defined"),
    "text.py": (
        "def gradients(params, X):\n    return {name: 'zero' for name in params}\n",
        2,
        "the gradient of W1 is str, not an array of numbers",
    ),
    "not_a_dict.py": ("def gradients(params, X):\n    return [1, 2]\n", 2, "returned list: expected a dict"),
}


def test_broken_files_each_give_one_line_naming_file_and_line_and_the_others_are_still_graded(tmp_path, capsys):
    files = {name: write(tmp_path, name, text) for name, (text, _, _) in BROKEN.items()}
    good = write(tmp_path, "good.py", two_layer_source(SHALLOW_RIGHT))
    code = main(["gradcheck", "--impl", *files.values(), good, "--json", "--timeout", "2"])
    rows = json.loads(capsys.readouterr().out)
    assert code == 1 and [row["file"] for row in rows] == [*files.values(), good]
    for (name, (_, line, words)), row in zip(BROKEN.items(), rows):
        assert row["status"] == "error" and not row["passed"], row
        message = row["errors"][0]
        where = f"{files[name]}:{line}: " if line else f"{files[name]}: "
        assert message.startswith(where) and words in message and "\n" not in message, (name, message)
        assert row["diagnosis"] == "not graded: " + message
    assert rows[-1]["status"] == "pass" and rows[-1]["errors"] == []
    assert not list(tmp_path.glob("__pycache__"))  # the child leaves nothing beside the files


@pytest.mark.parametrize("shadow", ["numpy.py", "json.py", "math.py"])
def test_a_file_named_like_a_module_in_the_submissions_shadows_nothing(shadow, tmp_path, capsys, monkeypatch):
    """A student's numpy.py (or json.py) in the folder being graded, which is also the working folder: every
    correct file still passes, and that file's code never runs in another's grading (it would leave its mark)."""
    mark = tmp_path / "shadow-ran"
    write(tmp_path, shadow, f"open({str(mark)!r}, 'a').write('x')\nraise ImportError('the shadow ran')\n")
    goods = [write(tmp_path, f"good{i}.py", "import json, math\n" + two_layer_source(SHALLOW_RIGHT)) for i in range(2)]
    monkeypatch.chdir(tmp_path)
    code = main(["gradcheck", "--impl", *goods, "--json", "--timeout", "20"])
    rows = json.loads(capsys.readouterr().out)
    assert code == 0 and [row["status"] for row in rows] == ["pass", "pass"], rows
    assert not mark.exists()


def test_a_class_of_30_files_is_graded_one_csv_row_per_file(tmp_path, capsys):
    variants = [("correct", {})] + list(SHALLOW_WRONG.items())
    files, expected = [], []
    for i in range(30):
        name, change = variants[i % len(variants)]
        files.append(write(tmp_path, f"student_{i:02d}.py", two_layer_source(SHALLOW_RIGHT, change)))
        expected.append(name)
    code = main(["gradcheck", "--impl", *files, "--csv"])
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert code == 1 and len(rows) == 30 and [r["file"] for r in rows] == files
    for row, name in zip(rows, expected):
        assert row["model"] == "shallow"
        if name == "correct":
            assert (
                row["status"] == "pass"
                and row["mistakes"] == ""
                and {row[p] for p in ("W1", "b1", "W2", "b2")} == {"pass"}
            )
        else:
            assert (
                row["status"] == "fail"
                and row["mistakes"] == name
                and "FAIL" in {row[p] for p in ("W1", "b1", "W2", "b2")}
            )


def test_text_report_and_exit_code_for_one_file(tmp_path, capsys):
    good = write(tmp_path, "good.py", two_layer_source(SHALLOW_RIGHT))
    assert main(["gradcheck", "--impl", good]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"{good}: PASS (shallow) — correct") and "vs finite differences" in out
    bad = write(tmp_path, "bad.py", two_layer_source(SHALLOW_RIGHT, SHALLOW_WRONG["hidden mask dropped"]))
    assert main(["gradcheck", "--impl", bad]) == 1
    out = capsys.readouterr().out
    assert "FAIL (shallow)" in out and "'hidden mask dropped'" in out and "(G6) of docs/gradients.md" in out


@pytest.mark.parametrize("model", list(EXERCISES))
def test_the_template_is_a_runnable_skeleton_not_the_solution(model, tmp_path, capsys):
    assert main(["gradcheck", "--template", "--model", model]) == 0
    text = capsys.readouterr().out
    assert text == template(model) and "TODO" in text and "def gradients(params, X):" in text
    exercise = EXERCISES[model]
    for name in exercise.model.parameter_names():
        assert f"d{name} = np.zeros_like({name})  # TODO" in text
    grade = check(write(tmp_path, "skeleton.py", text), model)
    assert grade.status == "fail" and grade.mistakes == () and not grade.errors  # it runs, and is wrong
    assert grade.diagnosis.startswith("every gradient is zero: the backward pass is not written yet")  # not "0×"


def test_bad_options_are_one_line_errors(tmp_path, capsys):
    good = write(tmp_path, "good.py", two_layer_source(SHALLOW_RIGHT))
    for argv in (
        ["gradcheck", "--csv"],
        ["gradcheck", "--model", "deep"],
        ["gradcheck", "--timeout", "3"],
        ["gradcheck", "--impl", good, "--timeout", "0"],
        ["gradcheck", "--impl", good, "--timeout", "inf"],
        ["gradcheck", "--impl", good, "--model", "shalow"],
    ):
        assert main(argv) == 2, argv
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and ("expected" in err or "must" in err), err
    assert "did you mean 'shallow'" in err
    with pytest.raises(SystemExit) as info:
        main(["gradcheck", "--impl", good, "--template"])
    assert info.value.code == 2


def test_every_mistake_is_caught_by_some_problem_and_no_two_are_alike(graders):
    for name, grader in graders.items():
        model, refs = grader.exercise.model, grader.references
        mistakes = grader.singles
        predictions = {m.name: grader.predictions(m) for m in mistakes}
        for m in mistakes:  # on some problem, some parameter is far from autograd
            worst = max(
                errors(p[k], r.autograd[k])[1] for p, r in zip(predictions[m.name], refs) if p is not None for k in p
            )
            assert worst > 1e-3, (name, m.name)
        for a, b in pairs(mistakes):  # distinct: some problem where both compute and differ
            gap = max(
                (
                    errors(pa[k], pb[k])[1]
                    for pa, pb in zip(predictions[a.name], predictions[b.name])
                    if pa is not None and pb is not None
                    for k in pa
                ),
                default=np.inf,
            )
            assert gap > 1e-6, (name, a.name, b.name)
        assert all(m.equations(model) for m in mistakes)


def test_every_cited_equation_is_derived_in_docs_gradients_md():
    doc = (ROOT / "docs" / "gradients.md").read_text()
    tags = set(re.findall(r"\\tag\{([A-Z]\d)\}", doc))
    assert {tag.strip("()") for tag in FIXES} <= tags
    for exercise in EXERCISES.values():
        for m in catalogue(exercise.model):
            assert all(tag.strip("()") in tags for tag in m.equations(exercise.model))


@pytest.mark.parametrize("model", list(EXERCISES))
def test_problems_expose_dead_units_clipped_outputs_batch_of_one_and_square_layers(model):
    exercise = EXERCISES[model]
    problems = sample_problems(exercise, seed=3)
    assert any(p.X.shape[0] == 1 for p in problems)
    assert any(len(set(p.spec.widths)) == 1 for p in problems)  # D = H: wrong transposes keep their shape
    for p in problems:
        cache = layered.forward(exercise.model, p.params, p.X)
        assert min(np.abs(Z).min() for Z in relu_preactivations(exercise.model, cache)) >= 1e-3
        assert all(np.all(np.abs(b) > 0) for name, b in p.params.items() if name.startswith("b"))
        if p.spec.dead_hidden:
            assert all((Z[:, 0] < 0).all() for Z in cache.Z[:-1])
        if p.spec.clipped_output:
            assert (cache.A[-1][:, ::2] == 0).all() and (p.X[:, ::2] > 0).all()


@settings(max_examples=30, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    n=st.integers(1, 5),
    widths=st.lists(st.integers(1, 6), min_size=2, max_size=4),
    output=st.sampled_from(["relu", "sigmoid"]),
)
def test_layered_backward_matches_autograd_for_any_depth_and_output(seed, n, widths, output):
    rng = np.random.default_rng(seed)
    model = layered.Layered(len(widths), output)
    sizes = (*widths, widths[0])
    params = {name: rng.normal(size=shape) for name, shape in model.shapes(sizes).items()}
    X = rng.uniform(0, 1, (n, sizes[0]))
    ours, reference = layered.gradients(model, params, X), layered.autograd_gradients(model, params, X)
    for name in model.parameter_names():
        assert ours[name].shape == params[name].shape
        assert errors(ours[name], reference[name])[1] <= 1e-10, name


def test_the_reports_gradient_section_shows_commands_that_exist():
    from aelab.cli import build_parser
    from aelab.report.sections import GRADE_YOUR_OWN

    block = GRADE_YOUR_OWN[
        GRADE_YOUR_OWN.index("```bash") + 1 : GRADE_YOUR_OWN.index("```", GRADE_YOUR_OWN.index("```bash") + 1)
    ]
    commands = [line.split("#")[0].split(">")[0].split() for line in block]
    assert {"--template", "--impl", "--csv"} <= {word for command in commands for word in command}
    for command in commands:
        assert command[:2] == ["aelab", "gradcheck"]
        build_parser().parse_args(command[1:])  # argparse exits on an unknown option
    text = " ".join(GRADE_YOUR_OWN)
    assert all(f"--model {name}" in text for name in EXERCISES if name != "shallow")


def test_the_child_and_the_grader_start_without_torch():
    import subprocess
    import sys

    code = (
        "import sys, aelab.manual.sandbox_child, aelab.gradcheck; assert 'torch' not in sys.modules, 'torch imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
