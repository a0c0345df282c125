"""Grade a user's gradients: each parameter against autograd and finite differences, then a diagnosis.

The diagnosis compares numbers, not code: the user's gradients are compared with what each
classic mistake of the exercise's catalogue gives on the same problems (`aelab.manual.mistakes`).
A mistake is named only if it reproduces *every* gradient on *every* problem the code ran on,
so a right parameter must stay right under it too; failing that, every pair of mistakes is tried;
failing that, if every gradient is the right one times one constant (`aelab.manual.factors`), the
factor is named, with its cause when one is known (a mean over all n·D entries, a sum over the batch…);
failing that, the wrong parameters are listed with their errors, and no mistake is named.

Per-problem results, because some mistakes show as failures on some problems only: a transposed
product has the wrong shape (or cannot be computed) unless D = H, where only the numbers tell.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from aelab.manual.exercises import Exercise
from aelab.manual.factors import Scaling, find_scaling, sentence
from aelab.manual.grade import AUTOGRAD_TOLERANCE, Grade, ParameterResult
from aelab.manual.layered import gradients
from aelab.manual.mistakes import Mistake, catalogue, combine, fix_line, pairs
from aelab.manual.problems import Problem, References, references, sample_problems
from aelab.manual.study_checks import FD_TOLERANCE, errors

# On the normwise relative error, as AUTOGRAD_TOLERANCE (manual/grade.py): how closely a mistake's
# gradients must reproduce the user's to be named.
MATCH_TOLERANCE = 1e-8
PRECISION_ONLY = 1e-4  # wrong by less than this everywhere: float32 rounding (~1e-7), not a derivation mistake

Gradients = dict[str, np.ndarray]


@dataclass(frozen=True)
class UserRun:
    """What the user's code gave: per problem, its gradients or the one-line error it raised
    (exactly one of the two); `error` alone when nothing ran (a syntax error, a hang…)."""

    results: tuple[Gradients | str, ...] = ()
    error: str | None = None
    return_line: int | None = None  # the line of the user function's `return`, for messages


def _predict(exercise: Exercise, mistake: Mistake, problem: Problem) -> Gradients | None:
    """The mistake's gradients on the problem, or None where the mistake cannot even be computed
    or gives a wrong shape (a transposed product when D ≠ H)."""
    try:
        predicted = gradients(exercise.model, problem.params, problem.X, mistake.swaps(exercise.model))
    except ValueError:  # NumPy's matmul shape mismatch
        return None
    shapes_ok = all(predicted[name].shape == array.shape for name, array in problem.params.items())
    return predicted if shapes_ok else None


def _matches(user: Sequence[Gradients | None], predicted: Sequence[Gradients | None]) -> bool:
    """Whether the prediction reproduces every parameter's user gradient on every problem the code ran on."""
    ran = [(u, p) for u, p in zip(user, predicted) if u is not None]
    return bool(ran) and all(
        p is not None and all(errors(u[name], p[name])[1] <= MATCH_TOLERANCE for name in p) for u, p in ran
    )


class Grader:
    """Grades any number of runs of one exercise; the problems, both references and the mistakes'
    predictions are computed once and shared."""

    def __init__(self, exercise: Exercise, seed: int = 0):
        self.exercise = exercise
        self.problems = sample_problems(exercise, seed)
        self.references: list[References] = [references(exercise.model, p) for p in self.problems]
        self.singles = catalogue(exercise.model)
        self._predictions: dict[str, list[Gradients | None]] = {}

    def predictions(self, *made: Mistake) -> list[Gradients | None]:
        """What the code gives on each problem with these mistakes made (one, or two at once)."""
        mistake = made[0] if len(made) == 1 else combine(*made)
        if mistake.name not in self._predictions:
            self._predictions[mistake.name] = [_predict(self.exercise, mistake, p) for p in self.problems]
        return self._predictions[mistake.name]

    def diagnose(self, user: Sequence[Gradients | None]) -> tuple[Mistake, ...]:
        """The single mistake that reproduces the user's gradients, else the pair, else ()."""
        for mistake in self.singles:
            if _matches(user, self.predictions(mistake)):
                return (mistake,)
        for pair in pairs(self.singles):
            if _matches(user, self.predictions(*pair)):
                return pair
        return ()

    def parameter_results(self, user: Sequence[Gradients | None]) -> tuple[ParameterResult, ...]:
        rows = []
        for name in self.exercise.model.parameter_names():
            ran = [(u[name], r) for u, r in zip(user, self.references) if u is not None]
            auto = max(errors(g, r.autograd[name])[1] for g, r in ran)
            fd = max(errors(g, r.finite_differences[name])[1] for g, r in ran)
            rows.append(ParameterResult(name, passes(auto, fd), auto, fd))
        return tuple(rows)

    def failed_problems(self, user: Sequence[Gradients | None]) -> tuple[str, ...]:
        """'problem 3 of 4: a dead hidden unit (n=6, widths 6-4-6)' for each problem some gradient failed
        on, or the code raised on: which problems fail tells which kind of mistake it is."""
        failed = []
        for index, (u, problem, r) in enumerate(zip(user, self.problems, self.references), start=1):
            if u is not None and all(
                passes(errors(u[n], r.autograd[n])[1], errors(u[n], r.finite_differences[n])[1]) for n in r.autograd
            ):
                continue
            why = " (the code failed there: see the errors)" if u is None else ""
            failed.append(f"problem {index} of {len(self.problems)}: {problem.describe()}{why}")
        return tuple(failed)

    def named(self, found: tuple[Mistake, ...], scaling: Scaling | None) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """The names of what was diagnosed and the lines of docs/gradients.md that fix it."""
        model = self.exercise.model
        if found:
            fixes = dict.fromkeys(line for m in found for line in m.fix(model).split("; "))
            return tuple(m.name for m in found), tuple(fixes)
        if scaling and scaling.cause:
            return (scaling.cause.name,), (fix_line(model, ("loss", model.n_layers)),)
        return (), ()

    def grade(self, source: str, run: UserRun) -> Grade:
        """Check the run's gradients (shape and finiteness first), then diagnose the wrong ones."""
        messages = [run.error] if run.error else []
        user: list[Gradients | None] = []
        for problem, result in zip(self.problems, run.results):
            where = source if run.return_line is None else f"{source}:{run.return_line}"
            problem_error = result if isinstance(result, str) else check_result(result, problem, where)
            user.append(None if problem_error else result)
            if problem_error and problem_error not in messages:
                messages.append(problem_error)
        if not any(u is not None for u in user):
            messages = messages or [f"{source}: no result for any problem"]
            return Grade(source, self.exercise.name, "error", (), (), "not graded: " + messages[0], (), tuple(messages))
        parameters = self.parameter_results(user)
        all_right = all(p.passed for p in parameters)
        found = () if all_right else self.diagnose(user)  # right where it ran: no mistake to name
        scaling = None if all_right else find_scaling(user, self.references, self.problems, self.exercise.model.output)
        status = "pass" if all_right and not messages else "fail"
        names, fixes = self.named(found, scaling)
        unwritten = all(not np.any(g) for u in user if u is not None for g in u.values())
        line = diagnosis_line(self.exercise, status, parameters, found, scaling, unwritten)
        failed = self.failed_problems(user) if status != "pass" else ()
        return Grade(source, self.exercise.name, status, parameters, names, line, fixes, tuple(messages), failed)


