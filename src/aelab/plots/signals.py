"""1-D samples (signals, spectra, table rows) as line plots: originals with reconstructions over them, and weights.

Images are shown as images (plots/images.py); a sample of shape (L,) has no second axis to tile,
so each one gets a small panel with the original and the reconstruction as two lines on one scale,
which shows where along the signal the model misses.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from matplotlib.figure import Figure

PANEL_INCHES = (2.4, 1.6)


def _panels(n: int, max_per_line: int) -> tuple[Figure, np.ndarray, int]:
    cols = min(n, max_per_line)
    rows = -(-n // cols)
    fig = Figure(figsize=(cols * PANEL_INCHES[0], rows * PANEL_INCHES[1] + 0.3), layout="constrained")
    axes = np.atleast_1d(fig.subplots(rows, cols, squeeze=False).ravel())
    for ax in axes[n:]:
        ax.set_visible(False)
    return fig, axes, cols


def signals_figure(
    lines: Sequence[np.ndarray], labels: Sequence[str], titles: Sequence[str] | None = None, max_per_line: int = 5
) -> Figure:
    """One panel per sample; `lines` are arrays (n, L) drawn over each other (originals first), `labels` name them."""
    lines = [np.asarray(a).reshape(len(a), -1) for a in lines]
    n = len(lines[0])
    if n == 0 or any(len(a) != n for a in lines) or len(labels) != len(lines):
        raise ValueError(
            "signals_figure: expected line sets of equal, non-zero length and one label each, got "
            f"{[len(a) for a in lines]}"
        )
    fig, axes, _ = _panels(n, max_per_line)
    styles = ["-", "--", ":"]
    for i in range(n):
        ax = axes[i]
        for k, (values, label) in enumerate(zip(lines, labels)):
            ax.plot(values[i], styles[k % len(styles)], linewidth=1.0, label=label)
        if titles is not None:
            ax.set_title(titles[i], fontsize=8)
        ax.tick_params(labelsize=6)
    axes[0].legend(fontsize=6)
    return fig


def weight_lines_figure(weights: np.ndarray, max_per_line: int = 4) -> Figure:
    """The first layer's weights (k, L) of a model on 1-D samples: one line per unit."""
    weights = np.asarray(weights)
    if len(weights) == 0:
        raise ValueError("weight_lines_figure: expected at least one weight vector")
    fig, axes, _ = _panels(len(weights), max_per_line)
    for i, row in enumerate(weights):
        axes[i].plot(row, linewidth=0.8)
        axes[i].axhline(0.0, color="grey", linewidth=0.5)
        axes[i].set_title(f"unit {i}", fontsize=8)
        axes[i].tick_params(labelsize=6)
    return fig
