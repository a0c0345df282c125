"""Check your own gradients: aelab as the grader of the derivation exercise.

    from aelab.gradcheck import check, template
    print(template("shallow"))           # a skeleton: signature, shapes, TODOs
    grade = check(my_gradients)          # a function gradients(params, X) -> dict, or a file's path
    print(grade)                         # pass/fail per parameter, and the diagnosis

The user's `gradients(params, X)` gets float64 parameters by name (W1 (H, D), b1 (H,), W2 (D, H),
b2 (D,) for the shallow exercise; `template(model)` lists each model's) and a batch X (n, D), and
returns a dict of gradients of the same shapes. Every gradient is compared with autograd (float64)
and central differences on several problems chosen to expose mistakes; a wrong one is compared with
each classic mistake of the exercise's catalogue, and the matching one is named with its fix.

A file runs in a child process with a time limit (`check_files` grades many in parallel); a
function passed to `check` runs in this process, without one. `aelab gradcheck --impl FILE…` is
the command-line form; Ctrl-C or SIGTERM there kills every child and prints one line (exit 130 or 143).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

from aelab.errors import ConfigError
from aelab.manual.children import GradingInterrupted, grading_signals
from aelab.manual.exercises import EXERCISES, get_exercise
from aelab.manual.grade import to_text
from aelab.manual.grade_report import to_csv, to_json
from aelab.manual.grading import Grade, Grader, UserRun
from aelab.manual.sandbox import run_files
from aelab.manual.template import template as _template
from aelab.manual.usercode import run_function

__all__ = [
    "EXERCISES",
    "DEFAULT_TIMEOUT",
    "Grade",
    "GradingInterrupted",
    "check",
    "check_files",
    "grade_command",
    "template",
]

DEFAULT_TIMEOUT = 20.0  # seconds per file: generous for four tiny problems, short enough for a class's batch


def template(model: str = "shallow") -> str:
    """The skeleton of a gradient file for the exercise `model` (shallow, sigmoid-bce or deep)."""
    return _template(get_exercise(model))


def _check_timeout(timeout: float) -> None:
    if not isinstance(timeout, (int, float)) or isinstance(timeout, bool) or not 0 < timeout < math.inf:
        raise ConfigError(f"timeout must be a finite number of seconds > 0, got {timeout!r}")


def check_files(
    files: Sequence[str],
    model: str = "shallow",
    *,
    seed: int = 0,
    timeout: float = DEFAULT_TIMEOUT,
    workers: int | None = None,
) -> list[Grade]:
    """Grade each file (each in its own child process, `workers` at a time); one Grade per file, in order.

    SIGINT or SIGTERM (in the main thread) kills every child's process group, removes the temporary
    folders and raises GradingInterrupted, which counts the files left without a grade."""
    _check_timeout(timeout)
    with grading_signals(len(files)):
        grader = Grader(get_exercise(model), seed)
        runs = run_files([str(f) for f in files], grader.problems, float(timeout), workers)
        return [grader.grade(str(f), run) for f, run in zip(files, runs)]


def check(
    implementation: Callable | str, model: str = "shallow", *, seed: int = 0, timeout: float = DEFAULT_TIMEOUT
) -> Grade:
    """Grade a function gradients(params, X) (run here, no time limit) or a file's path (run in a
    child process with `timeout`). `print(grade)` shows the report; `grade.passed` is the verdict."""
    if not callable(implementation):
        return check_files([implementation], model, seed=seed, timeout=timeout)[0]
    grader = Grader(get_exercise(model), seed)
    code = getattr(implementation, "__code__", None)
    source = code.co_filename if code else repr(implementation)
    results, return_line = run_function(implementation, source, [(p.params, p.X) for p in grader.problems])
    return grader.grade(source, UserRun(tuple(results), return_line=return_line))


def grade_command(
    files: Sequence[str], model: str = "shallow", fmt: str = "text", seed: int = 0, timeout: float | None = None
) -> int:
    """`aelab gradcheck --impl FILE…`: print the grades (text, json or csv); 0 if every file passed, else 1."""
    grades = check_files(files, model, seed=seed, timeout=DEFAULT_TIMEOUT if timeout is None else timeout)
    if fmt == "json":
        print(to_json(grades))
    elif fmt == "csv":
        print(to_csv(grades, get_exercise(model).model.parameter_names()), end="")
    else:
        print("\n\n".join(to_text(g) for g in grades))
        failed = sum(not g.passed for g in grades)
        if len(grades) > 1:
            print(f"\n{len(grades) - failed} of {len(grades)} files passed")
    return 0 if all(g.passed for g in grades) else 1
