"""The grader under hostile input, and what it tells a student in the first hour.

Trust: what a submission starts dies with its grading; Ctrl-C or SIGTERM kills every child and leaves one
line, exit 130 or 143, and no temporary folder; a submission that floods stderr costs the grader no memory.
First hour: a gradient right but for one constant factor is named with the factor and its cause; every
diagnosis speaks in the template's names; the table says what it measures and what passes; the report says
which problems failed. Expected numbers come from the grader's own problems and references, never typed in.
"""

from __future__ import annotations

import ast
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from student_files import SCALED, SHALLOW_RIGHT, SHALLOW_WRONG, SOURCES, two_layer_source, write

from aelab.gradcheck import check, check_files, template
from aelab.manual import layered
from aelab.manual.exercises import EXERCISES
from aelab.manual.factors import CAUSES, find_scaling
from aelab.manual.grade import AUTOGRAD_TOLERANCE
from aelab.manual.grading import Grader, diagnosis_line
from aelab.manual.mistakes import catalogue, fix_line
from aelab.manual.study_checks import FD_TOLERANCE

ROOT = Path(__file__).resolve().parent.parent


def gone(pid: int, within: float = 10.0) -> bool:
    """Whether process `pid` is dead (or a zombie: dead, waiting for its parent to read its status)."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (FileNotFoundError, ProcessLookupError):
            return True
        if state in ("Z", "X"):
            return True
        time.sleep(0.1)
    return False


def wait_for(path: Path, within: float = 60.0) -> int:
    """The pid a submission wrote to `path`, once it has."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        text = path.read_text() if path.exists() else ""
        if text.strip():
            return int(text)
        time.sleep(0.05)
    raise AssertionError(f"{path} was never written")


def spawner(pids: Path, then: str) -> str:
    """A submission that, on import, starts a `sleep 1000` and, through a shell, a second one in the background
    (a double fork: the shell exits, its child lives on), writing their pids; then `then` (its body)."""
    return (
        "import os, subprocess, time\n"
        f"child = subprocess.Popen(['sleep', '1000'])\n"
        f"subprocess.run(['sh', '-c', 'sleep 1000 & echo $! > {pids}.2'], check=True)\n"
        f"open({str(pids)!r}, 'w').write(str(child.pid))\n" + then
    )


@pytest.mark.parametrize("ending", ["returns", "hangs"])
def test_processes_a_submission_starts_die_with_its_grading(ending, tmp_path, monkeypatch):
    temporary = tmp_path / "tmp"
    temporary.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temporary))  # where the grader's folders go
    pids = tmp_path / "pids"
    body = two_layer_source(SHALLOW_RIGHT) if ending == "returns" else "while True:\n    time.sleep(0.01)\n"
    grade = check_files([write(tmp_path, "spawns.py", spawner(pids, body))], timeout=3)[0]
    assert grade.status == ("pass" if ending == "returns" else "error"), str(grade)
    for pid in (int(pids.read_text()), int(Path(f"{pids}.2").read_text())):
        assert gone(pid), f"process {pid}, started by the submission, outlived its grading"
    assert list(temporary.iterdir()) == []


LOOP = "import os\nopen({pid!r}, 'w').write(str(os.getpid()))\nwhile True:\n    pass\n"


