"""Each way an input to the Python API can be wrong gets one line naming the argument, the place and what was
expected."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import sparse

import aelab
from aelab.data.arrays import as_images
from aelab.data.load import to_unit_float
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


@pytest.mark.parametrize(
    "shape, expected",
    [
        ((10,), "X: shape (10,): expected images of shape (n, 784) or (n, 28, 28)"),
        ((10, 783), "X: shape (10, 783): expected images of shape (n, 784) or (n, 28, 28)"),
        ((10, 28, 27), "X: shape (10, 28, 27)"),
        ((10, 1, 28, 28), "X: shape (10, 1, 28, 28)"),
        ((0, 784), "X: shape (0, 784): expected at least one image"),
    ],
)
def test_wrong_shapes(shape, expected):
    with pytest.raises(InputError) as error:
        as_images(np.zeros(shape, np.float32))
    assert one_line(error).startswith(expected)


def test_nan_inf_and_out_of_range_values_are_located():
    x = np.zeros((5, 28, 28), np.float32)
    x[3, 4, 7] = np.nan
    with pytest.raises(InputError) as error:
        as_images(x, "X_test")
    assert one_line(error) == "X_test: nan at image 3, position (4, 7): expected finite pixel values in [0, 1]"
    x[3, 4, 7], x[1, 0, 2] = 0.5, -np.inf
    with pytest.raises(InputError, match=r"X_test: -inf at image 1, position \(0, 2\)"):
        as_images(x, "X_test")
    rows = np.zeros((4, 784))
    rows[2, 100] = 255.0
    with pytest.raises(InputError) as error:
        as_images(rows)
    assert one_line(error) == (
        "X: value 255 at image 2, position (100,): expected pixel values in [0, 1] "
        "(images in 0–255 must be uint8, or divided by 255)"
    )
    rows[2, 100] = -0.5
    with pytest.raises(
        InputError, match=r"X: value -0.5 at image 2, position \(100,\): expected pixel values in \[0, 1\]$"
    ):
        as_images(rows)


@pytest.mark.parametrize(
    "array, expected",
    [
        (np.zeros((3, 784), np.int64), "X: dtype int64: expected floats in [0, 1] or uint8 in 0–255"),
        (np.zeros((3, 784), bool), "X: dtype bool"),
        (np.zeros((3, 784), complex), "X: dtype complex128"),
        (sparse.csr_matrix(np.zeros((3, 784))), "X: a sparse matrix is not supported"),
        ([["a"] * 784], "X: dtype <U1"),
    ],
)
def test_wrong_kinds_of_array(array, expected):
    with pytest.raises(InputError) as error:
        as_images(array)
    assert one_line(error).startswith(expected)


def test_uint8_is_scaled_and_torch_is_accepted_without_copying_float32():
    bytes_ = np.arange(784, dtype=np.int64).reshape(1, 784) % 256
    x, shape = as_images(bytes_.astype(np.uint8))
    assert shape == (784,) and x.dtype == torch.float32
    np.testing.assert_array_equal(
        x.numpy(), to_unit_float(bytes_.astype(np.uint8))
    )  # exactly as the data sets are scaled
    floats = np.random.default_rng(1).random((2, 28, 28), dtype=np.float32)
    x, shape = as_images(floats)
    assert shape == (28, 28) and np.shares_memory(x.numpy(), floats)
    x, _ = as_images(torch.from_numpy(floats).requires_grad_())
    assert not x.requires_grad and torch.equal(x, torch.from_numpy(floats).reshape(2, 784))


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 783), st.floats(allow_nan=True, allow_infinity=True, width=32)), max_size=6))
def test_any_float_image_is_accepted_exactly_when_finite_and_in_the_unit_interval(pixels):
    x = np.zeros((1, 784), np.float32)
    for position, value in pixels:
        x[0, position] = value
    valid = bool(np.isfinite(x).all() and (x >= 0).all() and (x <= 1).all())
    try:
        tensor, _ = as_images(x)
    except InputError as error:
        assert not valid and "\n" not in str(error) and "image 0, position" in str(error)
    else:
        assert valid and torch.equal(tensor, torch.from_numpy(x))


def test_the_fitted_model_checks_its_inputs_and_codes(fitted):
    with pytest.raises(
        InputError, match=r"^X: shape \(2, 100\): expected images of shape \(n, 784\) or \(n, 28, 28\)$"
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
        InputError, match=r"^y: shape \(10, 784\): fit takes no targets .* pass test images as X_test=\.\.\.$"
    ):
        ae.fit(images, images)
    with pytest.raises(ConfigError, match=r"^batch_size 32: expected at most 10 \(the images in X\)$"):
        ae.fit(images)
    with pytest.raises(NotFittedError):
        check_is_fitted(ae)


def test_unfitted_models_say_so(fitted):
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        aelab.Autoencoder().transform(np.zeros((1, 784), np.float32))
    with pytest.raises(NotFittedError):
        aelab.Autoencoder().save("unused")
