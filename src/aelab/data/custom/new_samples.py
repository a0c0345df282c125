"""New samples for a model trained on your own data (the Python API's encode, transform, reconstruct, score):
checked like the training data and scaled with the statistics recorded at training time (scaling.py, S1);
and the model's outputs given back as the caller holds its samples (`own_units`: shape, layout, units).

A model trained on a CSV of beats standardised by the training split's mean and deviation must see
new beats through the same (S1), or its codes mean nothing; so `encode` takes samples as the file
held them (uint8 pixels, raw table values) and applies the recorded scaling itself.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from aelab.data.arrays import shared_tensor
from aelab.data.custom import scaling
from aelab.data.custom.open import sample_layout
from aelab.data.description import Description
from aelab.errors import InputError


def scaled_rows(samples, name: str, record: dict, sample_shape: tuple[int, ...]) -> torch.Tensor:
    """`samples` (n, *sample_shape), channels-last images, or rows (n, prod(sample_shape)) → scaled float32 rows."""
    if isinstance(samples, torch.Tensor):
        samples = samples.detach().cpu().numpy()
    array = np.asarray(samples)
    if array.ndim >= 2 and array.ndim == len(sample_shape) + 1 and tuple(array.shape[1:]) != tuple(sample_shape):
        array = sample_layout(array) if array.ndim in (3, 4) else array
    n_features = math.prod(sample_shape)
    shapes = {(n_features,), tuple(sample_shape)} | (
        {tuple(sample_shape[1:])} if len(sample_shape) == 3 and sample_shape[0] == 1 else set()
    )
    if array.ndim < 2 or tuple(array.shape[1:]) not in shapes or len(array) == 0:
        raise InputError(
            f"{name}: shape {array.shape}: expected samples of shape (n, {', '.join(map(str, sample_shape))}) "
            f"or (n, {n_features}), n ≥ 1, as the model was trained on"
        )
    if array.dtype.kind not in "uif":
        raise InputError(f"{name}: dtype {array.dtype}: expected numbers")
    if array.dtype.kind == "f" and not np.isfinite(array).all():
        index = tuple(int(i) for i in np.argwhere(~np.isfinite(array))[0])
        raise InputError(f"{name}: {array[index]} at index {index}: expected finite values")
    data = record["scaling"]
    if data["divisor"] == 255.0 and array.dtype != np.uint8:
        raise InputError(f"{name}: dtype {array.dtype}: expected uint8 pixels, as the model's training data held")
    return shared_tensor(scaling.apply(array, data, record["clipped_to_unit_range"]))


def accepted_shapes(sample_shape: tuple[int, ...], own_shape: tuple[int, ...]) -> list[tuple[int, ...]]:
    """The sample shapes a model of `sample_shape` ((C, H, W) or (L,)) takes new samples in: the shape fit was
    given (`own_shape`), the model's own, channels-last (H, W, C), (H, W) for one channel, and flat rows."""
    shapes = [tuple(own_shape), tuple(sample_shape)]
    if len(sample_shape) == 3:
        c, h, w = sample_shape
        shapes += [(h, w, c)] + ([(h, w)] if c == 1 else [])
    shapes.append((math.prod(sample_shape),))
    return list(dict.fromkeys(shapes))


def is_channels_last(shape: tuple[int, ...], sample_shape: tuple[int, ...], own_shape: tuple[int, ...]) -> bool:
    """Whether samples of `shape` hold a (C, H, W) model's images channels-last: their shape is (H, W, C) and not
    the model's own (a 3×3×3 image is read as fit's samples were)."""
    if len(sample_shape) != 3 or len(shape) != 3:
        return False
    channels_last = tuple(sample_shape[1:]) + (sample_shape[0],)
    if shape == tuple(own_shape) and shape == channels_last:
        return True
    return shape == channels_last and shape != tuple(sample_shape)


