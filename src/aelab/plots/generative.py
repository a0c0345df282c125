"""What a decoder makes of points in code space: the decoded manifold, prior samples, interpolations, traversals.

The caller decodes (runs/family_figures.py); these functions only lay out the images.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from matplotlib.figure import Figure

from aelab.plots.images import image_rows
from aelab.plots.mosaic import show, tile
from aelab.plots.ticks import clean_labels, round_ticks


def grid_codes(n: int, extent: tuple[float, float, float, float]) -> np.ndarray:
    """(n·n, 2) codes on an n × n grid over [x0, x1] × [y0, y1], row by row from the top (largest y) down.

    The Keras VAE example's `plot_latent_space` decodes 30 × 30 points over [−1, 1]² this way.
    """
    x0, x1, y0, y1 = extent
    xs, ys = np.linspace(x0, x1, n), np.linspace(y1, y0, n)
    return np.array([(x, y) for y in ys for x in xs], dtype=np.float32)


def traversal_codes(base: np.ndarray, dimensions: Sequence[int], values: Sequence[float]) -> np.ndarray:
    """(len(dimensions), len(values), k) codes: `base` (k,) with one dimension at a time set to each of `values`.

    The latent traversal of Higgins et al. 2017 (β-VAE), Fig. 1: what one code dimension does, the others held.
    """
    base = np.asarray(base, dtype=np.float32)
    codes = np.tile(base, (len(dimensions), len(values), 1))  # (dims, steps, k)
    for row, dimension in enumerate(dimensions):
        codes[row, :, dimension] = values
    return codes


def traversal_figure(
    images: np.ndarray,
    row_labels: Sequence[str],
    values: Sequence[float],
    image_shape: tuple[int, ...],
    title: str = "",
) -> Figure:
    """Decodings of `traversal_codes`, (dims, steps, H·W) in [0, 1]: one line per dimension (`row_labels`), one
    column per value, titled with it."""
    images = np.asarray(images)
    fig = image_rows(
        list(images), row_labels, titles=clean_labels(values), image_shape=image_shape, max_per_line=len(values)
    )
    if title:  # two lines at most, above the strip: room for them, so the images keep their size
        width, height = fig.get_size_inches()
        fig.set_size_inches(width, height + 0.35)
        fig.suptitle(title, fontsize=9)
    return fig


def manifold_figure(images: np.ndarray, n: int, extent: tuple[float, float, float, float], title: str = "") -> Figure:
    """The decodings of `grid_codes(n, extent)`, (n·n, H, W) or (n·n, H, W, 3) in [0, 1], tiled as the grid, code
    values on the axes: round ones (plots/ticks.py), each where it falls between the cells' centres."""
    images = np.asarray(images)
    mosaic = tile([[images[r * n + c] for c in range(n)] for r in range(n)], gap=0)
    height, width = mosaic.pixels.shape[:2]  # (H, W) grey or (H, W, 3) colour
    fig = Figure(figsize=(8, 8 * height / width + 0.6), layout="constrained")
    ax = fig.subplots()
    show(ax, mosaic, "gray", 0.0, 1.0)
    x0, x1, y0, y1 = extent
    first, last = mosaic.centre(0, 0), mosaic.centre(n - 1, n - 1)  # the cells decoded at (x0, y1) and (x1, y0)
    xs, ys = round_ticks(min(x0, x1), max(x0, x1)), round_ticks(min(y0, y1), max(y0, y1))
    ax.set_xticks(placed(xs, (x0, x1), (first[0], last[0])), clean_labels(xs))
    ax.set_yticks(placed(ys, (y1, y0), (first[1], last[1])), clean_labels(ys))  # rows run from y1 down to y0
    ax.set_xlabel("code 1")
    ax.set_ylabel("code 2")
    ax.set_title(title)
    return fig


def placed(values: np.ndarray, codes: tuple[float, float], pixels: tuple[float, float]) -> list[float]:
    """Where code `values` fall on an axis whose first and last cells' centres (`pixels`) show `codes`: linearly."""
    span = (codes[1] - codes[0]) or 1.0  # one code value only (a degenerate extent): its one tick on the first cell
    return [pixels[0] + (v - codes[0]) / span * (pixels[1] - pixels[0]) for v in values]


def samples_figure(images: np.ndarray, image_shape: tuple[int, int], per_line: int = 10) -> Figure:
    """Decodings of codes drawn from the prior N(0, I), (n, H·W) in [0, 1], `per_line` to a line (n a multiple of
    it)."""
    images = np.asarray(images)
    lines = [images[i : i + per_line] for i in range(0, len(images), per_line)]  # image_rows refuses a short last line
    return image_rows(lines, [""] * len(lines), image_shape=image_shape, max_per_line=per_line)


def interpolation_figure(code_path: np.ndarray, pixel_path: np.ndarray, image_shape: tuple[int, int]) -> Figure:
    """For each pair of images, the decodings along the straight line between their codes over the pixel-space blend.

    code_path, pixel_path: (pairs, steps, H·W) in [0, 1]; the first and last of each pixel path are the two images.
    The pixel-space line (1 − t)·a + t·b only cross-fades; a code space that has learnt the data's shapes
    morphs one into the other through plausible images.
    """
    code_path, pixel_path = np.asarray(code_path), np.asarray(pixel_path)
    steps = code_path.shape[1]
    rows, labels = [], []
    for pair in range(len(code_path)):
        rows += [code_path[pair], pixel_path[pair]]
        labels += [f"pair {pair + 1}: code space", "pixel space"]
    titles = [f"t={t:.2f}" for t in np.linspace(0, 1, steps)]
    return image_rows(rows, labels, titles=titles, image_shape=image_shape, max_per_line=steps)
