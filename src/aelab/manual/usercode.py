"""Load a user's gradient file and call its function, turning every failure into one line.

Used in the grader's child process (`aelab.manual.sandbox_child`) and, for `aelab.gradcheck.check(fn)`,
in the caller's own process. Imports only NumPy and the standard library: the child must start fast
and must not bring in torch. Each line names the file and, where the failure is in it, the line:
`my_backprop.py:12: ZeroDivisionError: division by zero (problem 2)`.
"""

from __future__ import annotations

import importlib.util
import sys
import traceback
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import numpy as np

FUNCTION = "gradients"


class UserCodeError(Exception):
    """The user's code failed; the message is the one line to show."""


def line_in(source: str, tb, fallback: int | None = None) -> int | None:
    """The line of the innermost traceback frame inside the file `source` (where it failed)."""
    lines = [
        frame.lineno for frame in traceback.extract_tb(tb) if Path(frame.filename).resolve() == Path(source).resolve()
    ]
    return lines[-1] if lines else fallback


def describe(source: str, exc: BaseException, fallback: int | None = None) -> str:
    """'file.py:LINE: Kind: message' for an exception raised by (or while loading) the user's code."""
    if isinstance(exc, SyntaxError) and exc.filename and Path(exc.filename).resolve() == Path(source).resolve():
        line = exc.lineno
        message = exc.msg
    else:
        line = line_in(source, exc.__traceback__, fallback)
        message = str(exc).splitlines()[0] if str(exc) else ""
    where = f"{source}:{line}" if line else source
    return f"{where}: {type(exc).__name__}" + (f": {message}" if message else "")


def load_function(path: str, name: str = FUNCTION) -> Callable:
    """Import the file as a fresh module and return its function `name`; UserCodeError otherwise."""
    file = Path(path)
    if not file.is_file():
        raise UserCodeError(f"{path}: no such file: expected a Python file defining {name}(params, X)")
    # its own helpers importable, but last: a numpy.py or json.py beside it must not stand in for the real module
    # (the child process starts isolated, so the working folder is not on the path either: sandbox.py)
    if str(file.resolve().parent) not in sys.path:
        sys.path.append(str(file.resolve().parent))
    spec = importlib.util.spec_from_file_location(f"aelab_user_{abs(hash(str(file.resolve())))}", file)
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except BaseException as exc:  # SystemExit, KeyboardInterrupt from their code are theirs too
        raise UserCodeError(describe(path, exc)) from None
    function = getattr(module, name, None)
    if not callable(function):
        found = "is not a function" if hasattr(module, name) else "is not defined"
        raise UserCodeError(
            f"{path}: {name} {found}: expected def {name}(params, X) returning a dict of gradients "
            f"(aelab gradcheck --template writes a skeleton)"
        )
    return function


def _call_recording_return(function: Callable, params: dict, X: np.ndarray) -> tuple[object, int | None]:
    """Call function(params, X) and note the line of its `return` (for messages about what it returned)."""
    code, line = getattr(function, "__code__", None), [None]

    def profile(frame, event, arg):
        if event == "return" and frame.f_code is code:
            line[0] = frame.f_lineno

    previous = sys.getprofile()
    sys.setprofile(profile)
    try:
        return function(params, X), line[0]
    finally:
        sys.setprofile(previous)


def as_gradients(result: object, where: str, names: Sequence[str]) -> dict[str, np.ndarray]:
    """The returned dict's gradients of the parameters `names` as float64 arrays (other keys are
    ignored, a missing one is left for the grader to name); UserCodeError if it is not a dict, or a
    gradient is not numbers."""
    if not isinstance(result, Mapping):
        raise UserCodeError(
            f"{where}: returned {type(result).__name__}: expected a dict of gradients by parameter name"
        )
    arrays = {}
    for key, value in result.items():
        if key not in names:
            continue
        try:
            arrays[str(key)] = np.array(value, dtype=np.float64)
        except (TypeError, ValueError):
            raise UserCodeError(
                f"{where}: the gradient of {key} is {type(value).__name__}, not an array of numbers"
            ) from None
    return arrays


def run_function(
    function: Callable,
    source: str,
    problems: Sequence[tuple[dict, np.ndarray]],
) -> tuple[list[dict[str, np.ndarray] | str], int | None]:
    """Each problem's gradients, or its one-line error; and the line of the function's return."""
    results, return_line = [], None
    first_line = getattr(getattr(function, "__code__", None), "co_firstlineno", None)
    for index, (params, X) in enumerate(problems, start=1):
        copies = {name: array.copy() for name, array in params.items()}  # their code may write into them
        try:
            value, line = _call_recording_return(function, copies, X.copy())
            return_line = line or return_line
            where = f"{source}:{line}" if line else source
            results.append(as_gradients(value, where, list(params)))
        except UserCodeError as exc:
            results.append(f"{exc} (problem {index})")
        except (Exception, SystemExit) as exc:  # sys.exit() in their function is their failure too
            results.append(f"{describe(source, exc, first_line)} (problem {index})")
    return results, return_line
