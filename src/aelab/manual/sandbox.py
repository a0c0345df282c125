"""Run users' gradient files in child processes with a time limit, several at a time.

A child process, because the code is someone else's: an endless loop, a crash of the interpreter,
`sys.exit()` or a module that never finishes importing must cost one line in the grade of that file
and nothing else — the other files of a batch are still graded. The child (`sandbox_child`) arms
faulthandler, so both a hang and a hard crash leave the user's stack behind and the line can be named.
What the child starts dies with it, and a signal to the grader kills every child (`children`). Its
stderr goes to a file and only the tail is read: a submission printing without end costs disk, not memory.
"""

from __future__ import annotations

import json
import os
import re
import signal
import sys
import tempfile
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import BinaryIO

import numpy as np

from aelab.manual.children import Children, GradingInterrupted
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
STDERR_TAIL = 64 * 1024  # bytes of the child's stderr read back: its last line is all a message quotes
LAST_LINE = 200  # characters of that line quoted
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


def read_tail(file: BinaryIO, size: int = STDERR_TAIL) -> tuple[str, int]:
    """The last `size` bytes of the child's stderr (a file it wrote), as text; and the length of it all.

    Only the tail is read: a submission may print without end, and the grader must not hold it all."""
    total = file.seek(0, os.SEEK_END)
    file.seek(max(0, total - size))
    return file.read().decode(errors="replace"), total


def _last_line(stderr: str, total: int) -> str:
    """The last line the child wrote, cut to a readable length; how much there was when the tail was cut."""
    lines = stderr.strip().splitlines()
    last = lines[-1].strip() if lines else "no message"
    last = last if len(last) <= LAST_LINE else last[: LAST_LINE - 1] + "…"
    return last if total <= STDERR_TAIL else f"{last}; the last line of {total / 1e6:.1f} MB on stderr"


def _failure(source: str, returncode: int | None, trace: str, timeout: float, stderr: str, total: int) -> str:
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
    last = _last_line(stderr, total)
    return f"{where}: the process exited with code {returncode} before gradients returned ({last})"


def child_command(folder: str, source: str, timeout: float, function: str) -> list[str]:
    """The command line of the child that runs `source` on the problems written in `folder`."""
    return [
        sys.executable,
        "-I",  # isolated: neither the working folder nor PYTHONPATH can put a module of theirs before ours
        "-c",
        CHILD,
        PACKAGE_ROOT,
        *(str(Path(folder, name)) for name in ("in.npz", "out.npz", "trace.txt")),
        source,
        function,
        str(timeout),
    ]


def run_file(
    source: str,
    problems: Sequence[Problem],
    timeout: float,
    function: str = FUNCTION,
    children: Children | None = None,
) -> UserRun:
    """The user's file run on every problem in a child process, at most `timeout` seconds. Its stderr goes
    to a file of the temporary folder, of which only the tail is read; the folder is removed however the
    child ends (ChildrenStopped if `children` was stopped meanwhile)."""
    children = children or Children()
    with tempfile.TemporaryDirectory(prefix="aelab-grade-") as folder:
        output, trace = Path(folder, "out.npz"), Path(folder, "trace.txt")
        write_problems(Path(folder, "in.npz"), problems)
        env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
        with open(Path(folder, "stderr.txt"), "w+b") as stderr:
            returncode = children.run(
                child_command(folder, source, timeout, function), stderr, env, timeout + KILL_GRACE
            )
            tail, total = read_tail(stderr)
        trace_text = trace.read_text(errors="replace") if trace.exists() else ""
        if returncode != 0 or not output.exists():
            return UserRun(error=_failure(source, returncode, trace_text, timeout, tail, total))
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
    """Every file run as by `run_file`, `workers` at a time (default: one per core), in order.

    Interrupted (GradingInterrupted, from `children.grading_signals`, or any other exception), it kills
    every running child's process group, starts no other, waits for the workers to remove their
    folders, and raises GradingInterrupted again with the files that have no run counted."""
    workers = workers or max(1, min(len(sources), os.cpu_count() or 1))
    children, futures = Children(), []
    pool = ThreadPoolExecutor(max_workers=workers)
    try:
        for source in sources:
            futures.append(pool.submit(run_file, source, problems, timeout, children=children))
        return [future.result() for future in futures]
    except BaseException as stop:
        children.stop()
        pool.shutdown(wait=True, cancel_futures=True)
        if isinstance(stop, GradingInterrupted):
            ran = sum(f.done() and not f.cancelled() and f.exception() is None for f in futures)
            raise GradingInterrupted(stop.signum, len(sources) - ran, len(sources)) from None
        raise
    finally:
        pool.shutdown(wait=True)
