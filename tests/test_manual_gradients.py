"""The hand-derived gradients of aelab.manual.numpy_ae against finite differences and autograd.

Every expectation comes from a reference computed here (central differences, PyTorch autograd in
float64), never from typed-in numbers. The wrong backward passes below (the grader's catalogue of
classic mistakes, aelab.manual.mistakes) show the checks are not vacuous: each must be flagged, on
the parameters it touches.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aelab.errors import ConfigError
from aelab.manual import layered
from aelab.manual import numpy_ae as ae
from aelab.manual.exercises import EXERCISES
from aelab.manual.mistakes import catalogue
from aelab.manual.study_checks import (
    AUTOGRAD_TOLERANCE,
    FD_TOLERANCE,
    KINK_MARGIN,
    autograd_gradients,
    errors,
    finite_difference_gradients,
    gradcheck_command,
    run_checks,
    sample_problem,
)

NAMES = ["W1", "b1", "W2", "b2"]


@pytest.mark.parametrize(
    "seed, n, n_features, n_hidden", [(0, 5, 6, 4), (1, 1, 3, 2), (2, 7, 4, 4), (3, 3, 2, 6), (4, 6, 8, 3)]
)
def test_backward_matches_finite_differences_and_autograd(seed, n, n_features, n_hidden):
    results = run_checks(seed, n, n_features, n_hidden)
    assert [(r.reference, r.parameter) for r in results] == (
        [("finite-differences", name) for name in NAMES] + [("autograd", name) for name in NAMES]
    )
    failed = [r for r in results if not r.passed]
    assert not failed, failed
    fd = [r for r in results if r.reference == "finite-differences"]
    assert all(r.tolerance == FD_TOLERANCE and r.max_rel_error <= FD_TOLERANCE for r in fd)
    auto = [r for r in results if r.reference == "autograd"]
    assert all(r.tolerance == AUTOGRAD_TOLERANCE and r.max_rel_error <= AUTOGRAD_TOLERANCE for r in auto)


def test_finite_differences_on_a_subset_of_entries_agree_with_autograd():
    params, X = sample_problem(5, n=4, n_features=5, n_hidden=3)
    entries = {name: np.array([0, a.size - 1]) for name, a in params.as_dict().items()}
    estimates = finite_difference_gradients(params, X, entries)
    reference = autograd_gradients(params, X).as_dict()
    for name, idx in entries.items():
        assert errors(estimates[name], reference[name].ravel()[idx])[1] <= FD_TOLERANCE
    assert all(r.passed for r in run_checks(5, 4, 5, 3, max_entries=2))


def test_sampled_problems_keep_every_preactivation_off_the_kink():
    for seed in range(5):
        params, X = sample_problem(seed, n=6, n_features=8, n_hidden=6)
        cache = ae.forward(params, X)
        assert np.abs(cache.Z1).min() >= KINK_MARGIN and np.abs(cache.Z2).min() >= KINK_MARGIN
        assert X.min() >= 0 and X.max() < 1


def test_finite_differences_refuse_a_step_across_a_kink():
    params, X = sample_problem(0, n=5, n_features=6, n_hidden=4)
    entries = {name: np.arange(a.size) for name, a in params.as_dict().items()}
    with pytest.raises(ConfigError, match="kink"):
        finite_difference_gradients(params, X, entries, step=10.0)


def _random_problem(seed: int, n: int, n_features: int, n_hidden: int, zero_biases: bool):
    """Arbitrary data (no kink margin): autograd and the NumPy code share relu'(0) = 0, so they
    must agree even where a pre-activation is exactly 0 (zero biases and an all-zero code row)."""
    rng = np.random.default_rng(seed)
    params = ae.init_params(n_features, n_hidden, rng)
    if not zero_biases:
        params = ae.Params(params.W1, rng.normal(size=n_hidden), params.W2, rng.normal(size=n_features))
    return params, rng.uniform(0.0, 1.0, (n, n_features))


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    n=st.integers(1, 6),
    n_features=st.integers(1, 8),
    n_hidden=st.integers(1, 6),
    zero_biases=st.booleans(),
)
def test_gradient_shapes_and_autograd_agreement_over_shapes(seed, n, n_features, n_hidden, zero_biases):
    params, X = _random_problem(seed, n, n_features, n_hidden, zero_biases)
    value, grads = ae.loss_and_gradients(params, X)
    reference = autograd_gradients(params, X)
    for name, grad in grads.as_dict().items():
        assert grad.shape == getattr(params, name).shape and grad.dtype == np.float64
        assert errors(grad, getattr(reference, name))[1] <= AUTOGRAD_TOLERANCE, name
    assert value >= 0


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(1, 6), n_features=st.integers(1, 8), n_hidden=st.integers(1, 6))
def test_float32_parameters_give_float32_gradients_close_to_float64(seed, n, n_features, n_hidden):
    params, X = _random_problem(seed, n, n_features, n_hidden, zero_biases=False)
    params32 = ae.Params(**{name: a.astype(np.float32) for name, a in params.as_dict().items()})
    grads32 = ae.loss_and_gradients(params32, X.astype(np.float32))[1]
    reference = autograd_gradients(params, X)
    for name, grad in grads32.as_dict().items():
        assert grad.dtype == np.float32
        # float32 rounding, amplified by cancellation in the batch sums (seen up to ~5e-5); a real
        # mistake is O(1)
        assert errors(grad.astype(np.float64), getattr(reference, name))[1] <= 1e-3, name


SHALLOW = EXERCISES["shallow"].model


def _with(mistake):
    """The backward pass of numpy_ae, rebuilt with one classic mistake of the grader's catalogue."""

    def gradients(params, X):
        swaps = mistake.swaps(SHALLOW) if mistake else None
        return ae.Params(**layered.gradients(SHALLOW, params.as_dict(), X, swaps))

    return gradients