@pytest.mark.parametrize("signum, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)], ids=["SIGINT", "SIGTERM"])
def test_a_signal_kills_every_child_and_leaves_one_line_and_no_temporary_folder(signum, code, tmp_path):
    temporary = tmp_path / "tmp"
    temporary.mkdir()
    pids = tmp_path / "pids"
    spawns = write(tmp_path, "spawns.py", spawner(pids, LOOP.format(pid=str(tmp_path / "loop-a"))))
    loops = write(tmp_path, "loops.py", LOOP.format(pid=str(tmp_path / "loop-b")))
    grader = subprocess.Popen(
        [sys.executable, "-m", "aelab", "gradcheck", "--impl", spawns, loops, "--timeout", "60"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "TMPDIR": str(temporary)},
        cwd=tmp_path,
    )
    children = [wait_for(tmp_path / "loop-a")]  # and the other file's child, where two run at once
    children += [wait_for(tmp_path / "loop-b")] if (os.cpu_count() or 1) > 1 else []
    grandchildren = [int(pids.read_text()), int(Path(f"{pids}.2").read_text())]
    time.sleep(0.5)
    grader.send_signal(signum)
    out, err = grader.communicate(timeout=30)
    assert grader.returncode == code, err
    assert re.fullmatch(r"aelab: interrupted: 2 of 2 file\(s\) not graded \(SIG\w+; no grades printed\)\n", err), err
    assert "Traceback" not in err and out == ""
    for pid in children + grandchildren:
        assert gone(pid), f"process {pid} outlived the grader"
    assert list(temporary.iterdir()) == []


FLOOD = (
    "import os, sys\n"
    "sys.stderr.write(('x' * 1023 + '\\n') * 51200)  # 50 MiB\n"
    "sys.stderr.write('the last words\\n')\n"
    "sys.stderr.flush()\n"
    "os._exit(1)\n"
)
MEASURE = """
import json, resource, sys
from aelab.manual.exercises import get_exercise
from aelab.manual.problems import sample_problems
from aelab.manual.sandbox import run_file
problems = sample_problems(get_exercise("shallow"))
run_file(sys.argv[1], problems, 30.0)  # once with a quiet file: whatever grading allocates once is in the baseline
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
run = run_file(sys.argv[2], problems, 30.0)
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"error": run.error, "grown_kib": after - before}))
"""


def test_a_submission_flooding_stderr_is_graded_from_its_last_line_without_holding_it(tmp_path):
    quiet = write(tmp_path, "quiet.py", two_layer_source(SHALLOW_RIGHT))
    flood = write(tmp_path, "flood.py", FLOOD)
    done = subprocess.run([sys.executable, "-c", MEASURE, quiet, flood], capture_output=True, text=True, check=True)
    result = json.loads(done.stdout)
    assert result["error"].startswith(f"{flood}: the process exited with code 1 before gradients returned"), result
    assert "the last words" in result["error"] and "52.4 MB on stderr" in result["error"]
    assert result["grown_kib"] < 8 * 1024, result  # 50 MiB went through; the grader's peak grew by < 8 MiB


@pytest.mark.parametrize(
    "model, factor", [(model, factor) for model, files in SCALED.items() for factor in files], ids=str
)
def test_a_constant_factor_is_named_with_its_cause(model, factor, tmp_path):
    source, _ = SOURCES[model]
    grade = check(write(tmp_path, "scaled.py", source(SCALED[model][factor])), model)
    cause = next(c for c in CAUSES[EXERCISES[model].model.output] if c.label == factor)
    problems = Grader(EXERCISES[model]).problems
    values = [cause.factor(p.spec.n, p.spec.widths[0]) for p in problems]  # the factor on each problem
    assert grade.status == "fail" and grade.mistakes == (cause.name,), str(grade)
    relation = "of" if factor.startswith("1/") else "times"
    assert grade.diagnosis.startswith(f"every gradient is {factor} {relation} the expected one ("), grade.diagnosis
    if len(set(values)) > 1:  # the factor of each problem, from its own sizes
        assert ", ".join(str(Fraction(v).limit_denominator()) for v in values) in grade.diagnosis
    assert cause.text in grade.diagnosis
    top = EXERCISES[model].model.n_layers
    assert grade.fixes == (fix_line(EXERCISES[model].model, ("loss", top)),)


def test_the_mean_over_all_entries_names_torch_mse_loss_and_any_other_factor_is_still_named(tmp_path):
    grade = check(write(tmp_path, "mse.py", two_layer_source(SHALLOW_RIGHT, SCALED["shallow"]["1/D"])))
    assert "the loss is averaged over all n·D entries (as torch.nn.MSELoss() does)" in grade.diagnosis
    odd = check(
        write(tmp_path, "odd.py", two_layer_source(SHALLOW_RIGHT, dict(dZ2="0.37 * 2 * (X_hat - X) / n * (Z2 > 0)")))
    )
    assert odd.mistakes == () and odd.diagnosis.startswith("every gradient is 0.37 times the expected one (0.37×)")
    for name, label in (("factor 2 missing", "1/2 of"), ("1/n missing", "n times")):  # named by the catalogue too
        grade = check(write(tmp_path, "known.py", two_layer_source(SHALLOW_RIGHT, SHALLOW_WRONG[name])))
        assert grade.mistakes == (name,) and grade.diagnosis.startswith(f"every gradient is {label} the expected")


@pytest.mark.parametrize("model", list(EXERCISES))
def test_a_scaling_is_found_only_when_every_parameter_shares_it(model):
    grader = Grader(EXERCISES[model])
    refs, problems = grader.references, grader.problems
    output = EXERCISES[model].model.output
    for cause in CAUSES[output]:
        scaled = [
            {k: cause.factor(p.spec.n, p.spec.widths[0]) * g for k, g in r.autograd.items()}
            for p, r in zip(problems, refs)
        ]
        assert find_scaling(scaled, refs, problems, output).cause == cause
    assert find_scaling([dict(r.autograd) for r in refs], refs, problems, output) is None  # factor 1: right
    halved = [{k: 0.5 * g for k, g in r.autograd.items()} for r in refs]
    assert find_scaling(halved, refs, problems, output).factors == (0.5,) * len(problems)
    one_off = [{**u, "b1": 3.0 * u["b1"]} for u in halved]  # b1 disagrees: no common factor
    assert find_scaling(one_off, refs, problems, output) is None


def texts(model: str) -> list[str]:
    """Every sentence a diagnosis can put before a student: each mistake's description, fix and
    diagnosis line, each known cause, and the fix of every step."""
    exercise = EXERCISES[model]
    out = [cause.text for cause in CAUSES[exercise.model.output]]
    for mistake in catalogue(exercise.model):
        out += [mistake.description, mistake.fix(exercise.model), diagnosis_line(exercise, "fail", (), (mistake,))]
    kinds = ("loss", "act", "weight", "bias", "back")
    for layer in range(1, exercise.model.n_layers + 1):
        out += [fix_line(exercise.model, (kind, layer)) for kind in kinds if not (kind == "back" and layer == 1)]
    return out


def template_names(model: str) -> set[str]:
    """The names the template's code binds (parameters, X, n, Z1, A1, X_hat, dW1…), their gradients
    (dZ1, dA1, dX_hat…), and X's width symbol (D)."""
    tree = ast.parse(template(model))
    bound = {node.id for node in ast.walk(tree) if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store)}
    bound |= {arg.arg for node in ast.walk(tree) if isinstance(node, ast.FunctionDef) for arg in node.args.args}
    return bound | {f"d{name}" for name in bound} | {EXERCISES[model].widths[0]}


