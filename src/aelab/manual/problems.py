"""Random graded problems for a layered model, and the two references a gradient is compared with.

Float64 throughout; inputs are redrawn until every ReLU pre-activation has |Z| ≥ KINK_MARGIN =
1000 × the step FD_STEP, and every central difference confirms that the ReLU masks at θ ± h equal
those at θ, so no difference straddles a kink (docs/gradients.md, "How it is verified"). The
checker of aelab's own gradients (`aelab.manual.study_checks`) uses the same differences and redraws.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from aelab.errors import ConfigError
from aelab.manual.exercises import Exercise, ProblemSpec
from aelab.manual.layered import Cache, Layered, autograd_gradients, forward, gradients, loss

FD_STEP = 1e-6
KINK_MARGIN = 1e-3
_PARAM_DRAWS, _ROW_DRAWS = 20, 200


@dataclass(frozen=True)
class Problem:
    """One graded problem: its spec, float64 parameters by name, inputs X (n, D) in [0, 1)."""

    spec: ProblemSpec
    params: dict[str, np.ndarray]
    X: np.ndarray

    def describe(self) -> str:
        """'batch of one (n=1, widths 5-3-5)', for messages."""
        return f"{self.spec.label} (n={self.spec.n}, widths {'-'.join(map(str, self.spec.widths))})"


def _draw_params(model: Layered, spec: ProblemSpec, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Glorot-uniform weights and U(−0.5, 0.5) biases, then the units the spec forces off.

    A forced-off unit gets a weight row ≤ 0 and a bias ≤ −0.5: its inputs are ≥ 0 (X in [0, 1), or
    ReLU outputs), so its Z ≤ −0.5 on every row, whatever rows are drawn later.
    """
    params = {}
    for name, shape in model.shapes(spec.widths).items():
        if name.startswith("W"):
            limit = np.sqrt(6.0 / (shape[0] + shape[1]))  # Glorot: fan_in + fan_out
            params[name] = rng.uniform(-limit, limit, shape)
        else:
            params[name] = rng.uniform(-0.5, 0.5, shape)
    off = {layer: [0] for layer in range(1, model.n_layers)} if spec.dead_hidden else {}
    if spec.clipped_output:
        off[model.n_layers] = list(range(0, spec.widths[-1], 2))
    for layer, units in off.items():
        W, b = params[f"W{layer}"], params[f"b{layer}"]
        W[units] = -np.abs(W[units])
        b[units] = -0.5 - rng.uniform(0.0, 0.5, len(units))
    return params


def relu_preactivations(model: Layered, cache: Cache) -> tuple[np.ndarray, ...]:
    """The Z of every ReLU layer (all but a sigmoid output): where kinks can be."""
    return cache.Z if model.output == "relu" else cache.Z[:-1]


def _rows_to_redraw(
    model: Layered, params: Mapping[str, np.ndarray], X: np.ndarray, margin: float, need_flow: bool
) -> np.ndarray:
    """(n,) bool: rows with some ReLU pre-activation |Z| below margin (a finite difference there
    could straddle the kink) or, if need_flow, with a hidden layer whose units are all off (no
    gradient flows back through that row, so it would show no mistake)."""
    cache = forward(model, params, X)
    redraw = np.zeros(X.shape[0], dtype=bool)
    for Z in relu_preactivations(model, cache):
        redraw |= (np.abs(Z) < margin).any(axis=1)
    for Z in cache.Z[:-1] if need_flow else ():
        redraw |= (Z <= 0).all(axis=1)
    return redraw


def fit_rows(
    model: Layered,
    params: Mapping[str, np.ndarray],
    X: np.ndarray,
    rng: np.random.Generator,
    margin: float = KINK_MARGIN,
    need_flow: bool = False,
) -> bool:
    """Redraw rows of X (in place, from U[0, 1)) until none needs it; False if some still do after
    a few hundred tries (the caller then draws new parameters). Rows are independent, so only the
    offending ones are redrawn: this conditions the data on being checkable."""
    for _ in range(_ROW_DRAWS):
        redraw = _rows_to_redraw(model, params, X, margin, need_flow)
        if not redraw.any():
            return True
        X[redraw] = rng.uniform(0.0, 1.0, (int(redraw.sum()), X.shape[1]))
    return False


