"""Image grids: originals over reconstructions (and, for a denoiser, the noisy input between)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from matplotlib.figure import Figure

from aelab.plots.mosaic import Mosaic, show, tile
from aelab.plots.signals import signals_figure

CELL_INCHES = 1.0  # one 28×28 image per inch: legible at 100 dpi without a magnifier
LABEL_CHAR_INCHES = 0.075  # a character of a 9-point row label, about


def image_rows(
    rows: Sequence[np.ndarray],
    row_labels: Sequence[str],
    titles: Sequence[str] | None = None,
    image_shape: tuple[int, ...] = (28, 28),
    max_per_line: int = 20,
) -> Figure:
    """A grid with one line per array; arrays are (n, 784) or (n, 28, 28) in [0, 1] (or rows of `image_shape`
    (C, H, W), drawn in colour when C is 3).

    More than `max_per_line` images wrap onto further blocks of lines, so any count stays legible.
    Drawn as one tiled image (plots/mosaic.py); each line is labelled on the left, each image of a
    block's first line gets its title above.
    """
    rows = [displayable(np.asarray(r), image_shape) for r in rows]
    n = len(rows[0])
    if n == 0 or any(len(r) != n for r in rows) or len(row_labels) != len(rows):
        raise ValueError(
            f"image_rows: expected rows of equal, non-zero length and one label each, got {[len(r) for r in rows]}"
        )
    per_line = min(n, max_per_line)
    blocks = -(-n // per_line)
    lines = [
        [images[i] if i < n else None for i in range(b * per_line, (b + 1) * per_line)]
        for b in range(blocks)
        for images in rows
    ]
    title_room = 9 if titles is not None else 2
    gap_above = [
        (title_room if r == 0 else 2) if (b or r or titles is not None) else 0
        for b in range(blocks)
        for r in range(len(rows))
    ]
    mosaic = tile(lines, gap=2, gap_above=gap_above)
    fig = Figure(figsize=strip_inches(mosaic, row_labels), layout="constrained")
    ax = fig.add_subplot(anchor="NW")  # the row labels' corner: why, in strip_inches
    show(ax, mosaic, "gray", 0.0, 1.0)
    ax.set_yticks(
        [mosaic.centre(line, 0)[1] for line in range(len(lines))],
        [row_labels[line % len(rows)] for line in range(len(lines))],
        fontsize=9,
    )
    ax.tick_params(axis="y", length=0)
    if titles is not None:
        for i in range(n):
            x, _ = mosaic.centre(0, i % per_line)
            top = mosaic.tops[(i // per_line) * len(rows)]
            ax.text(x, top - 1, titles[i], ha="center", va="bottom", fontsize=8)
    return fig


def strip_inches(mosaic: Mosaic, row_labels: Sequence[str]) -> tuple[float, float]:
    """(width, height) of a strip's figure: a cell and its gap per CELL_INCHES, and room for the longest row label.

    Sized to the mosaic's own proportions, so the square pixels leave little blank beside it. The labels
    stay inside the figure whatever this estimates: square pixels shrink the axes inside the box the layout
    gives it, and centred (the default) the shrink moved the labels after the layout had measured them, so
    savefig's one draw cut them ("econstruction"); anchored at its top left (`image_rows`), they stay put.
    """
    height, width = mosaic.pixels.shape[:2]
    inches_per_pixel = CELL_INCHES / (mosaic.cell[1] + 2)
    label_room = LABEL_CHAR_INCHES * max(map(len, row_labels), default=0) + 0.3
    return width * inches_per_pixel + label_room, height * inches_per_pixel + 0.2


def displayable(rows: np.ndarray, image_shape: tuple[int, ...]) -> np.ndarray:
    """Rows (n, features) as images: (n, H, W) for grey ((H, W) or (1, H, W)), (n, H, W, 3) for colour (C, H, W)."""
    if len(image_shape) == 3 and image_shape[0] == 1:
        image_shape = image_shape[1:]
    if len(image_shape) == 2:
        return rows.reshape(len(rows), *image_shape)
    images = rows.reshape(len(rows), *image_shape).transpose(0, 2, 3, 1)  # (n, C, H, W) → (n, H, W, C)
    return images[..., :3]  # RGB; an alpha channel is not drawn


def reconstructions_figure(
    originals: np.ndarray,
    reconstructions: np.ndarray,
    noisy: np.ndarray | None = None,
    titles: Sequence[str] | None = None,
    sample_shape: tuple[int, ...] = (28, 28),
) -> Figure:
    """Originals over reconstructions; with `noisy`, three rows: original, noisy input, output.

    `sample_shape` (H, W) or (C, H, W) draws images; (L,) draws each sample as lines (plots/signals.py).
    """
    arrays, labels = (
        ([originals, reconstructions], ["original", "reconstruction"])
        if noisy is None
        else ([originals, noisy, reconstructions], ["original", "noisy input", "output"])
    )
    if len(sample_shape) == 1:
        return signals_figure(arrays, labels, titles)
    return image_rows(arrays, labels, titles, image_shape=sample_shape)
