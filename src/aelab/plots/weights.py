"""The encoder's first-layer weights as 28×28 images: what each unit responds to."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from aelab.plots.images import displayable
from aelab.plots.mosaic import show, tile
from aelab.plots.signals import weight_lines_figure


def weights_figure(weights: np.ndarray, image_shape: tuple[int, ...] = (28, 28), max_per_line: int = 8) -> Figure:
    """One image per row of `weights` (k, 784), on a colour scale symmetric about zero.

    A shared symmetric scale (diverging map, white at 0) makes excitatory and inhibitory weights
    read correctly and comparably across units; per-image autoscaling would hide both.
    """
    weights = np.asarray(weights)
    if len(image_shape) == 1:  # 1-D samples: one line per unit
        return weight_lines_figure(weights)
    k = len(weights)
    if k == 0:
        raise ValueError("weights_figure: expected at least one weight vector")
    limit = float(np.abs(weights).max()) or 1.0
    cols = min(k, max_per_line)
    rows = -(-k // cols)
    images = displayable(
        weights, image_shape
    )  # colour weights: each channel −limit → 0, 0 → ½, +limit → 1 (mosaic.show)
    mosaic = tile(
        [[images[i] if i < k else None for i in range(r * cols, (r + 1) * cols)] for r in range(rows)],
        gap=3,
        gap_above=[8] * rows,
    )
    fig = Figure(figsize=(cols * 1.1 + 1.0, rows * 1.1 + 0.4), layout="constrained")
    ax = fig.add_subplot()
    image = show(ax, mosaic, "RdBu_r", -limit, limit, background="0.8")  # one tiled image (plots/mosaic.py); grey gaps
    for i in range(k):
        x, _ = mosaic.centre(i // cols, i % cols)
        ax.text(x, mosaic.tops[i // cols] - 1, f"unit {i}", ha="center", va="bottom", fontsize=7)
    if images.ndim == 3:  # a colour image has no colour map to explain
        fig.colorbar(image, ax=ax, shrink=0.8, label="weight")
    return fig
