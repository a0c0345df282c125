"""One description of the data a model was trained on, carried by every run and read by every consumer.

Figures, summaries, the explorer, probes, anomaly runs and the Python API used to guess what a sample
is from its number of features (784 → a 28×28 image, 64 → 8×8 "pixels"). Guesses fail off the path
they were made for: a table of 30 columns is not a 5×6 image, a signal of 64 values is not an 8×8
one, a model with linear outputs has no sigmoid to apply. So every run writes the description of its
data into config.json (`description`), built once from the Dataset, and every consumer asks it:

- `kind`: "image" (C, H, W), "signal" (L,) or "table" (L,) with `columns` named by its header;
- `scaling`: how the values were scaled for training (data/custom/scaling.py's record, (S1)), so an
  output can be given back in the data's own units (`original_units`);
- `loss`: bce (sigmoid outputs in [0, 1]) or mse (linear outputs), which says how a decoder's
  logits become samples;
- `class_names`: what the labels mean, or None for unlabelled data.

A run folder written before descriptions existed is described from what its config.json holds
(`described`): the built-in data sets' 28×28 grey images, or your own data's recorded sample shape.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

KINDS = ("image", "signal", "table")
BUILT_IN_SHAPE = (1, 28, 28)
WORDS = {  # kind → (a sample, its values, the unit of the values as a figure's label says it)
    "image": ("image", "pixels"),
    "signal": ("signal", "values"),
    "table": ("row", "columns"),
}


@dataclass(frozen=True)
class Description:
    """What a sample is (kind, shape, column names), how its values were scaled, its loss and its classes."""

    kind: str
    sample_shape: tuple[int, ...]
    loss: str = "bce"
    scaling: dict | None = None  # scaling.fit's record; None: values used as given (the built-ins' pixels / 255)
    columns: tuple[str, ...] | None = None
    class_names: tuple[str, ...] | None = None

    @property
    def n_features(self) -> int:
        return math.prod(self.sample_shape)

    @property
    def column_names(self) -> tuple[str, ...]:
        """A table's columns by name (numbered when its header named none)."""
        return self.columns or tuple(f"column {j + 1}" for j in range(self.n_features))

    @property
    def sample_word(self) -> str:
        """What one sample is called in a sentence: image, signal or row."""
        return WORDS[self.kind][0]

    @property
    def value_word(self) -> str:
        """What a sample's values are called: pixels, values or columns."""
        return WORDS[self.kind][1]

    @property
    def raw_name(self) -> str:
        """What the raw-feature baselines (kNN, probes) are called: pixels of images, inputs of signals and tables."""
        return "pixels" if self.kind == "image" else "inputs"

    @property
    def standardised(self) -> bool:
        """Whether the values the model sees are in standard units (S3): figures say so on their axes."""
        return self.scaling is not None and self.scaling.get("method") == "standard"

    def scale_words(self) -> str:
        """How the values a model sees relate to the data's own, for a figure's axis or a summary."""
        method = "none" if self.scaling is None else self.scaling.get("method", "none")
        divisor = 255.0 if self.scaling is None and self.kind == "image" else (self.scaling or {}).get("divisor", 1.0)
        if method == "standard":
            return "standardised units (per column: (x − training mean) / training sd)"
        if method == "minmax":
            return "scaled to [0, 1] by the training range of each feature"
        return "pixel values / 255" if divisor == 255.0 else "the data's own units"

    def original_units(self, rows: np.ndarray) -> np.ndarray:
        """Rows (n, features) in the scaled space the model works in → the data's own units (S1) undone:
        x = (x' / factor + offset) · divisor. Pixels of uint8 images come back in 0–255 as float32."""
        if self.scaling is None:
            return np.asarray(rows, dtype=np.float32).reshape(len(rows), -1)
        return (unscaled(rows, self.scaling) * self.scaling.get("divisor", 1.0)).astype(np.float32)

    def to_json(self) -> dict:
        """config.json's `description` (the scaling is recorded beside it, under `data`, for your own data)."""
        return {
            "kind": self.kind,
            "sample_shape": list(self.sample_shape),
            "loss": self.loss,
            "columns": None if self.columns is None else list(self.columns),
            "class_names": None if self.class_names is None else list(self.class_names),
        }


def unscaled(rows: np.ndarray, record: dict) -> np.ndarray:
    """Scaled rows (n, features) back to x / divisor, float64: data/custom/scaling.py's (S1) inverted,
    x' / factor + offset (the identity for `none`). What a person is shown of the values a model works in."""
    rows = np.asarray(rows, dtype=np.float64).reshape(len(rows), -1)
    if record.get("offset") is None:
        return rows
    return rows / np.asarray(record["factor"]) + np.asarray(record["offset"])  # x / divisor = x' / factor + offset


def kind_of(sample_shape: tuple[int, ...], columns: tuple[str, ...] | None) -> str:
    """image for (C, H, W), table when the columns have names, else signal."""
    if len(sample_shape) == 3:
        return "image"
    return "table" if columns is not None else "signal"


def described(run_config: dict) -> Description:
    """The description of a run's data from its config.json: its `description`, or (an older folder) what it
    recorded of your own data, or the built-in data sets' 28×28 grey images."""
    data = run_config.get("data")
    scaling = None if data is None else data.get("scaling")
    entry = run_config.get("description")
    if entry is not None:
        return Description(
            entry["kind"],
            tuple(entry["sample_shape"]),
            entry.get("loss", "bce"),
            scaling,
            None if entry.get("columns") is None else tuple(entry["columns"]),
            None if entry.get("class_names") is None else tuple(entry["class_names"]),
        )
    if data is None:
        return Description("image", BUILT_IN_SHAPE, (run_config.get("config") or {}).get("loss") or "bce")
    shape = tuple(data.get("sample_shape", BUILT_IN_SHAPE))
    kind = "table" if data.get("identity", {}).get("kind") == "table" else kind_of(shape, None)
    names = data.get("class_names")
    columns = tuple(f"column {j + 1}" for j in range(math.prod(shape))) if kind == "table" else None
    return Description(kind, shape, data.get("loss", "bce"), scaling, columns, None if names is None else tuple(names))
