"""How samples, traversals and first-layer weights of each kind of data are drawn, asked of the data's description.

Images as images (in colour for three channels; their values brought back to [0, 1] for the screen),
signals as lines in the data's own units, table rows as bars per named column in the units the model
works in, with the scaling stated on the axis. plots/ lays the arrays out; this module decides which
layout a kind gets and what its values mean (data/description.py).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from matplotlib.figure import Figure

from aelab.data.description import Description, unscaled
from aelab.plots.generative import traversal_figure
from aelab.plots.images import reconstructions_figure
from aelab.plots.signals import signals_figure
from aelab.plots.tables import table_rows_figure, table_weights_figure
from aelab.plots.ticks import clean_labels
from aelab.plots.weights import weights_figure

ROW_LABELS = {"originals": "original", "noisy": "noisy input", "reconstructions": "reconstruction"}


def on_screen(description: Description, rows: np.ndarray) -> np.ndarray:
    """Image rows in [0, 1] for display: the scaling undone, then pixels of 0–255 divided by 255."""
    if description.scaling is None:
        return np.asarray(rows)
    return np.clip(unscaled(rows, description.scaling), 0.0, 1.0)


def samples_figure(description: Description, rows: dict[str, np.ndarray], titles: Sequence[str] | None) -> Figure:
    """Originals over reconstructions (and a denoiser's noisy inputs between), drawn for the data's kind.

    `rows` maps originals / reconstructions (/ noisy) to arrays (n, features) in the model's space."""
    order = [key for key in ("originals", "noisy", "reconstructions") if key in rows]
    if description.kind == "image":
        shown = {key: on_screen(description, rows[key]) for key in order}
        return reconstructions_figure(**shown, titles=titles, sample_shape=description.sample_shape)
    labels = [ROW_LABELS[key] for key in order]
    if description.kind == "signal":
        return signals_figure([description.original_units(rows[key]) for key in order], labels, titles)
    arrays = [rows[key] for key in order]
    return table_rows_figure(arrays, labels, description.column_names, titles, description.scale_words())


def generated_figure(description: Description, rows: np.ndarray, title: str) -> Figure:
    """Samples a decoder made (from the prior, say) with no originals beside them, drawn for the data's kind."""
    if description.kind == "signal":
        return signals_figure([description.original_units(rows)], [title])
    return table_rows_figure([rows], [title], description.column_names, None, description.scale_words())


def traversal_drawing(
    description: Description, rows: np.ndarray, row_labels: Sequence[str], values: Sequence[float], title: str
) -> Figure:
    """A traversal's decodings (dims, steps, features), one per code dimension and value: a line of images per
    dimension, or a panel per dimension with one line (signals) or one bar per column (tables) per value."""
    rows = np.asarray(rows)
    if description.kind == "image":
        shown = on_screen(description, rows.reshape(-1, rows.shape[-1])).reshape(rows.shape)
        return traversal_figure(shown, row_labels, values, description.sample_shape, title)
    steps = [rows[:, s] for s in range(rows.shape[1])]  # (dims, features) per value: a line or a bar per value
    value_labels = [f"code = {label}" for label in clean_labels(values)]
    if description.kind == "signal":
        figure = signals_figure([description.original_units(a) for a in steps], value_labels, row_labels)
    else:
        figure = table_rows_figure(steps, value_labels, description.column_names, row_labels, description.scale_words())
    figure.suptitle(title, fontsize=9)
    return figure


def weights_drawing(description: Description, weights: np.ndarray) -> Figure:
    """The first dense layer's weights (k, features): images, lines per unit, or a heat map by named column."""
    if description.kind == "table":
        return table_weights_figure(weights, description.column_names)
    return weights_figure(weights, image_shape=description.sample_shape)
