"""Each way an input to the Python API can be wrong gets one line naming the argument, the place and what was
expected."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import sparse

import aelab
from aelab.errors import AelabError, ConfigError, InputError


@pytest.fixture(scope="module")
def fitted():
    """A model fitted on random images: these tests are about the checks, not the learning."""
    images = np.random.default_rng(0).random((64, 784), dtype=np.float32)
    return aelab.Autoencoder(code_size=4, epochs=1).fit(images)


def one_line(error: pytest.ExceptionInfo) -> str:
    message = str(error.value)
    assert "\n" not in message and isinstance(error.value, AelabError)
    return message


LAYOUTS = "expected samples of shape (n, L), (n, H, W), (n, C, H, W) or channels-last (n, H, W, C), n ≥ 1"


@pytest.mark.parametrize(
    "x, expected",
    [
        (np.zeros((10,), np.float32), f"X: shape (10,): {LAYOUTS}"),
        (np.zeros((0, 784), np.float32), f"X: shape (0, 784): {LAYOUTS}"),
        (np.zeros((2, 1, 2, 2, 2), np.float32), f"X: shape (2, 1, 2, 2, 2): {LAYOUTS}"),
        (np.zeros((3, 784), bool), "X: dtype bool: expected numbers"),
        (np.zeros((3, 784), complex), "X: dtype complex128: expected numbers"),
        (sparse.csr_matrix(np.zeros((3, 784))), "X: a sparse matrix is not supported: expected a dense array"),
        ([["a"] * 784], "X: dtype <U1: expected numbers"),
    ],
)
def test_arrays_in_memory_of_no_known_layout_or_kind_are_refused_in_one_line(x, expected):
    with pytest.raises(InputError) as error:
        aelab.open_dataset(x)
    assert one_line(error).startswith(expected)


def test_non_finite_values_in_memory_are_located():
    x = np.zeros((5, 28, 28), np.float32)
    x[3, 4, 7] = np.nan
    with pytest.raises(AelabError) as error:
        aelab.open_dataset(x)
    assert one_line(error) == "X: 1 NaN or infinite value, the first at index (3, 4, 7): expected finite numbers"


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 783), st.floats(allow_nan=True, allow_infinity=True, width=32)), max_size=6))
def test_any_float_array_in_memory_is_accepted_exactly_when_finite(pixels):
    x = np.zeros((5, 784), np.float32)
    for position, value in pixels:
        x[0, position] = value
    valid = bool(np.isfinite(x).all())
    try:
        data = aelab.open_dataset(x)
    except AelabError as error:
        assert not valid and "\n" not in str(error) and "index (0, " in str(error)
    else:
        assert valid and np.isfinite(data.train_images).all() and np.isfinite(data.test_images).all()


def test_the_fitted_model_checks_its_inputs_and_codes(fitted):
    with pytest.raises(  # every layout the model takes: fit's (n, 784), (n, C, H, W), channels-last, (n, H, W)
        InputError,
        match=r"^X: shape \(2, 100\): expected images of shape \(n, 784\) or \(n, 1, 28, 28\) or \(n, 28, 28, 1\) "
        r"or \(n, 28, 28\), n ≥ 1$",
    ):
        fitted.transform(np.zeros((2, 100), np.float32))
    with pytest.raises(InputError, match=r"^X: value 2 at image 0"):
        fitted.score(np.full((1, 28, 28), 2.0))
    with pytest.raises(InputError, match=r"^codes: shape \(3, 5\), dtype float64: expected numbers of shape \(n, 4\)$"):
        fitted.decode(np.zeros((3, 5)))
    with pytest.raises(InputError, match=r"^codes: inf at row 1, unit 2: expected finite values$"):
        fitted.decode(np.array([[0, 0, 0, 0], [0, 0, np.inf, 0]], np.float32))


def test_fit_refuses_bad_data_before_training_and_stays_unfitted():
    from sklearn.exceptions import NotFittedError
    from sklearn.utils.validation import check_is_fitted

    images, ae = np.zeros((10, 784), np.float32), aelab.Autoencoder(epochs=1)
    with pytest.raises(InputError, match=r"^X_test: shape \(3, 27, 28\)"):
        ae.fit(images, X_test=np.zeros((3, 27, 28), np.float32))
    with pytest.raises(
        InputError, match=r"^y: shape \(10, 784\): fit takes no targets .* pass validation samples as X_test=\.\.\.$"
    ):
        ae.fit(images, images)
    with pytest.raises(ConfigError, match=r"^validation_fraction 0.01: X holds 10 samples, too few to hold one out"):
        aelab.Autoencoder(epochs=1, validation_fraction=0.01).fit(images)
    with pytest.raises(NotFittedError):
        check_is_fitted(ae)


def test_unfitted_models_say_so(fitted):
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        aelab.Autoencoder().transform(np.zeros((1, 784), np.float32))
    with pytest.raises(NotFittedError):
        aelab.Autoencoder().save("unused")
