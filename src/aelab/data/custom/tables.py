"""Tables of numeric vectors: CSV or TSV, one row a sample (e.g. ECG beats, spectra), labels in one column.

Why a reader of our own rather than `np.loadtxt`: its errors say "could not convert string to float"
without a column and often without the line; a user with 100,000 rows needs `beats.csv:4012:17`.
The table is parsed by Python's `csv` module (quoting, both line endings); each cell is a number or
the one-line error names file:line:column. The first row is a header when any of its cells is not a
number. A label column (`--label-column`, by header name or 0-based index) holds whole numbers, or
names that become classes in sorted order. Without `--label-column`, a header naming a column like
labels (target, label, class, y) is refused rather than guessed; `--label-column none` keeps it a feature.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np

from aelab.data.custom.paths import TABLE_SUFFIXES
from aelab.data.custom.samples import FLOAT32_MAX, FLOAT32_RANGE, Part, Samples
from aelab.errors import DataError

LABEL_LIKE = ("target", "label", "class", "y")  # header names (any case) that are refused without --label-column
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
    rows = list(_rows(path))
    if not rows:
        raise DataError(f"{path}: empty table: expected one row per sample")
    header = rows[0][1] if any(_number(c) is None for c in rows[0][1]) else None
    body = rows[1:] if header is not None else rows
    width = len(rows[0][1])
    label_at = _label_index(label_column, header, width, path)
    if not body:
        raise DataError(f"{path}: a header and no rows: expected one row per sample")
    if label_at is not None and width < 2:
        raise DataError(f"{path}: one column, and it holds the labels: expected at least one feature column")
    values = np.empty((len(body), width - (label_at is not None)), dtype=np.float64)
    raw_labels: list[str] = []
    for r, (line, cells) in enumerate(body):
        if len(cells) != width:
            raise DataError(
                f"{path}:{line}: {len(cells)} cells: expected {width}, as on line {rows[0][0]} (a ragged table)"
            )
        j = 0
        for c, text in enumerate(cells):
            if c == label_at:
                raw_labels.append(text.strip())
                continue
            number = _number(text)
            if number is None or not math.isfinite(number):
                what = "not a number" if number is None else "not a finite number"
                raise DataError(
                    f"{path}:{line}:{c + 1}: {text.strip()[:40]!r} is {what}: expected a finite number in every "
                    "feature cell"
                )
            if abs(number) > FLOAT32_MAX:  # finite in float64, but inf once the table becomes float32
                raise DataError(
                    f"{path}:{line}:{c + 1}: {text.strip()[:40]!r} is beyond float32's range: {FLOAT32_RANGE}"
                )
            values[r, j] = number
            j += 1
    labels, class_names = _labels(raw_labels, path) if label_at is not None else (None, None)
    columns = None if header is None else tuple(name.strip() for c, name in enumerate(header) if c != label_at)
    return Samples(path, "table", Part(values.astype(np.float32), labels), None, class_names, (path,), columns=columns)


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
