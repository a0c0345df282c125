"""Data: IDX files, the registry of known data sets, where they are found, and how they are loaded.

Everything here is pure functions over NumPy arrays plus a registry dict; only noise.py (which corrupts
batches during training) works on torch tensors.
"""

from aelab.data.load import Dataset, load_dataset

__all__ = ["Dataset", "load_dataset"]
