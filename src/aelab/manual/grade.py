"""One file's grade, and its text block: what a student reads after `aelab gradcheck --impl`."""

from __future__ import annotations

from dataclasses import dataclass

from aelab.manual.study_checks import FD_TOLERANCE

# What passes, on the normwise relative error (gradcheck's measure) of each parameter, the worst over the
# problems. Any float64 ordering of the sums lands far below 1e-8 against autograd; the smallest mistake
# of any catalogue moves a gradient by more than 1e-2. Finite differences carry their own rounding (1e-6).
AUTOGRAD_TOLERANCE = 1e-8
PASS_RULE = (
    f"pass: relative error ≤ {AUTOGRAD_TOLERANCE:g} vs autograd and ≤ {FD_TOLERANCE:g} vs finite differences "
    "on every problem (normwise, as docs/gradients.md defines it)"
)
STATUS_WORDS = {"pass": "PASS", "fail": "FAIL", "error": "ERROR"}


@dataclass(frozen=True)
class ParameterResult:
    name: str
    passed: bool
    autograd_error: float  # the worst normwise relative error over the problems that ran
    fd_error: float


@dataclass(frozen=True)
class Grade:
    """One file's grade. status: "pass", "fail" (some gradient wrong, or an error on some problem)
    or "error" (nothing could be graded)."""

    source: str
    exercise: str
    status: str
    parameters: tuple[ParameterResult, ...]
    mistakes: tuple[str, ...]  # the names of the matched mistake(s); empty if none
    diagnosis: str  # one line
    fixes: tuple[str, ...]  # the equations that fix the matched mistake(s)
    errors: tuple[str, ...]  # one line each, naming the file (and line)
    failed_problems: tuple[str, ...] = ()  # 'problem 3 of 4: a dead hidden unit (n=6, widths 6-4-6)', each

    @property
    def passed(self) -> bool:
        return self.status == "pass"

    def __str__(self) -> str:
        return to_text(self)


def to_text(grade: Grade) -> str:
    """A block: the verdict and diagnosis, a table of the parameters and what passes, the problems
    failed, the errors."""
    lines = [f"{grade.source}: {STATUS_WORDS[grade.status]} ({grade.exercise}) — {grade.diagnosis}"]
    if grade.parameters:
        rows = [("parameter", "rel. error vs autograd", "rel. error vs finite differences", "result")]
        rows += [
            (p.name, f"{p.autograd_error:.2e}", f"{p.fd_error:.2e}", "pass" if p.passed else "FAIL")
            for p in grade.parameters
        ]
        widths = [max(len(row[i]) for row in rows) for i in range(4)]
        lines += ["  " + "  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows]
        lines.append(f"  {PASS_RULE}")
    lines += [f"  failed on {problem}" for problem in grade.failed_problems]
    lines += [f"  error: {message}" for message in grade.errors if message not in grade.diagnosis]
    return "\n".join(lines)
