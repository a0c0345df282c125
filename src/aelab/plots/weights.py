"""The encoder's first-layer weights as 28×28 images: what each unit responds to."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure


def weights_figure(weights: np.ndarray, image_shape: tuple[int, int] = (28, 28), max_per_line: int = 8) -> Figure:
    """One image per row of `weights` (k, 784), on a colour scale symmetric about zero.

    A shared symmetric scale (diverging map, white at 0) makes excitatory and inhibitory weights
    read correctly and comparably across units; per-image autoscaling would hide both.
    """
    weights = np.asarray(weights)
    k = len(weights)
    if k == 0:
        raise ValueError("weights_figure: expected at least one weight vector")
    limit = float(np.abs(weights).max()) or 1.0
    cols = min(k, max_per_line)
    rows = -(-k // cols)
    fig = Figure(figsize=(cols * 1.1 + 1.0, rows * 1.1 + 0.4), layout="constrained")
    axes = fig.subplots(rows, cols, squeeze=False)
    image = None
    for i, ax in enumerate(axes.flat):
        ax.set_xticks([]), ax.set_yticks([])
        if i >= k:
            ax.set_axis_off()
            continue
        image = ax.imshow(weights[i].reshape(image_shape), cmap="RdBu_r", vmin=-limit, vmax=limit, interpolation="nearest")
        ax.set_title(f"unit {i}", fontsize=7)
    fig.colorbar(image, ax=axes, shrink=0.8, label="weight")
    return fig
