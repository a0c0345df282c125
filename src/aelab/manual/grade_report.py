"""Grades as JSON or CSV (one row per file): what a teacher loads into a spreadsheet for a class.
(A grade's text block, what a student reads, is `str(grade)`: manual/grade.py.)"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Sequence

from aelab.manual.grade import Grade


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


def grade_row(grade: Grade) -> dict:
    """One file's grade as a JSON-ready dict (non-finite errors become null)."""
    return {
        "file": grade.source,
        "model": grade.exercise,
        "status": grade.status,
        "passed": grade.passed,
        "parameters": {
            p.name: {
                "passed": p.passed,
                "autograd_rel_error": _finite(p.autograd_error),
                "fd_rel_error": _finite(p.fd_error),
            }
            for p in grade.parameters
        },
        "mistakes": list(grade.mistakes),
        "failed_problems": list(grade.failed_problems),
        "diagnosis": grade.diagnosis,
        "fixes": list(grade.fixes),
        "errors": list(grade.errors),
    }


def to_json(grades: Sequence[Grade]) -> str:
    return json.dumps([grade_row(g) for g in grades], indent=2, allow_nan=False, ensure_ascii=False)


def to_csv(grades: Sequence[Grade], names: Sequence[str]) -> str:
    """file, model, status, one pass/FAIL column per parameter (empty if not graded), mistakes,
    failed problems, diagnosis, errors."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["file", "model", "status", *names, "mistakes", "failed_problems", "diagnosis", "errors"])
    for g in grades:
        results = {p.name: "pass" if p.passed else "FAIL" for p in g.parameters}
        writer.writerow(
            [
                g.source,
                g.exercise,
                g.status,
                *(results.get(name, "") for name in names),
                "; ".join(g.mistakes),
                " | ".join(g.failed_problems),
                g.diagnosis,
                " | ".join(g.errors),
            ]
        )
    return out.getvalue()
