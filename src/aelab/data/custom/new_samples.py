"""New samples for a model trained on your own data (the Python API's encode, transform, reconstruct, score):
checked like the training data and scaled with the statistics recorded at training time (scaling.py, S1).

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
