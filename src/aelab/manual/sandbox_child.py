"""The grader's child process: run one user file on the problems, write what it returned.

`python -m aelab.manual.sandbox_child INPUTS OUTPUT TRACE FILE FUNCTION TIMEOUT`. INPUTS is an .npz
of the problems (p{i}_{name} for parameters, p{i}_X); OUTPUT gets an .npz of the gradients
(p{i}_{name}) and a JSON record under `meta`: per problem "ok" or its one-line error, the line of the
function's return, or a single error. faulthandler writes the user's stack to TRACE on a hang
(after TIMEOUT seconds, then exits) or a hard crash, so the parent can name the line.
Imports only NumPy and the standard library (no torch): the child starts in a fraction of a second.
"""

from __future__ import annotations

import faulthandler
import json
import sys

import numpy as np

from aelab.manual.usercode import UserCodeError, load_function, run_function


def read_problems(path: str) -> list[tuple[dict, np.ndarray]]:
    """The problems written by the parent, in order."""
    with np.load(path, allow_pickle=False) as data:
        count = int(data["count"])
        problems = []
        for index in range(count):
            prefix = f"p{index}_"
            params = {
                key[len(prefix) :]: data[key] for key in data.files if key.startswith(prefix) and key != f"{prefix}X"
            }
            problems.append((params, data[f"{prefix}X"]))
    return problems


def main(argv: list[str]) -> int:
    inputs, output, trace, source, function_name, timeout = argv
    sys.dont_write_bytecode = True  # leave no __pycache__ beside the user's file
    problems = read_problems(inputs)
    with open(trace, "w") as trace_file:
        faulthandler.enable(file=trace_file)
        faulthandler.dump_traceback_later(float(timeout), exit=True, file=trace_file)
        try:
            function = load_function(source, function_name)
            results, return_line = run_function(function, source, problems)
            meta = {"results": [r if isinstance(r, str) else "ok" for r in results], "return_line": return_line}
        except UserCodeError as exc:
            results, meta = [], {"error": str(exc)}
        faulthandler.cancel_dump_traceback_later()
    arrays = {
        f"p{index}_{name}": array
        for index, result in enumerate(results)
        if not isinstance(result, str)
        for name, array in result.items()
    }
    np.savez(output, meta=np.array(json.dumps(meta)), **arrays)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
