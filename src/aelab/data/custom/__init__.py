"""Your own data (`--dataset PATH`): image folders, .npy/.npz arrays, CSV/TSV tables and IDX files.

Each kind has a reader that checks everything and refuses bad input with one line naming the file
(and line, column or index); `open_dataset` turns what was read into the same `Dataset` the
built-in data sets give, with its identity, split and scaling recorded (see open.py).
"""

from aelab.data.custom.open import open_dataset, read_samples

__all__ = ["open_dataset", "read_samples"]
