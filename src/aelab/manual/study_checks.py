"""Check the hand-derived gradients of `numpy_ae` against finite differences and PyTorch autograd.

Two references, because each misses what the other catches: central finite differences need no
calculus at all (so they cannot share a derivation mistake), and autograd in float64 agrees to
rounding, so it pins every entry far more tightly than differences can. Everything is float64.

Error measure, per parameter: max abs error = max |g − r|, and the normwise relative error
max |g − r| / max(max |g|, max |r|, tiny), g the hand-derived gradient, r the reference, tiny the
smallest normal float64. Normwise, because an entry that is near zero by cancellation would,
entry by entry, be measured against rounding noise alone; `tiny` keeps an exactly-zero gradient on
both sides (a dead unit) at 0 instead of 0/0.

Kinks: relu is not differentiable at 0, and a difference that straddles a kink measures nothing.
`sample_problem` redraws input rows until every pre-activation has |Z| ≥ KINK_MARGIN = 1000 × the
step (a step h on one parameter moves any Z by h times an input, code value or weight, all O(1)
here), and `finite_difference_gradients` confirms that the masks at θ ± h equal those at θ.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np

from aelab.errors import ConfigError
from aelab.manual.layered import Layered
from aelab.manual.layered import autograd_gradients as layered_autograd
from aelab.manual.numpy_ae import Params, init_params, loss_and_gradients
from aelab.manual.problems import FD_STEP, KINK_MARGIN, finite_differences, fit_rows

DERIVATION = Path(__file__).with_name("gradients.md")  # the derivation, package data (docs/gradients.md links to it)
FD_TOLERANCE = 1e-6
AUTOGRAD_TOLERANCE = 1e-10
MAX_FD_ENTRIES = 1000  # per parameter; larger parameters are checked on a random subset of entries
_PARAM_DRAWS = 20
SHALLOW = Layered(2, "relu")  # numpy_ae's model, as the layered code spells it

Gradients = Callable[[Params, np.ndarray], Params]  # (params, X (n, D)) → gradients of L


@dataclass(frozen=True)
class CheckResult:
    """One row of the report: one parameter's gradient against one reference."""

    reference: str  # "finite-differences" or "autograd"
    parameter: str  # "W1", "b1", "W2" or "b2"
    max_abs_error: float
    max_rel_error: float  # normwise, see the module docstring
    tolerance: float  # on max_rel_error
    passed: bool


def errors(analytic: np.ndarray, reference: np.ndarray) -> tuple[float, float]:
    """(max abs error, normwise relative error) of `analytic` against `reference`, same shape."""
    abs_error = float(np.max(np.abs(analytic - reference)))
    scale = max(float(np.max(np.abs(analytic))), float(np.max(np.abs(reference))), np.finfo(np.float64).tiny)
    return abs_error, abs_error / scale


def compare(
    reference: str, analytic: Mapping[str, np.ndarray], expected: Mapping[str, np.ndarray], tolerance: float
) -> list[CheckResult]:
    """One CheckResult per parameter; NaN or inf anywhere fails (the comparisons are then NaN)."""
    results = []
    for name, values in analytic.items():
        abs_error, rel_error = errors(values, expected[name])
        passed = bool(math.isfinite(rel_error) and rel_error <= tolerance)
        results.append(CheckResult(reference, name, abs_error, rel_error, tolerance, passed))
    return results


def _draw_params(rng: np.random.Generator, n_features: int, n_hidden: int) -> Params:
    """Glorot weights with small random biases: nonzero biases exercise (G4)/(G8) on real values
    and keep Z2 = b2 off the kink for a row whose code is all zeros."""
    params = init_params(n_features, n_hidden, rng)
    return replace(params, b1=rng.uniform(-0.5, 0.5, n_hidden), b2=rng.uniform(-0.5, 0.5, n_features))


