"""Images handed in by a caller (NumPy or torch) checked and brought to the one layout the models use.

The Python API accepts what users have at hand: (n, 784) rows or (n, 28, 28) images, floats in
[0, 1] or uint8 in 0–255, as NumPy arrays or torch tensors. Everything else is refused here with one
line that names the argument, the offending place and what was expected — before a model sees it,
because a raw torch shape error or a NaN loss three epochs later says neither.

The result is a float32 tensor (n, n_features) plus the sample shape the caller used, so outputs can
be given back in the caller's layout. A (n, C, H, W) layout, for convolutional models, will be one
more entry in SAMPLE_SHAPES; the dense models only ever see the flattened rows.
"""

from __future__ import annotations

import math
import threading
import warnings

import numpy as np
import torch
from scipy import sparse

from aelab.errors import InputError

IMAGE_SHAPE = (28, 28)  # the data sets' image shape (data.registry); what the models and figures are built for
SAMPLE_SHAPES = ((math.prod(IMAGE_SHAPE),), IMAGE_SHAPE)  # flat rows or 2-D images; (C, H, W) later
_WARNING_FILTERS = threading.Lock()


def image_shape(n_features: int) -> tuple[int, ...]:
    """The (C, H, W) of rows of `n_features` pixels: (1, 28, 28) for the built-in data sets' 784, else flat (n,)."""
    return (1, 28, 28) if n_features == 784 else (n_features,)


def _as_numpy(images, name: str) -> np.ndarray:
    """A NumPy view of `images` (a torch tensor is detached and moved to the CPU first)."""
    if sparse.issparse(images):
        raise InputError(f"{name}: a sparse matrix is not supported: expected a dense array of images (use .toarray())")
    if isinstance(images, torch.Tensor):
        images = images.detach().cpu()
        return images.float().numpy() if images.dtype == torch.bfloat16 else images.numpy()
    try:
        return np.asarray(images)
    except (TypeError, ValueError) as exc:
        raise InputError(
            f"{name}: cannot be read as an array ({exc}): expected a NumPy array or torch tensor of images"
        ) from None


def _check_shape(array: np.ndarray, name: str, expected: tuple[int, ...] | None) -> None:
    """(n, *sample) with a known sample shape (or the one the model was fitted on) and n ≥ 1."""
    shapes = (
        SAMPLE_SHAPES if expected is None else tuple(s for s in SAMPLE_SHAPES if math.prod(s) == math.prod(expected))
    )
    wanted = " or ".join(f"(n, {', '.join(map(str, s))})" for s in shapes)
    if array.ndim < 1 or tuple(array.shape[1:]) not in shapes:
        raise InputError(f"{name}: shape {tuple(array.shape)}: expected images of shape {wanted}")
    if len(array) == 0:
        raise InputError(f"{name}: shape {tuple(array.shape)}: expected at least one image")


def _where(index: tuple) -> str:
    return f"image {int(index[0])}, position {tuple(int(i) for i in index[1:])}"


def _check_values(array: np.ndarray, name: str) -> None:
    """Floats must be finite and in [0, 1]; uint8 needs no check; other dtypes are refused."""
    if array.dtype == np.uint8:
        return
    if not np.issubdtype(array.dtype, np.floating):
        raise InputError(f"{name}: dtype {array.dtype}: expected floats in [0, 1] or uint8 in 0–255")
    finite = np.isfinite(array)
    if not finite.all():
        index = tuple(np.argwhere(~finite)[0])
        raise InputError(f"{name}: {array[index]} at {_where(index)}: expected finite pixel values in [0, 1]")
    outside = (array < 0) | (array > 1)
    if outside.any():
        index = tuple(np.argwhere(outside)[0])
        looks_like_bytes = array.min() >= 0 and 1 < array.max() <= 255
        hint = " (images in 0–255 must be uint8, or divided by 255)" if looks_like_bytes else ""
        raise InputError(f"{name}: value {array[index]:g} at {_where(index)}: expected pixel values in [0, 1]{hint}")


def as_images(images, name: str = "X", expected: tuple[int, ...] | None = None) -> tuple[torch.Tensor, tuple[int, ...]]:
    """Check `images` and return (float32 tensor (n, n_features) in [0, 1], the sample shape as given).

    `name` is how the caller knows the argument ("X", "X_test"); `expected` is the sample shape a
    fitted model was given, so that its other layout is accepted too but a different size is not.
    uint8 images are divided by 255 (as the data sets are); float32 C-ordered input is not copied.
    """
    array = _as_numpy(images, name)
    _check_shape(array, name, expected)
    _check_values(array, name)
    if array.dtype == np.uint8:
        rows = array.reshape(len(array), -1).astype(np.float32) / np.float32(255.0)
    else:
        rows = np.ascontiguousarray(array, dtype=np.float32).reshape(len(array), -1)
    return shared_tensor(rows), tuple(array.shape[1:])


def shared_tensor(array: np.ndarray) -> torch.Tensor:
    """`torch.from_numpy`, also for a read-only array (such as a loaded data set's), without its warning.

    PyTorch warns because a tensor cannot be made read-only; aelab only ever reads the tensors made
    from data (the trainer copies batches out with index_select, noise makes new tensors), so sharing
    the memory is safe and saves a copy of the whole data set. `catch_warnings` changes process-wide
    state, so aelab's own threads (reproduce's workers) take turns through it.
    """
    with _WARNING_FILTERS, warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="The given NumPy array is not writable", category=UserWarning)
        return torch.from_numpy(array)