def passes(autograd_error: float, fd_error: float) -> bool:
    """Whether a gradient with these relative errors passes (NaN never does)."""
    return bool(math.isfinite(autograd_error) and autograd_error <= AUTOGRAD_TOLERANCE and fd_error <= FD_TOLERANCE)


def check_result(result: Mapping[str, np.ndarray], problem: Problem, where: str) -> str | None:
    """One line, starting with `where` (file:line of the return), naming what is wrong with a
    returned dict (a missing gradient, a wrong shape, NaN), or None if every parameter has a finite
    gradient of its shape."""
    for name, param in problem.params.items():
        if name not in result:
            return f"{where}: no gradient for {name} in the returned dict: expected keys {', '.join(problem.params)}"
        got = np.shape(result[name])
        if got != param.shape:
            hint = " (its transpose: a transposed product?)" if got == param.shape[::-1] else ""
            return (
                f"{where}: the gradient of {name} has shape {got} on problem {problem.describe()}: "
                f"expected {param.shape}, the shape of {name}{hint}"
            )
        bad = ~np.isfinite(result[name])
        if bad.any():
            kind = "NaN" if np.isnan(result[name]).any() else "inf"
            return (
                f"{where}: the gradient of {name} has {kind} in {int(bad.sum())} of {bad.size} entries on "
                f"problem {problem.describe()}: expected finite numbers"
            )
    return None


def diagnosis_line(
    exercise: Exercise,
    status: str,
    parameters: Sequence[ParameterResult],
    found: tuple[Mistake, ...],
    scaling: Scaling | None = None,
    unwritten: bool = False,
) -> str:
    """One sentence: correct; the known mistake(s) it matches; a constant factor and its cause; or which
    parameters are wrong by how much. A factor, when there is one, comes first: it is what a student sees."""
    wrong = [p for p in parameters if not p.passed]
    if status == "pass":
        return f"correct: every gradient matches autograd and finite differences on {len(exercise.problems)} problems"
    if unwritten:  # the template as it comes: its placeholders are zeros
        loss = fix_line(exercise.model, ("loss", exercise.model.n_layers))
        return (
            "every gradient is zero: the backward pass is not written yet (the template's np.zeros_like "
            f"placeholders) — fill in its TODOs, starting from {loss}"
        )
    factor = f"{sentence(scaling)}: " if scaling else ""
    if found:
        named = " and ".join(f"'{m.name}' ({m.description})" for m in found)
        kind = "two known mistakes at once" if len(found) == 2 else "a known mistake"
        fixes = "; ".join(dict.fromkeys(m.fix(exercise.model) for m in found))
        return f"{factor}matches {kind}: {named} — fix with {fixes}"
    if scaling:
        loss = fix_line(exercise.model, ("loss", exercise.model.n_layers))
        if scaling.cause:
            return f"{factor}{scaling.cause.text} — fix with {loss}"
        return (
            f"{factor}the backward pass is right but for this factor, which no known mistake gives: compare with {loss}"
        )
    if not wrong:
        return "every gradient that was returned is right, but the code failed on some problems (see the errors)"
    right = [p.name for p in parameters if p.passed]
    listed = ", ".join(f"{p.name} (max rel error {p.autograd_error:.2e})" for p in wrong)
    if all(p.autograd_error < PRECISION_ONLY for p in wrong):
        return (
            f"nearly right: {listed} — errors this small come from lost precision (float32 arithmetic?), "
            "not from the derivation: compute in float64"
        )
    return (
        f"wrong: {listed}; right: {', '.join(right) or 'none'} — no known mistake (nor two at once) gives these "
        f"gradients; compare with {exercise.equations} of docs/gradients.md"
    )
