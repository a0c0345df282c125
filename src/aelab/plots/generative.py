"""What a decoder makes of points in code space: the decoded manifold, prior samples, interpolations.

The caller decodes (runs/family_figures.py); these functions only lay out the images.
"""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from aelab.plots.images import image_rows
from aelab.plots.mosaic import show, tile


def grid_codes(n: int, extent: tuple[float, float, float, float]) -> np.ndarray:
    """(n·n, 2) codes on an n × n grid over [x0, x1] × [y0, y1], row by row from the top (largest y) down.

    The Keras VAE example's `plot_latent_space` decodes 30 × 30 points over [−1, 1]² this way.
    """
    x0, x1, y0, y1 = extent
    xs, ys = np.linspace(x0, x1, n), np.linspace(y1, y0, n)
    return np.array([(x, y) for y in ys for x in xs], dtype=np.float32)


def manifold_figure(images: np.ndarray, n: int, extent: tuple[float, float, float, float], title: str = "") -> Figure:
    """The decodings of `grid_codes(n, extent)`, (n·n, H, W) or (n·n, H, W, 3) in [0, 1], tiled as the grid, code
    values on the axes."""
    images = np.asarray(images)
    mosaic = tile([[images[r * n + c] for c in range(n)] for r in range(n)], gap=0)
    height, width = mosaic.pixels.shape[:2]  # (H, W) grey or (H, W, 3) colour
    fig = Figure(figsize=(8, 8 * height / width + 0.6), layout="constrained")
    ax = fig.subplots()
    show(ax, mosaic, "gray", 0.0, 1.0)
    x0, x1, y0, y1 = extent
    ticks = [0, n // 2, n - 1]
    ax.set_xticks([mosaic.centre(0, c)[0] for c in ticks], [f"{x0 + (x1 - x0) * c / (n - 1):.2f}" for c in ticks])
    ax.set_yticks([mosaic.centre(r, 0)[1] for r in ticks], [f"{y1 - (y1 - y0) * r / (n - 1):.2f}" for r in ticks])
    ax.set_xlabel("code 1")
    ax.set_ylabel("code 2")
    ax.set_title(title)
    return fig


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
