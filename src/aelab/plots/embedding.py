"""A 2-D embedding of codes (t-SNE), one colour per class."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from matplotlib.figure import Figure


def embedding_figure(points: np.ndarray, labels: np.ndarray, class_names: Sequence[str], title: str) -> Figure:
    """points (n, 2), labels (n,) ints indexing `class_names`: a scatter with a legend of the classes."""
    fig = Figure(figsize=(7, 6), layout="constrained")
    ax = fig.subplots()
    colours = [f"C{i}" for i in range(10)]
    for c in np.unique(labels):
        mine = labels == c
        ax.scatter(
            points[mine, 0],
            points[mine, 1],
            s=4,
            alpha=0.7,
            color=colours[int(c) % 10],
            label=class_names[int(c)] if int(c) < len(class_names) else str(c),
        )
    ax.set_xticks([]), ax.set_yticks([])
    ax.set_title(title, fontsize=10)
    ax.legend(markerscale=3, fontsize=7, loc="best")
    return fig
