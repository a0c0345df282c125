"""The code space: test codes as points coloured by class, projected to 2-D when the code is larger."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib
import numpy as np
from matplotlib.figure import Figure

PROJECTIONS = ("pca", "tsne")


def project_codes(codes: np.ndarray, method: str = "pca", seed: int = 0) -> tuple[np.ndarray, tuple[str, str]]:
    """(n, k) codes → ((n, 2) points, axis labels): the codes themselves for k = 2, else PCA or t-SNE (scikit-learn).

    PCA is the default: linear, so distances along its axes mean what they mean in the code; t-SNE
    (van der Maaten & Hinton 2008) shows neighbourhoods but its distances between clusters do not.
    """
    from sklearn.decomposition import PCA
    from sklearn.manifold import TSNE

    codes = np.asarray(codes, dtype=np.float64)
    if codes.ndim != 2 or len(codes) < 3:
        raise ValueError(f"project_codes: codes of shape {codes.shape}: expected (n ≥ 3, k)")
    if codes.shape[1] == 2:
        return codes, ("code 1", "code 2")
    if codes.shape[1] == 1:
        return np.column_stack([codes[:, 0], np.zeros(len(codes))]), ("code 1", "")
    if method == "pca":
        pca = PCA(n_components=2, random_state=seed).fit(codes)
        share = pca.explained_variance_ratio_
        return pca.transform(codes), (f"PC 1 ({share[0]:.0%} of the variance)", f"PC 2 ({share[1]:.0%})")
    if method == "tsne":
        perplexity = min(30.0, (len(codes) - 1) / 3)
        return TSNE(n_components=2, init="pca", perplexity=perplexity, random_state=seed).fit_transform(codes), (
            "t-SNE 1",
            "t-SNE 2",
        )
    raise ValueError(f"project_codes: method {method!r}: expected one of {', '.join(PROJECTIONS)}")


def code_space_figure(
    points: np.ndarray,
    axis_labels: tuple[str, str],
    labels: np.ndarray | None = None,
    class_names: Sequence[str] | None = None,
    title: str = "",
) -> Figure:
    """A scatter of (n, 2) `points`, one colour per class of `labels` (none: one colour), with a legend of
    `class_names`."""
    points = np.asarray(points)
    fig = Figure(figsize=(7, 6), layout="constrained")
    ax = fig.subplots()
    if labels is None:
        ax.scatter(points[:, 0], points[:, 1], s=3, alpha=0.6)
    else:
        cmap = matplotlib.colormaps["tab10"]  # ten distinct colours: the data sets' ten classes
        for c in np.unique(labels):
            chosen = labels == c
            name = class_names[int(c)] if class_names is not None else str(c)
            ax.scatter(points[chosen, 0], points[chosen, 1], s=3, alpha=0.6, color=cmap(int(c) % 10), label=name)
        ax.legend(markerscale=4, fontsize=8, loc="best")
    ax.set_xlabel(axis_labels[0])
    ax.set_ylabel(axis_labels[1])
    ax.set_title(title)
    ax.grid(alpha=0.3)
    return fig