def model_rows(array: np.ndarray, name: str, sample_shape: tuple, own_shape: tuple, word: str = "sample") -> np.ndarray:
    """`array` (n, *one of accepted_shapes) → rows (n, prod(sample_shape)) in the model's layout (values unchanged)."""
    shape = tuple(array.shape[1:])
    shapes = accepted_shapes(sample_shape, own_shape)
    if array.ndim < 2 or shape not in shapes or len(array) == 0:
        wanted = " or ".join(f"(n, {', '.join(map(str, s))})" for s in shapes)
        raise InputError(f"{name}: shape {tuple(array.shape)}: expected {word}s of shape {wanted}, n ≥ 1")
    if is_channels_last(shape, sample_shape, own_shape):
        array = array.transpose(0, 3, 1, 2)  # (n, H, W, C) → (n, C, H, W)
    return array.reshape(len(array), -1)


def in_layout(rows: np.ndarray, sample_shape: tuple, shape: tuple, own_shape: tuple) -> np.ndarray:
    """Rows (n, features) in the model's layout → (n, *shape), channels-last where `shape` is (H, W, C)."""
    n = len(rows)
    if is_channels_last(tuple(shape), sample_shape, own_shape):
        return np.ascontiguousarray(rows.reshape(n, *sample_shape).transpose(0, 2, 3, 1))
    return rows.reshape(n, *shape)


def check_unit_values(array: np.ndarray, name: str, word: str) -> None:
    """Values a BCE model takes as given (no scaling recorded) must be in [0, 1]: floats outside are located."""
    if array.dtype == np.uint8:
        return
    outside = (array < 0) | (array > 1)
    if outside.any():
        index = tuple(int(i) for i in np.argwhere(outside)[0])
        looks_like_bytes = array.min() >= 0 and 1 < array.max() <= 255
        hint = " (values in 0–255 must be uint8, or divided by 255)" if looks_like_bytes else ""
        raise InputError(
            f"{name}: value {array[index]:g} at {word} {index[0]}, position {index[1:]}: expected values in "
            f"[0, 1], as the model was trained on{hint}"
        )


def checked_numbers(array: np.ndarray, name: str, word: str) -> None:
    """Numbers (integers or floats), finite: located by their index otherwise."""
    if array.dtype.kind not in "uif":
        raise InputError(f"{name}: dtype {array.dtype}: expected numbers")
    if array.dtype.kind == "f" and not np.isfinite(array).all():
        index = tuple(int(i) for i in np.argwhere(~np.isfinite(array))[0])
        raise InputError(f"{name}: {array[index]} at {word} {index[0]}, position {index[1:]}: expected finite values")


def new_rows(array: np.ndarray, name: str, description: Description, own_shape: tuple) -> torch.Tensor:
    """Samples as the caller holds them (fit's shape, layout and units) → the float32 rows the model takes.

    The scaling recorded at training time is applied (S1); with none recorded (the built-in data sets'
    pixels) uint8 bytes are divided by 255 and floats must already be in [0, 1]. uint8 given to a model
    of float pixels in [0, 1] are bytes too (divided by 255); floats given to a model of uint8 pixels
    are refused, since whether they are bytes or fractions cannot be told."""
    word = description.sample_word
    checked_numbers(array, name, word)
    rows = model_rows(array, name, description.sample_shape, own_shape, word)
    record = description.scaling or {"method": "none", "divisor": 1.0, "offset": None, "factor": None}
    if record["divisor"] == 255.0 and array.dtype != np.uint8:
        raise InputError(f"{name}: dtype {array.dtype}: expected uint8 pixels, as the model's training data held")
    if record["method"] == "none" and description.loss == "bce":
        check_unit_values(array, name, word)
        if array.dtype == np.uint8:
            record = {**record, "divisor": 255.0}  # bytes are pixels / 255 (as the data sets are scaled)
    clip = description.loss == "bce" and record["method"] != "none"
    return shared_tensor(scaling.apply(rows, record, clip))


def own_units(outputs: np.ndarray, description: Description, shape: tuple, own_shape: tuple) -> np.ndarray:
    """A model's outputs (n, features) → the data's own units (S1) undone, in samples of `shape` (float32)."""
    return in_layout(description.original_units(outputs), description.sample_shape, shape, own_shape)
