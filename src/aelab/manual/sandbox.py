"""Run users' gradient files in child processes with a time limit, several at a time.

A child process, because the code is someone else's: an endless loop, a crash of the interpreter,
`sys.exit()` or a module that never finishes importing must cost one line in the grade of that file
and nothing else — the other files of a batch are still graded. The child (`sandbox_child`) arms
faulthandler, so both a hang and a hard crash leave the user's stack behind and the line can be named.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from aelab.manual.grading import UserRun
from aelab.manual.problems import Problem
from aelab.manual.usercode import FUNCTION

# The child's entry: aelab's own folder first on the path (isolated mode left only the installed packages), then
# sandbox_child.main with the rest of the arguments. By path, not `-m`, which would put the working folder first.
CHILD = (
    "import sys; sys.path.insert(0, sys.argv[1]); "
    "from aelab.manual.sandbox_child import main; sys.exit(main(sys.argv[2:]))"
)
PACKAGE_ROOT = str(Path(__file__).resolve().parents[2])  # the folder holding the aelab package
KILL_GRACE = 10.0  # seconds past the child's own time limit before the parent kills it outright
_FRAME = re.compile(r'File "(?P<file>.+)", line (?P<line>\d+)')


def write_problems(path: Path, problems: Sequence[Problem]) -> None:
    """The problems as the child reads them (sandbox_child.read_problems)."""
    arrays = {f"p{index}_{name}": array for index, p in enumerate(problems) for name, array in p.params.items()}
    arrays.update({f"p{index}_X": p.X for index, p in enumerate(problems)})
    np.savez(path, count=np.array(len(problems)), **arrays)


def trace_line(trace: str, source: str) -> int | None:
    """The innermost line of `source` in a faulthandler dump (which lists the innermost call first)."""
    for match in _FRAME.finditer(trace):
        if Path(match["file"]).resolve() == Path(source).resolve():
            return int(match["line"])
    return None


def _failure(source: str, returncode: int, trace: str, timeout: float, stderr: str) -> str:
    """The one line for a child that left no result: a hang, a crash, or an early exit."""
    line = trace_line(trace, source)
    where = f"{source}:{line}" if line else source
    if "Timeout (" in trace or returncode is None:
        return f"{where}: did not finish within {timeout:g} s (an endless loop? raise --timeout if it is only slow)"
    if returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = f"signal {-returncode}"
        return f"{where}: crashed: the process was killed by {name}"
    if "Fatal Python error" in trace:
        return f"{where}: crashed: {trace.splitlines()[0].strip()}"
    last = stderr.strip().splitlines()[-1] if stderr.strip() else "no message"
    return f"{where}: the process exited with code {returncode} before gradients returned ({last})"


def run_file(source: str, problems: Sequence[Problem], timeout: float, function: str = FUNCTION) -> UserRun:
    """The user's file run on every problem in a child process, at most `timeout` seconds."""
    with tempfile.TemporaryDirectory(prefix="aelab-grade-") as folder:
        inputs, output, trace = Path(folder, "in.npz"), Path(folder, "out.npz"), Path(folder, "trace.txt")
        write_problems(inputs, problems)
        env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
        command = [
            sys.executable,
            "-I",  # isolated: neither the working folder nor PYTHONPATH can put a module of theirs before ours
            "-c",
            CHILD,
            PACKAGE_ROOT,
            str(inputs),
            str(output),
            str(trace),
            source,
            function,
            str(timeout),
        ]
        child = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            env=env,
            start_new_session=True,
            text=True,
            errors="replace",
        )
        try:
            _, stderr = child.communicate(timeout=timeout + KILL_GRACE)
            returncode = child.returncode
        except subprocess.TimeoutExpired:
            os.killpg(child.pid, signal.SIGKILL)  # its whole session: anything it started goes too
            _, stderr = child.communicate()
            returncode = None
        trace_text = trace.read_text(errors="replace") if trace.exists() else ""
        if returncode != 0 or not output.exists():
            return UserRun(error=_failure(source, returncode, trace_text, timeout, stderr))
        return read_run(output)


def read_run(path: Path) -> UserRun:
    """The child's output as a UserRun."""
    with np.load(path, allow_pickle=False) as data:
        meta = json.loads(str(data["meta"]))
        if "error" in meta:
            return UserRun(error=meta["error"])
        results = []
        for index, status in enumerate(meta["results"]):
            prefix = f"p{index}_"
            results.append(
                status
                if status != "ok"
                else {key[len(prefix) :]: data[key] for key in data.files if key.startswith(prefix)}
            )
    return UserRun(tuple(results), return_line=meta["return_line"])


def run_files(
    sources: Sequence[str], problems: Sequence[Problem], timeout: float, workers: int | None = None
) -> list[UserRun]:
    """Every file run as by `run_file`, `workers` at a time (default: one per core), in order."""
    workers = workers or max(1, min(len(sources), os.cpu_count() or 1))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(lambda source: run_file(source, problems, timeout), sources))
