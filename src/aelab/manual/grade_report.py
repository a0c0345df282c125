"""Grades as text (one block per file), JSON or CSV (one row per file): what a student reads, and
what a teacher loads into a spreadsheet for a class."""

from __future__ import annotations

import csv
import io
import json
import math
from typing import Sequence

from aelab.manual.grading import Grade

STATUS_WORDS = {"pass": "PASS", "fail": "FAIL", "error": "ERROR"}


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


def grade_row(grade: Grade) -> dict:
    """One file's grade as a JSON-ready dict (non-finite errors become null)."""
    return {
        "file": grade.source, "model": grade.exercise, "status": grade.status, "passed": grade.passed,
        "parameters": {p.name: {"passed": p.passed, "autograd_rel_error": _finite(p.autograd_error),
                                "fd_rel_error": _finite(p.fd_error)} for p in grade.parameters},
        "mistakes": list(grade.mistakes), "diagnosis": grade.diagnosis, "fixes": list(grade.fixes),
        "errors": list(grade.errors),
    }


def to_json(grades: Sequence[Grade]) -> str:
    return json.dumps([grade_row(g) for g in grades], indent=2, allow_nan=False, ensure_ascii=False)


def to_csv(grades: Sequence[Grade], names: Sequence[str]) -> str:
    """file, model, status, one pass/FAIL column per parameter (empty if not graded), mistakes,
    diagnosis, errors."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["file", "model", "status", *names, "mistakes", "diagnosis", "errors"])
    for g in grades:
        results = {p.name: "pass" if p.passed else "FAIL" for p in g.parameters}
        writer.writerow([g.source, g.exercise, g.status, *(results.get(name, "") for name in names),
                         "; ".join(g.mistakes), g.diagnosis, " | ".join(g.errors)])
    return out.getvalue()


def to_text(grade: Grade) -> str:
    """A block: the verdict and diagnosis, a table of the parameters, the errors."""
    lines = [f"{grade.source}: {STATUS_WORDS[grade.status]} ({grade.exercise}) — {grade.diagnosis}"]
    if grade.parameters:
        rows = [("parameter", "vs autograd", "vs finite differences", "result")]
        rows += [(p.name, f"{p.autograd_error:.2e}", f"{p.fd_error:.2e}", "pass" if p.passed else "FAIL")
                 for p in grade.parameters]
        widths = [max(len(row[i]) for row in rows) for i in range(4)]
        lines += ["  " + "  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows]
    lines += [f"  error: {message}" for message in grade.errors if message not in grade.diagnosis]
    return "\n".join(lines)