def sample_problem(model: Layered, spec: ProblemSpec, seed: int, margin: float = KINK_MARGIN) -> Problem:
    """A problem for `spec` with every ReLU |Z| ≥ margin, some unit on in every hidden layer of
    every row, and a gradient that is not all zero for any parameter; deterministic in (seed, spec)."""
    rng = np.random.default_rng([seed, spec.n, *spec.widths, int(spec.dead_hidden), int(spec.clipped_output)])
    for _ in range(_PARAM_DRAWS):
        params = _draw_params(model, spec, rng)
        X = rng.uniform(0.0, 1.0, (spec.n, spec.widths[0]))
        if fit_rows(model, params, X, rng, margin, need_flow=True) and all(
            np.any(g != 0) for g in gradients(model, params, X).values()
        ):
            return Problem(spec, params, X)
    raise ConfigError(
        f"no inputs with every |pre-activation| ≥ {margin} and gradient flowing found for {spec}: "
        "expected smaller sizes"
    )


def sample_problems(exercise: Exercise, seed: int = 0) -> list[Problem]:
    """One problem per spec of the exercise."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ConfigError(f"seed must be an integer ≥ 0, got {seed!r}")
    return [sample_problem(exercise.model, spec, seed) for spec in exercise.problems]


def central_difference(
    model: Layered,
    params: Mapping[str, np.ndarray],
    X: np.ndarray,
    name: str,
    index: int,
    step: float,
    base: list[np.ndarray],
) -> float:
    """(L(θ + h) − L(θ − h)) / (θ₊ − θ₋) for one entry, refusing a difference across a kink (a ReLU
    mask that differs from `base`, the masks at θ). The denominator is the difference of the
    rounded θ₊ and θ₋ actually used, not 2h."""
    values, losses = [], []
    for sign in (1.0, -1.0):
        moved = params[name].copy()
        moved.flat[index] += sign * step
        cache = forward(model, {**params, name: moved}, X)
        if not all(np.array_equal(Z > 0, mask) for Z, mask in zip(relu_preactivations(model, cache), base)):
            raise ConfigError(
                f"finite difference of {name}[{index}] crosses a ReLU kink: expected a step "
                f"({step}) well below every |pre-activation|"
            )
        values.append(moved.flat[index])
        losses.append(loss(model, cache, X))
    return (losses[0] - losses[1]) / (values[0] - values[1])


def finite_differences(
    model: Layered,
    params: Mapping[str, np.ndarray],
    X: np.ndarray,
    entries: Mapping[str, np.ndarray] | None = None,
    step: float = FD_STEP,
) -> dict[str, np.ndarray]:
    """Central-difference estimates of ∂L/∂θ: at the given flat `entries` of each parameter (a 1-D
    array each), or, without `entries`, at every entry (an array of the parameter's shape)."""
    base = [Z > 0 for Z in relu_preactivations(model, forward(model, params, X))]
    chosen = entries if entries is not None else {name: np.arange(a.size) for name, a in params.items()}
    estimates = {
        name: np.array([central_difference(model, params, X, name, int(i), step, base) for i in idx])
        for name, idx in chosen.items()
    }
    return estimates if entries is not None else {name: e.reshape(params[name].shape) for name, e in estimates.items()}


@dataclass(frozen=True)
class References:
    """A problem's gradients from autograd (float64) and from central differences, by parameter."""

    autograd: dict[str, np.ndarray]
    finite_differences: dict[str, np.ndarray]


def references(model: Layered, problem: Problem) -> References:
    """Both references for one problem."""
    return References(
        autograd_gradients(model, problem.params, problem.X), finite_differences(model, problem.params, problem.X)
    )
