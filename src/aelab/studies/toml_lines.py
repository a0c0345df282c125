"""Where a key sits in a TOML file, so that an error can name file:line.

`tomllib` returns plain dicts without positions, so the line is found again in the text: the
lines are walked with the table they belong to (`[name]`, the n-th `[[name]]`), and the first
`key =` inside the wanted table is the answer. This covers the study format (top-level keys and
`[[steps]]` tables); anything it cannot place falls back to the table's header, then to line 1.
"""

from __future__ import annotations

import re

HEADER = re.compile(r"^\s*(\[\[?)\s*([A-Za-z0-9_.\-\"' ]+?)\s*\]\]?\s*(#.*)?$")
ASSIGNMENT = re.compile(r"^\s*(?:\"([^\"]*)\"|'([^']*)'|([A-Za-z0-9_\-]+))\s*=")


def key_line(text: str, table: tuple, key: str | None = None) -> int:
    """1-based line of `key` in `table` (() top level, ("steps", i) the i-th [[steps]]); its header if key is None."""
    current: tuple = ()
    counts: dict[str, int] = {}
    header_line = None
    for number, line in enumerate(text.splitlines(), start=1):
        header = HEADER.match(line)
        if header:
            name = header.group(2).strip().strip("\"'")
            if header.group(1) == "[[":
                counts[name] = counts.get(name, -1) + 1
                current = (name, counts[name])
            else:
                current = (name,)
            if current == table:
                header_line = number
            continue
        if current != table or key is None:
            continue
        assignment = ASSIGNMENT.match(line)
        if assignment and key in assignment.groups():
            return number
    return header_line or 1
