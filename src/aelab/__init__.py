"""aelab — an autoencoder laboratory.

The Python API (see `aelab.api` and README "Python API"):

    Autoencoder   the study's autoencoders as a scikit-learn estimator (fit, transform, score, save) on any
                  data: arrays of any sample shape, a DataFrame, a path, a Dataset
    load          the fitted Autoencoder of a run folder (`aelab train`'s or `Autoencoder.save`'s)
    load_dataset  MNIST / Fashion-MNIST as read-only float32 arrays in [0, 1]
    open_dataset  your own data (image folder, .npy/.npz, CSV/TSV, IDX; or arrays / a DataFrame in memory) as a
                  Dataset: Autoencoder().fit(dataset)
    TrainConfig   every training setting, validated when made (the CLI's options come from it)

Importing the package has no side effects: no argv parsing, no downloads, no threads; the names
above are imported on first use, so `import aelab` stays light (no torch, no scikit-learn).
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"
__all__ = ["Autoencoder", "load", "load_dataset", "TrainConfig", "open_dataset"]

_HOMES = {
    "Autoencoder": "aelab.api",
    "load": "aelab.api",
    "load_dataset": "aelab.data",
    "TrainConfig": "aelab.config",
    "open_dataset": "aelab.data.custom",
}


def __getattr__(name: str):
    """Import an API name from its module on first use (PEP 562)."""
    if name not in _HOMES:
        raise AttributeError(f"module 'aelab' has no attribute {name!r}")
    value = getattr(importlib.import_module(_HOMES[name]), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
