"""Tables of numeric vectors: CSV or TSV, one row a sample (e.g. ECG beats, spectra), labels in one column.

Two readers, one result. NumPy's `loadtxt` (C, streaming: it holds only the float32 array it builds) reads
a table that is clean; its errors, though, say "could not convert string to float" with a row count that
skips blank lines, and a user with 100,000 rows needs `beats.csv:4012:17`. So anything it refuses, and
any value that is not finite in float32, sends the table to the careful reader: Python's `csv` module
(quoting, both line endings), each cell a number or a one-line error naming file:line:column, rows
gathered in float32 blocks (never a list of Python strings per cell, which took 24× the array). Both
parse a cell as a float64 and round it to float32, so they give the same bits. Before either allocates,
the rows are counted (newlines, at disk speed) and the table's size checked against the memory limit
(memory_limit.py). The first row is a header when any of its cells is not a number. A label column
(`--label-column`, by header name or 0-based index) holds whole numbers, or names that become classes in
sorted order. Without `--label-column`, a header naming a column like labels (target, label, class, y) is
refused rather than guessed; `--label-column none` keeps it a feature.
"""

from __future__ import annotations

import csv
import itertools
import math
import warnings
from pathlib import Path

import numpy as np

from aelab.data.custom.memory_limit import check_values
from aelab.data.custom.paths import TABLE_SUFFIXES
from aelab.data.custom.samples import FLOAT32_OVERFLOW, FLOAT32_RANGE, Part, Samples
from aelab.errors import DataError

LABEL_LIKE = ("target", "label", "class", "y")  # header names (any case) that are refused without --label-column
BLOCK_ROWS = 4096  # the careful reader gathers rows in float32 blocks of this many
BLOCK_BYTES = 1 << 20  # lines are counted in reads of this size
NO_LABELS = "none"  # --label-column none: no labels, every column a feature (a column named like labels included)


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _rows(path: Path):
    """(line number, cells) of every non-blank row; an unreadable or undecodable file is a DataError."""
    delimiter = TABLE_SUFFIXES.get(path.suffix.lower(), ",")
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            reader = csv.reader(f, delimiter=delimiter, strict=True)
            for cells in reader:
                if cells and any(c.strip() for c in cells):
                    yield reader.line_num, cells
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: not UTF-8 text (byte {exc.start}): expected a CSV/TSV table of numbers") from None
    except csv.Error as exc:
        raise DataError(f"{path}:{reader.line_num}: {exc}: expected a CSV/TSV table of numbers") from None
    except OSError as exc:
        raise DataError(f"{path}: cannot read: {exc.strerror}") from None


def _label_index(label_column: str | None, header: list[str] | None, width: int, path: Path) -> int | None:
    if label_column is None:
        _refuse_label_like(header, path)
        return None
    if label_column == NO_LABELS:
        return None
    if header is not None and label_column in header:
        return header.index(label_column)
    if label_column.isdigit() and int(label_column) < width:
        return int(label_column)
    names = f" (the header names {', '.join(header)})" if header is not None else ""
    raise DataError(
        f"{path}: no column {label_column!r}{names}: expected a header name or a 0-based index below {width}"
    )


def _refuse_label_like(header: list[str] | None, path: Path) -> None:
    """Without --label-column, a column named like labels is not guessed either way: read as a feature, it would
    leak the answer into every code; read as labels, a real feature named `y` would be lost. The user says which."""
    for name in header or ():
        if name.strip().lower() in LABEL_LIKE:
            raise DataError(
                f"{path}: column {name.strip()!r} looks like labels: expected --label-column {name.strip()} "
                f"(or --label-column {NO_LABELS} to keep it as a feature)"
            )


def read_table(path: Path, label_column: str | None = None) -> Samples:
    """A CSV/TSV table → samples float32 (n, features) and, with `label_column`, labels."""
    first = next(_rows(path), None)
    if first is None:
        raise DataError(f"{path}: empty table: expected one row per sample")
    first_line, cells = first
    header = cells if any(_number(c) is None for c in cells) else None
    width = len(cells)
    label_at = _label_index(label_column, header, width, path)
    if label_at is not None and width < 2:
        raise DataError(f"{path}: one column, and it holds the labels: expected at least one feature column")
    rows = count_lines(path) - (first_line if header is not None else 0)
    check_values(str(path), rows * (width - (label_at is not None)), f"{rows} rows of {width} columns")
    read = _loaded(path, first_line if header is not None else 0, width, label_at)
    values, raw_labels = read if read is not None else _parsed(path, header is not None, width, label_at)
    if not len(values):
        raise DataError(f"{path}: a header and no rows: expected one row per sample")
    labels, class_names = _labels(raw_labels, path) if label_at is not None else (None, None)
    columns = None if header is None else tuple(name.strip() for c, name in enumerate(header) if c != label_at)
    return Samples(path, "table", Part(values, labels), None, class_names, (path,), columns=columns)


