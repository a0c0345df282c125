"""Rows of a table drawn by their named columns: originals beside reconstructions as bars, and first-layer weights.

A table row is neither an image (its columns have no neighbours) nor a signal (their order means
nothing, and a line between them suggests a continuity that is not there), so each row gets a panel
of bars, one group per named column, in the units the model works in (standardised, typically): one
column in large raw units would otherwise flatten the others. The caller says which units in
`value_label`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from matplotlib.figure import Figure

BAR_INCHES = 0.16  # width per column in a panel: 30 columns fit in a panel about 5 inches wide
PANEL_HEIGHT = 1.5
MAX_NAME = 14  # characters of a column name on an axis before it is shortened


def short(name: str) -> str:
    return name if len(name) <= MAX_NAME else name[: MAX_NAME - 1] + "…"


def table_rows_figure(
    arrays: Sequence[np.ndarray],
    labels: Sequence[str],
    columns: Sequence[str],
    titles: Sequence[str] | None = None,
    value_label: str = "value",
    per_line: int = 2,
) -> Figure:
    """One panel per row: a group of bars per named column, one bar for each array (originals first).

    arrays: (n, L) each, the same n rows; columns: the L names, shown under the bottom panels.
    """
    arrays = [np.asarray(a).reshape(len(a), -1) for a in arrays]
    n, width = len(arrays[0]), len(columns)
    if n == 0 or any(a.shape != (n, width) for a in arrays) or len(labels) != len(arrays):
        raise ValueError(f"table_rows_figure: expected arrays (n, {width}) with one label each")
    cols = min(n, per_line)
    rows = -(-n // cols)
    fig = Figure(figsize=(cols * max(3.0, width * BAR_INCHES + 0.8), rows * PANEL_HEIGHT + 1.2), layout="constrained")
    axes = fig.subplots(rows, cols, squeeze=False, sharex=True).ravel()
    step = 0.8 / len(arrays)
    positions = np.arange(width)
    for i, ax in enumerate(axes):
        if i >= n:
            ax.set_visible(False)
            continue
        for k, (values, label) in enumerate(zip(arrays, labels)):
            ax.bar(positions - 0.4 + step * (k + 0.5), values[i], step, label=label)
        ax.axhline(0.0, color="grey", linewidth=0.5)
        if titles is not None:
            ax.set_title(titles[i], fontsize=8)
        ax.tick_params(labelsize=6)
    for ax in axes[-cols:]:
        ax.set_xticks(positions, [short(c) for c in columns], rotation=90, fontsize=6)
    axes[0].legend(fontsize=6)
    fig.supylabel(value_label, fontsize=8)
    return fig


def table_weights_figure(weights: np.ndarray, columns: Sequence[str]) -> Figure:
    """The first layer's weights (k units, L columns) as a heat map, symmetric about zero, columns named."""
    weights = np.asarray(weights)
    if weights.ndim != 2 or weights.shape[1] != len(columns) or len(weights) == 0:
        raise ValueError(f"table_weights_figure: expected weights (k, {len(columns)})")
    limit = float(np.abs(weights).max()) or 1.0
    fig = Figure(
        figsize=(max(4.0, len(columns) * 0.22 + 1.5), max(2.0, len(weights) * 0.22 + 1.4)), layout="constrained"
    )
    ax = fig.subplots()
    image = ax.imshow(weights, cmap="RdBu_r", vmin=-limit, vmax=limit, aspect="auto", interpolation="nearest")
    ax.set_xticks(np.arange(len(columns)), [short(c) for c in columns], rotation=90, fontsize=6)
    ax.set_yticks(np.arange(len(weights)), [f"unit {i}" for i in range(len(weights))], fontsize=6)
    ax.set_title("first-layer weights by column", fontsize=9)
    fig.colorbar(image, ax=ax, shrink=0.8)
    return fig
