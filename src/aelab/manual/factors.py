"""Gradients right but for one constant factor: the commonest first-hour mistake, named with its cause.

Every gradient is linear in the loss's gradient, (G1)/(B1)/(D1), so a loss scaled by c — a mean over all
n·D entries as `torch.nn.MSELoss()` takes, a sum over the batch, a factor 2 lost — scales *every*
gradient by c and leaves the backward pass itself right. The grader fits c on each problem by least
squares over all parameters at once (c = Σ⟨g, r⟩ / Σ⟨r, r⟩, g the user's gradients, r autograd's),
and calls it a scaling only if every parameter fits c·r. The factor of a known cause is a function of
the problem's sizes (1/D, n, …), and the problems differ in n and D, so a cause is named only when the
fitted factors follow its function on every problem; any other common factor is still named, as a number.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from aelab.manual.problems import Problem, References
from aelab.manual.study_checks import errors

# Float32 arithmetic fits a scaling to ~1e-7 relative; any other mistake misses it by more than 1e-2.
SCALE_TOLERANCE = 1e-6


@dataclass(frozen=True)
class Cause:
    """A known reason for every gradient to be `factor(n, D)` times the right one."""

    name: str  # as a mistake is named in a grade
    label: str  # the factor as a formula of the problem's sizes: "1/D", "n", "1/2"
    factor: Callable[[int, int], float]  # (n, D) → the factor
    text: str  # why, in the template's names


def _causes(loss: str, torch_loss: str, two: str, half: str) -> tuple[Cause, ...]:
    """The known causes for a loss; `two` and `half` say what a factor 2 or 1/2 means for it."""
    entries = (
        f"the loss is averaged over all n·D entries (as {torch_loss} does) where the exercise's {loss} "
        "averages over the n samples only"
    )
    return (
        Cause("loss averaged over all entries", "1/D", lambda n, D: 1 / D, entries),
        Cause("loss averaged over all entries, 2 missing", "1/(2D)", lambda n, D: 1 / (2 * D), f"{entries}; {half}"),
        Cause(
            "loss summed over the batch", "n", lambda n, D: n, "the loss is summed over the batch: the 1/n is missing"
        ),
        Cause("1/n applied twice", "1/n", lambda n, D: 1 / n, "the 1/n of the batch mean is applied twice"),
        Cause("factor 2 too many", "2", lambda n, D: 2.0, two),
        Cause("factor 2 missing", "1/2", lambda n, D: 0.5, half),
    )


CAUSES = {
    "relu": _causes(
        "squared error",
        "torch.nn.MSELoss()",
        "the 2 of the square's derivative is applied twice",
        "the 2 of the square's derivative, dX_hat = 2 * (X_hat - X) / n, is missing",
    ),
    "sigmoid": _causes(
        "cross-entropy",
        "torch.nn.BCELoss()",
        "the squared error's 2 is kept: the cross-entropy's gradient is dZ2 = (X_hat - X) / n",
        "a factor 1/2 too many: the cross-entropy's gradient is dZ2 = (X_hat - X) / n",
    ),
}


@dataclass(frozen=True)
class Scaling:
    """Every gradient is factors[k] times the right one on problem k (None: the code did not run there)."""

    factors: tuple[float | None, ...]
    cause: Cause | None


def fitted_factor(user: Mapping[str, np.ndarray], reference: Mapping[str, np.ndarray]) -> float | None:
    """The c with user ≈ c · reference over every parameter at once, or None if some parameter does not fit it."""
    dot = sum(float(np.vdot(user[name], r)) for name, r in reference.items())
    norm = sum(float(np.vdot(r, r)) for r in reference.values())
    if norm == 0.0:
        return None
    c = dot / norm
    fits = all(errors(user[name], c * r)[1] <= SCALE_TOLERANCE for name, r in reference.items())
    return c if fits else None


def find_scaling(
    user: Sequence[Mapping[str, np.ndarray] | None],
    references: Sequence[References],
    problems: Sequence[Problem],
    output: str,
) -> Scaling | None:
    """The scaling the user's gradients show on every problem the code ran on, with its known cause if one
    fits; None if some problem's gradients are no scaling of the right ones, or all are right (factor 1)."""
    factors = tuple(None if u is None else fitted_factor(u, r.autograd) for u, r in zip(user, references))
    ran = [(c, p.spec) for c, u, p in zip(factors, user, problems) if u is not None]
    if not ran or any(c is None for c, _ in ran) or all(abs(c - 1.0) <= SCALE_TOLERANCE for c, _ in ran):
        return None
    if all(abs(c) <= SCALE_TOLERANCE for c, _ in ran):  # zero gradients: nothing written yet, not a scaled loss
        return None

    def follows(cause: Cause) -> bool:
        return all(abs(c / cause.factor(spec.n, spec.widths[0]) - 1.0) <= SCALE_TOLERANCE for c, spec in ran)

    return Scaling(factors, next((cause for cause in CAUSES[output] if follows(cause)), None))


def as_fraction(value: float) -> str:
    """'1/4', '2', '-1/2' for a whole number or its inverse (what a loss's sizes give); else 3 digits, '0.37'."""
    fraction = Fraction(value).limit_denominator(10_000)
    simple = abs(fraction.numerator) == 1 or fraction.denominator == 1
    if not simple or abs(float(fraction) - value) > SCALE_TOLERANCE * abs(value):
        return f"{value:.3g}"
    return str(fraction)


def sentence(scaling: Scaling) -> str:
    """'every gradient is 1/D of the expected one (1/4, 1/5, 1/6, 1/6 on problems 1, 2, 3, 4)', or with
    one factor on every problem, 'every gradient is 1/2 of the expected one (0.5×)'."""
    ran = [(k, c) for k, c in enumerate(scaling.factors, start=1) if c is not None]
    shown = [as_fraction(c) for _, c in ran]
    constant = len(set(shown)) == 1
    label = scaling.cause.label if scaling.cause else shown[0] if constant else None
    if label is None:
        listed = ", ".join(f"{c:.3g}× on problem {k}" for k, c in ran)
        return f"on each problem every gradient is one constant times the expected one, another each time: {listed}"
    relation = "of" if label.lstrip("-").startswith("1/") else "times"
    detail = f"{ran[0][1]:.3g}×" if constant else f"{', '.join(shown)} on problems {', '.join(str(k) for k, _ in ran)}"
    return f"every gradient is {label} {relation} the expected one ({detail})"