@pytest.mark.parametrize("model", list(EXERCISES))
def test_diagnoses_use_the_templates_names(model):
    allowed = template_names(model)
    assert {"A1", "X_hat", "dW1", "n", "D"} <= allowed and "H" not in allowed
    for text in texts(model):
        assert not [mark for mark in ("G_", "X̂", "ᵀ", "⊙") if mark in text], text  # the docs' notation
        plain = re.sub(r"\([A-Z]\d\)|docs/gradients\.md|torch\.nn\.\w+\(\)", "", text)
        names = re.findall(r"(?<![.\w'’])[A-Za-z_]\w*", plain)
        math = [name for name in names if re.search(r"[\d_]", name) or (len(name) == 1 and name != "a")]
        assert set(math) <= allowed, (text, set(math) - allowed)
    for text in texts(model):  # every fix is a line of the template's code
        for line in re.findall(r"of docs/gradients\.md: ([^;]+)", text):
            used = {node.id for node in ast.walk(ast.parse(line.strip())) if isinstance(node, ast.Name)}
            assert used <= allowed, (line, used - allowed)


def test_the_table_says_relative_errors_and_the_tolerance_that_decides(tmp_path):
    model = EXERCISES["shallow"].model

    def off_by(relative):
        return lambda params, X: {k: g * (1 + relative) for k, g in layered.gradients(model, params, X).items()}

    text = str(check(off_by(0.0)))
    assert "rel. error vs autograd" in text and "rel. error vs finite differences" in text
    assert f"pass: relative error ≤ {AUTOGRAD_TOLERANCE:g} vs autograd and ≤ {FD_TOLERANCE:g} vs finite" in text
    assert check(off_by(0.5 * AUTOGRAD_TOLERANCE)).passed  # the tolerance printed is the one applied
    assert not check(off_by(2.0 * AUTOGRAD_TOLERANCE)).passed


def test_the_report_says_which_problems_failed(tmp_path, capsys):
    model, grader = EXERCISES["shallow"].model, Grader(EXERCISES["shallow"])
    one = next(k for k, p in enumerate(grader.problems, start=1) if p.X.shape[0] == 1)

    def wrong_for_one_row(params, X):
        grads = layered.gradients(model, params, X)
        return {k: g * (2.0 if X.shape[0] == 1 else 1.0) for k, g in grads.items()}

    grade = check(wrong_for_one_row)
    expected = f"problem {one} of {len(grader.problems)}: {grader.problems[one - 1].describe()}"
    assert grade.failed_problems == (expected,) and expected.split(": ")[1].startswith("batch of one")
    assert f"  failed on {expected}" in str(grade).splitlines()
    missing_n = check(write(tmp_path, "n.py", two_layer_source(SHALLOW_RIGHT, SHALLOW_WRONG["1/n missing"])))
    assert len(missing_n.failed_problems) == len(grader.problems) - 1  # right where n = 1
    assert not any(line.startswith(f"problem {one} ") for line in missing_n.failed_problems)
    from aelab.manual.grade_report import grade_row

    assert grade_row(missing_n)["failed_problems"] == list(missing_n.failed_problems)
    assert not check(lambda params, X: layered.gradients(model, params, X)).failed_problems
    assert np.isfinite([p.autograd_error for p in grade.parameters]).all()
