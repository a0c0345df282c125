"""The limits a study file is held to, each with its reason, checked before anything is planned or written.

Why limits at all: a study file is text anyone may hand to `aelab run`, and without them a few
characters ask for what no machine gives — an array nested 3,000 deep (the TOML reader recurses once
per level and dies in a 3,000-line traceback), a whole number of 400 digits (no float holds it, and
the time estimate overflows), a grid of a million cells (a million run folders, planned and listed
one by one), or a folder name the file system refuses halfway through a study. Each limit is far
above what a real study uses; each refusal is one line naming the place and what was expected.
Everything here walks with loops, not recursion: a check must not fail on what it refuses.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

from aelab.studies.kinds import KINDS

MAX_NESTING = 16  # arrays and inline tables inside each other: a study needs 4 (steps, a step, a grid, a list value)
WHOLE_LIMIT = 2**63  # TOML's integers are 64-bit ("an error must be thrown" beyond, says the spec; tomllib reads any)
# Cells per study: each is a run folder (config, weights, figures: ~0.5 MB) and a row of the report, and even a
# --quick cell trains for seconds, so 10,000 cells are hours and gigabytes; a larger grid is a typo (a range
# written out where one value was meant), and checking and planning its cells alone would take minutes.
MAX_CELLS = 10_000
NAME_MAX = 255  # bytes in one folder name: ext4, XFS, ZFS, APFS (NTFS: 255 UTF-16 units)
PATH_MAX = 4096  # bytes in a whole path on Linux (macOS: 1024; its own error says so there)
PATH_ROOM = 64  # what a run folder adds below itself: its longest file name and a temporary file's suffix
SHOWN = 60  # characters of a value quoted in an error; a longer one is cut in the middle
LINE_MAX = 1000  # characters of one error line (the longest list of known keys fits); a huge value quoted is cut


def shown(value) -> str:
    """`repr(value)`, cut to SHOWN characters in the middle ('xxxx…xxxx'): an error line stays one readable line."""
    text = repr(value)
    return text if len(text) <= SHOWN else f"{text[: SHOWN // 2]}…{text[-SHOWN // 2 :]}"


BREAKS = {ord(c): repr(c)[1:-1] for c in "\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029"}  # what str.splitlines splits on


def one_line(line: str) -> str:
    """`line` as one line — a line break in a quoted name (a data set called "a\\nb") written as its escape — cut in
    the middle to LINE_MAX characters, keeping its start (file:line: key) and its end (expected …)."""
    line, half = line.translate(BREAKS), (LINE_MAX - 3) // 2
    return line if len(line) <= LINE_MAX else f"{line[:half]} … {line[-half:]}"


def value_problem(data: dict) -> tuple[tuple, str, str] | None:
    """The first top-level entry (or key of a [[steps]] or [ray] table) holding a value nested deeper than
    MAX_NESTING or a whole number beyond 64 bits, as (table, key, problem); None when all are within the limits."""
    for table, key, value in entries(data):
        depth, stack = 0, [(value, 0)]
        while stack:
            item, level = stack.pop()
            if isinstance(item, (list, dict)):
                depth = max(depth, level + 1)
                stack += [(child, level + 1) for child in (item.values() if isinstance(item, dict) else item)]
            elif isinstance(item, int) and not isinstance(item, bool) and not -WHOLE_LIMIT <= item < WHOLE_LIMIT:
                return table, key, f"{shown(item)}: expected a whole number within TOML's 64 bits (±9.2e18)"
        if depth > MAX_NESTING:
            return table, key, f"nested {depth} levels deep: expected at most {MAX_NESTING}"
    return None


def entries(data: dict):
    """(table, key, value) of every key of the document, a [[steps]] table's and a [ray] table's keys by their own."""
    for key, value in data.items():
        if key == "steps" and isinstance(value, list) and all(isinstance(step, dict) for step in value):
            yield from ((("steps", i), k, v) for i, step in enumerate(value) for k, v in step.items())
        elif key == "ray" and isinstance(value, dict):
            yield from ((("ray",), k, v) for k, v in value.items())
        else:
            yield (), key, value


def text_nesting(text: str) -> tuple[int, int]:
    """(deepest nesting of brackets and braces, its line) in TOML text, strings and comments left out: where the
    TOML reader itself ran out of stack, so the refusal can still say how deep and where."""
    depth = deepest = i = 0
    line = where = 1
    quote = None
    while i < len(text):
        char = text[i]
        if char == "\n":
            line += 1
        if quote is not None:  # inside a string: only its end (or an escape in a basic string) matters
            if char == "\\" and quote[0] == '"':
                i += 1
                line += text[i : i + 1] == "\n"
            elif text.startswith(quote, i):
                i, quote = i + len(quote) - 1, None
        elif char == "#":
            end = text.find("\n", i)
            i = (len(text) if end < 0 else end) - 1  # the newline itself is counted above, next time round
        elif char in "\"'":
            quote = char * 3 if text.startswith(char * 3, i) else char
            i += len(quote) - 1
        elif char in "[{":
            depth += 1
            if depth > deepest:
                deepest, where = depth, line
        elif char in "]}":
            depth = max(depth - 1, 0)
        i += 1
    return deepest, where


def cells_problem(steps, datasets: tuple[str, ...]) -> tuple[tuple, str | None, str] | None:
    """The step whose grid holds more than MAX_CELLS cells, or the whole study when its steps together do, as
    (table, key, problem), naming the count and the product that made it; None within the limit."""
    counts = []
    for i, step in enumerate(steps):
        sizes = [f"{len(values):,} {key}" for key, values in step.settings if len(values) > 1]
        per_dataset = KINDS[step.kind].per_dataset and KINDS[step.kind].config is not None
        if per_dataset and len(datasets) > 1:
            sizes.append(f"{len(datasets)} data sets")
        count = math.prod(len(values) for _, values in step.settings) * (len(datasets) if per_dataset else 1)
        if count > MAX_CELLS:
            return ("steps", i), None, f"a grid of {count:,} cells ({' × '.join(sizes)}): {expected_cells()}"
        counts.append((step.name, count))
    total = sum(count for _, count in counts)
    if total > MAX_CELLS:
        parts = " + ".join(f"{name} {count:,}" for name, count in counts)
        return (), None, f"{total:,} cells in all ({parts}): {expected_cells()}"
    return None


def expected_cells() -> str:
    return f"expected at most {MAX_CELLS:,} per study (split the grid into studies, or choose fewer values)"


def name_problem(name: str) -> str | None:
    """Why the file system would refuse `name` as one file or folder name (a NUL, too many bytes), or None."""
    if "\0" in name:
        return "holds a NUL character"
    try:
        size = len(os.fsencode(name))
    except UnicodeEncodeError:
        return "holds a character no file name can hold (a lone surrogate)"
    return None if size <= NAME_MAX else f"a name of {size:,} bytes"


def path_problem(path: str | os.PathLike) -> str | None:
    """Why the file system would refuse `path` with room for a run folder's files below it, or None."""
    text = os.fspath(path)
    parts = Path(text).parts
    for part in parts:
        problem = name_problem(part)
        if problem is not None:
            return problem if len(parts) == 1 else f"{shown(part)}: {problem}"
    size = len(os.fsencode(os.path.abspath(text)))
    return None if size + PATH_ROOM <= PATH_MAX else f"a path of {size:,} bytes"


def expected_path() -> str:
    return (
        f"expected names of at most {NAME_MAX} bytes without NUL, in a path of at most {PATH_MAX - PATH_ROOM:,} "
        "bytes (what the file system takes, less room for a run folder's files)"
    )
