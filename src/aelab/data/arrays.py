"""Two helpers every door shares: the built-in data sets' sample shape for rows of 784 pixels, and `shared_tensor`.

Arrays from Python callers (any sample shape, any range) are checked and scaled by
data/custom/in_memory.py and open_dataset, the path files take too.
"""

from __future__ import annotations

import threading
import warnings

import numpy as np
import torch

IMAGE_SHAPE = (28, 28)  # the data sets' image shape (data.registry); what the models and figures are built for
_WARNING_FILTERS = threading.Lock()


def image_shape(n_features: int) -> tuple[int, ...]:
    """The (C, H, W) of rows of `n_features` pixels: (1, 28, 28) for the built-in data sets' 784, else flat (n,)."""
    return (1, 28, 28) if n_features == 784 else (n_features,)


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
