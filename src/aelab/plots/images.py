"""Image grids: originals over reconstructions (and, for a denoiser, the noisy input between)."""

from __future__ import annotations

from typing import Sequence

import numpy as np
from matplotlib.figure import Figure

CELL_INCHES = 1.0  # one 28×28 image per inch: legible at 100 dpi without a magnifier


def image_rows(rows: Sequence[np.ndarray], row_labels: Sequence[str], titles: Sequence[str] | None = None,
               image_shape: tuple[int, int] = (28, 28), max_per_line: int = 20) -> Figure:
    """A grid with one row per array; arrays are (n, 784) or (n, 28, 28) in [0, 1].

    More than `max_per_line` images wrap onto further blocks of rows, so any count stays legible.
    """
    rows = [np.asarray(r).reshape(len(r), *image_shape) for r in rows]
    n = len(rows[0])
    if n == 0 or any(len(r) != n for r in rows) or len(row_labels) != len(rows):
        raise ValueError(f"image_rows: expected rows of equal, non-zero length and one label each, got {[len(r) for r in rows]}")
    per_line = min(n, max_per_line)
    blocks = -(-n // per_line)
    fig = Figure(figsize=(per_line * CELL_INCHES + 0.8, blocks * len(rows) * CELL_INCHES * 1.12), layout="constrained")
    axes = fig.subplots(blocks * len(rows), per_line, squeeze=False)
    for b in range(blocks):
        for r, (images, label) in enumerate(zip(rows, row_labels)):
            for c in range(per_line):
                ax, i = axes[b * len(rows) + r, c], b * per_line + c
                ax.set_xticks([]), ax.set_yticks([])
                if i >= n:
                    ax.set_axis_off()
                    continue
                ax.imshow(images[i], cmap="gray", vmin=0.0, vmax=1.0, interpolation="nearest")
                if c == 0:
                    ax.set_ylabel(label, fontsize=9)
                if r == 0 and titles is not None:
                    ax.set_title(titles[i], fontsize=8)
    return fig


def reconstructions_figure(originals: np.ndarray, reconstructions: np.ndarray, noisy: np.ndarray | None = None,
                           titles: Sequence[str] | None = None) -> Figure:
    """Originals over reconstructions; with `noisy`, three rows: original, noisy input, output."""
    if noisy is None:
        return image_rows([originals, reconstructions], ["original", "reconstruction"], titles)
    return image_rows([originals, noisy, reconstructions], ["original", "noisy input", "output"], titles)
