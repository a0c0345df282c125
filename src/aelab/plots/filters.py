"""A convolutional model's first layer: its filters, and the feature maps they make of a few images."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from aelab.plots.images import image_rows
from aelab.plots.mosaic import show, tile


def filters_figure(kernels: np.ndarray, per_line: int = 8) -> Figure:
    """First-layer kernels (k, C, kh, kw), averaged over the C input channels, on a colour scale symmetric about 0."""
    kernels = np.asarray(kernels).mean(axis=1)  # (k, kh, kw): for one channel, the kernel itself
    k = len(kernels)
    limit = float(np.abs(kernels).max()) or 1.0
    cols = min(k, per_line)
    rows = -(-k // cols)
    mosaic = tile(
        [[kernels[i] if i < k else None for i in range(r * cols, (r + 1) * cols)] for r in range(rows)], gap=1
    )
    fig = Figure(figsize=(cols * 0.8 + 1.2, rows * 0.8 + 0.4), layout="constrained")
    ax = fig.subplots()
    image = show(ax, mosaic, "RdBu_r", -limit, limit, background="0.8")
    fig.colorbar(image, ax=ax, shrink=0.8, label="weight")
    return fig


def feature_maps_figure(images: np.ndarray, maps: np.ndarray, n_maps: int = 8) -> Figure:
    """Each image (m, H, W) followed by its first `n_maps` feature maps (m, k, h, w), each map scaled to its own range.

    Maps of a stride-2 layer are half the image's size; they are repeated 2× to sit beside it.
    """
    images, maps = np.asarray(images), np.asarray(maps)[:, :n_maps]
    scale = images.shape[1] // maps.shape[2]
    maps = maps.repeat(scale, axis=2).repeat(scale, axis=3)
    low, high = maps.min(axis=(2, 3), keepdims=True), maps.max(axis=(2, 3), keepdims=True)
    maps = (maps - low) / np.where(high > low, high - low, 1.0)
    columns = [images] + [maps[:, j] for j in range(maps.shape[1])]
    rows = [np.stack([column[i] for column in columns]) for i in range(len(images))]
    titles = ["image"] + [f"map {j}" for j in range(maps.shape[1])]
    return image_rows(rows, [f"#{i}" for i in range(len(images))], titles=titles, image_shape=images.shape[1:])