def sample_problem(
    seed: int, n: int, n_features: int, n_hidden: int, margin: float = KINK_MARGIN
) -> tuple[Params, np.ndarray]:
    """Float64 params and inputs X (n, D) in [0, 1), like images, with every |Z1|, |Z2| ≥ margin.

    Rows near a kink are redrawn (conditioning the data on being checkable); if a parameter draw
    leaves too few good rows, the parameters are redrawn too. Deterministic in `seed`.
    """
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ConfigError(f"n must be an integer ≥ 1, got {n!r}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ConfigError(f"seed must be an integer ≥ 0, got {seed!r}")
    rng = np.random.default_rng(seed)
    for _ in range(_PARAM_DRAWS):
        params = _draw_params(rng, n_features, n_hidden)
        X = rng.uniform(0.0, 1.0, (n, n_features))
        if fit_rows(SHALLOW, params.as_dict(), X, rng, margin):
            return params, X
    raise ConfigError(
        f"no inputs with every |pre-activation| ≥ {margin} found for n={n}, "
        f"n_features={n_features}, n_hidden={n_hidden}: expected smaller sizes"
    )


def _pick_entries(size: int, max_entries: int, rng: np.random.Generator) -> np.ndarray:
    """Flat indices to check: all of them, or a sorted random subset of max_entries."""
    if size <= max_entries:
        return np.arange(size)
    return np.sort(rng.choice(size, max_entries, replace=False))


def finite_difference_gradients(
    params: Params, X: np.ndarray, entries: Mapping[str, np.ndarray], step: float = FD_STEP
) -> dict[str, np.ndarray]:
    """Central-difference estimates of ∂L/∂θ at the given flat `entries` of each parameter, each
    refusing a step across a ReLU kink (`aelab.manual.problems.central_difference`).

    Float64 only: in float32 the rounding error ε·L/h would swamp the 1e-6 tolerance.
    """
    for name, array in params.as_dict().items():
        if array.dtype != np.float64:
            raise ConfigError(f"finite differences need float64 parameters, got {name} as {array.dtype}")
    return finite_differences(SHALLOW, params.as_dict(), X, entries, step)


def autograd_gradients(params: Params, X: np.ndarray) -> Params:
    """∂L/∂θ from PyTorch autograd in float64, on the same forward pass and loss as numpy_ae."""
    return Params(**layered_autograd(SHALLOW, params.as_dict(), X))


def _numpy_gradients(params: Params, X: np.ndarray) -> Params:
    return loss_and_gradients(params, X)[1]


def run_checks(
    seed: int = 0,
    n: int = 5,
    n_features: int = 6,
    n_hidden: int = 4,
    *,
    gradients: Gradients = _numpy_gradients,
    max_entries: int = MAX_FD_ENTRIES,
) -> list[CheckResult]:
    """Check `gradients` (the hand-derived backward pass unless given) on one sampled problem.

    Returns 8 rows: W1, b1, W2, b2 against finite differences (every entry at these sizes), then
    the same against autograd. `gradients` exists so tests can show a wrong backward pass fails.
    """
    params, X = sample_problem(seed, n, n_features, n_hidden)
    analytic = gradients(params, X).as_dict()
    rng = np.random.default_rng([seed, 1])  # a separate stream: the subset never changes the problem
    entries = {name: _pick_entries(a.size, max_entries, rng) for name, a in params.as_dict().items()}
    estimates = finite_difference_gradients(params, X, entries)
    at_entries = {name: g.ravel()[entries[name]] for name, g in analytic.items()}
    results = compare("finite-differences", at_entries, estimates, FD_TOLERANCE)
    return results + compare("autograd", analytic, autograd_gradients(params, X).as_dict(), AUTOGRAD_TOLERANCE)


def format_table(results: list[CheckResult]) -> str:
    """An aligned text table, one row per result, and a closing line that counts the failures."""
    header = ("reference", "parameter", "max abs error", "max rel error", "tolerance", "result")
    rows = [header] + [
        (
            r.reference,
            r.parameter,
            f"{r.max_abs_error:.2e}",
            f"{r.max_rel_error:.2e}",
            f"{r.tolerance:.0e}",
            "pass" if r.passed else "FAIL",
        )
        for r in results
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() for row in rows]
    failed = sum(not r.passed for r in results)
    lines.append(f"all {len(results)} checks passed" if not failed else f"{failed} of {len(results)} checks FAILED")
    return "\n".join(lines)


def results_to_json(results: list[CheckResult]) -> str:
    """A JSON list of the rows; a non-finite error (NaN gradients) becomes null, keeping it valid JSON."""
    rows = [
        {key: (None if isinstance(v, float) and not math.isfinite(v) else v) for key, v in asdict(r).items()}
        for r in results
    ]
    return json.dumps(rows, indent=2, allow_nan=False)


def gradcheck_command(as_json: bool = False, seed: int = 0) -> int:
    """`aelab gradcheck`: print the table (or JSON) to stdout; 0 if every check passed, else 1."""
    results = run_checks(seed=seed)
    print(results_to_json(results) if as_json else format_table(results))
    return 0 if all(r.passed for r in results) else 1