def count_lines(path: Path) -> int:
    """Newlines in the file (plus a last line without one): an upper bound on its rows, read at disk speed."""
    count, last = 0, b"\n"
    with open(path, "rb") as f:
        while block := f.read(BLOCK_BYTES):
            count, last = count + block.count(b"\n"), block[-1:]
    return count + (last != b"\n")


def _loaded(path: Path, skip: int, width: int, label_at: int | None) -> tuple[np.ndarray, list[str]] | None:
    """(float32 values, raw labels) by NumPy's C reader, or None where it refuses the table or finds a value that is
    not finite in float32 (the careful reader then names the cell) or a row of another width."""
    delimiter = TABLE_SUFFIXES.get(path.suffix.lower(), ",")
    options = {"delimiter": delimiter, "skiprows": skip, "comments": None, "quotechar": '"', "encoding": "utf-8-sig"}
    features = [c for c in range(width) if c != label_at]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # an empty table, or overflow to inf: both go to the careful reader
            if label_at is not None and not _same_widths(path, skip, width, delimiter):
                return None  # loadtxt with usecols would not see a ragged row
            values = np.loadtxt(path, dtype=np.float32, usecols=features, ndmin=2, **options)
            labels = None if label_at is None else np.loadtxt(path, dtype=str, usecols=[label_at], ndmin=1, **options)
    except (ValueError, UnicodeDecodeError, OSError):
        return None
    if values.shape[1] != len(features) or not np.isfinite(values).all():
        return None
    return values, ([] if labels is None else [text.strip() for text in labels.tolist()])


def _same_widths(path: Path, skip: int, width: int, delimiter: str) -> bool:
    """Whether every non-blank line after `skip` has width − 1 delimiters (a quoted delimiter fails it: then the
    careful reader decides)."""
    mark = delimiter.encode()
    with open(path, "rb") as f:
        for number, line in enumerate(f, 1):
            if number > skip and line.strip() and line.count(mark) != width - 1:
                return False
    return True


def _parsed(path: Path, has_header: bool, width: int, label_at: int | None) -> tuple[np.ndarray, list[str]]:
    """(float32 values, raw labels) by the csv module, cell by cell, gathered in float32 blocks; every fault a
    one-line DataError naming file:line:column."""
    rows = _rows(path)
    first_line, first_cells = next(rows)
    if not has_header:
        rows = itertools.chain([(first_line, first_cells)], rows)
    features = width - (label_at is not None)
    blocks, block, raw_labels = [], np.empty((BLOCK_ROWS, features), dtype=np.float32), []
    filled = 0
    for line, cells in rows:
        if len(cells) != width:
            raise DataError(
                f"{path}:{line}: {len(cells)} cells: expected {width}, as on line {first_line} (a ragged table)"
            )
        if label_at is not None:
            raw_labels.append(cells[label_at].strip())
        block[filled] = [_cell(path, line, c, text) for c, text in enumerate(cells) if c != label_at]
        filled += 1
        if filled == BLOCK_ROWS:
            blocks.append(block)
            block, filled = np.empty_like(block), 0
    blocks.append(block[:filled])
    return np.concatenate(blocks) if len(blocks) > 1 else blocks[0].copy(), raw_labels


def _cell(path: Path, line: int, c: int, text: str) -> float:
    """One feature cell as a float, or the one-line error naming it."""
    number = _number(text)
    if number is None or not math.isfinite(number):
        what = "not a number" if number is None else "not a finite number"
        raise DataError(
            f"{path}:{line}:{c + 1}: {text.strip()[:40]!r} is {what}: expected a finite number in every feature cell"
        )
    if abs(number) >= FLOAT32_OVERFLOW:  # finite in float64, but inf once the table becomes float32
        raise DataError(f"{path}:{line}:{c + 1}: {text.strip()[:40]!r} is beyond float32's range: {FLOAT32_RANGE}")
    return number


def _labels(raw: list[str], path: Path) -> tuple[np.ndarray, tuple[str, ...]]:
    """Labels as indices into the class names: the distinct labels in order (numerically when all are whole numbers)."""
    numbers = [_number(text) for text in raw]
    if all(n is not None and math.isfinite(n) and n == int(n) for n in numbers):
        values = [int(n) for n in numbers]
        names = [str(v) for v in sorted(set(values))]
        raw = [str(v) for v in values]
    else:
        names = sorted(set(raw))
    index = {name: i for i, name in enumerate(names)}
    return np.array([index[text] for text in raw], dtype=np.int64), tuple(names)