# Which parameters each mistake must corrupt, and whether others may be corrupted too (through the
# chain rule). D == H so the transposed variants still have the right shapes and only the numbers tell.
CORRUPTS = {
    "−2 instead of the residual": ({"W2", "b2"}, True),
    "1/n missing": (set(NAMES), False),
    "factor 2 missing": (set(NAMES), False),
    "sign flipped": (set(NAMES), False),
    "output mask dropped": ({"W2", "b2"}, True),
    "hidden mask dropped": ({"W1", "b1"}, False),
    "bias gradients averaged": ({"b1", "b2"}, False),
    "b1 gradient averaged": ({"b1"}, False),
    "b2 gradient averaged": ({"b2"}, False),
    "weight gradients transposed": ({"W1", "W2"}, False),
    "W1 gradient transposed": ({"W1"}, False),
    "W2 gradient transposed": ({"W2"}, False),
    "W2 transposed going back": ({"W1", "b1"}, False),
}
MISTAKES = catalogue(SHALLOW)


def test_every_shallow_mistake_has_its_expectation():
    assert [m.name for m in MISTAKES] == list(CORRUPTS)


def test_the_rebuilt_backward_pass_is_the_real_one():
    params, X = sample_problem(0, n=5, n_features=4, n_hidden=4)
    rebuilt, real = _with(None)(params, X), ae.loss_and_gradients(params, X)[1]
    for name in NAMES:
        np.testing.assert_array_equal(getattr(rebuilt, name), getattr(real, name))


@pytest.mark.parametrize("mistake", MISTAKES, ids=[m.name for m in MISTAKES])
def test_classic_mistakes_are_flagged(mistake):
    corrupted, others_may_fail = CORRUPTS[mistake.name]
    wrong = _with(mistake)
    params, X = sample_problem(0, n=5, n_features=4, n_hidden=4)
    reference = autograd_gradients(params, X)
    rel = {name: errors(getattr(wrong(params, X), name), getattr(reference, name))[1] for name in NAMES}
    wrong_params = {name for name, e in rel.items() if e > AUTOGRAD_TOLERANCE}
    assert corrupted <= wrong_params and (others_may_fail or wrong_params == corrupted), rel
    assert all(rel[name] > FD_TOLERANCE for name in corrupted), rel  # far outside even the FD tolerance
    results = run_checks(0, 5, 4, 4, gradients=wrong)  # the checker itself reports the failures
    failed = {
        ref: {r.parameter for r in results if r.reference == ref and not r.passed}
        for ref in ("finite-differences", "autograd")
    }
    assert failed["autograd"] == wrong_params, rel
    assert corrupted <= failed["finite-differences"] <= wrong_params, rel


def test_gradcheck_command_prints_a_passing_table(capsys):
    assert gradcheck_command() == 0
    out = capsys.readouterr().out
    for word in [*NAMES, "finite-differences", "autograd", "max rel error", "tolerance"]:
        assert word in out
    assert "FAIL" not in out


def test_gradcheck_command_json_has_eight_passing_rows(capsys):
    assert gradcheck_command(as_json=True, seed=1) == 0
    rows = json.loads(capsys.readouterr().out)
    assert len(rows) == 8 and all(row["passed"] for row in rows)
    assert {(row["reference"], row["parameter"]) for row in rows} == {
        (ref, name) for ref in ("finite-differences", "autograd") for name in NAMES
    }


def test_bad_shapes_raise_one_line_config_errors():
    params = ae.init_params(4, 3, np.random.default_rng(0))
    bad = [
        lambda: ae.forward(params, np.zeros((2, 5))),
        lambda: ae.forward(params, np.zeros((0, 4))),
        lambda: ae.forward(params, np.zeros(4)),
        lambda: ae.forward(params, np.zeros((2, 4), dtype=np.int64)),
        lambda: ae.Params(params.W1, np.zeros(4), params.W2, params.b2),
        lambda: ae.Params(params.W1, params.b1, params.W1, params.b2),
        lambda: ae.loss(np.zeros((2, 3)), np.zeros((2, 4))),
        lambda: ae.backward(params, np.zeros((3, 4)), ae.forward(params, np.zeros((2, 4)))),
        lambda: ae.init_params(0, 3, np.random.default_rng(0)),
        lambda: run_checks(seed=-1),
    ]
    for call in bad:
        with pytest.raises(ConfigError) as info:
            call()
        message = str(info.value)
        assert "\n" not in message and ("must" in message or "expected" in message), message


def test_the_numpy_code_never_imports_torch():
    import subprocess
    import sys

    code = (
        "import sys, aelab.manual.numpy_ae, aelab.manual.numpy_train, aelab.manual.study_checks; "
        "assert 'torch' not in sys.modules, 'torch imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
