"""Anomaly-detection figures: score histograms (normal against anomalous), ROC curves, extreme images.

Arrays in, Figure out; one panel per normal class, so a whole one-class run is one figure each.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import NullFormatter

from aelab.plots.images import image_rows
from aelab.plots.signals import signals_figure
from aelab.plots.tables import table_rows_figure

PANELS_PER_LINE = 5
BINS = 50


def _panels(n: int, height: float = 2.6) -> tuple[Figure, list]:
    """A figure of n panels, PANELS_PER_LINE to a line."""
    lines, columns = -(-n // PANELS_PER_LINE), min(n, PANELS_PER_LINE)
    fig = Figure(figsize=(3.2 * columns, height * lines), layout="constrained")
    axes = np.atleast_1d(fig.subplots(lines, columns, squeeze=False).ravel())
    for ax in axes[n:]:
        ax.set_visible(False)
    return fig, list(axes[:n])


def histograms_figure(
    panels: Sequence[tuple[str, np.ndarray, np.ndarray | None, dict[str, float]]], score_name: str
) -> Figure:
    """Per panel (title, scores of normal images, scores of anomalies or None when unlabelled, thresholds by rule).

    Densities on a shared log-spaced axis per panel (reconstruction errors are skewed), thresholds as
    dashed lines. Without labels, one histogram of all scores.
    """
    fig, axes = _panels(len(panels))
    for ax, (title, normal, anomalous, cuts) in zip(axes, panels):
        every = normal if anomalous is None else np.concatenate([normal, anomalous])
        low, high = max(float(every.min()), 1e-12), max(float(every.max()), 2e-12)
        bins = np.geomspace(low, high * 1.0001, BINS) if high > low else BINS
        ax.hist(normal, bins=bins, density=True, alpha=0.6, label="normal" if anomalous is not None else "all")
        if anomalous is not None:
            ax.hist(anomalous, bins=bins, density=True, alpha=0.6, label="anomalous")
        if high > low:
            ax.set_xscale("log")
            ax.xaxis.set_minor_formatter(NullFormatter())  # minor labels of a short log range overlap
        for (rule, cut), style in zip(cuts.items(), ("--", ":")):
            ax.axvline(cut, color="black", linestyle=style, linewidth=1, label=rule)
        ax.set_title(title, fontsize=10)
        ax.set_xlabel(score_name, fontsize=8)
        ax.tick_params(labelsize=7)
    axes[0].legend(fontsize=7)
    return fig


def roc_figure(panels: Sequence[tuple[str, dict[str, tuple[np.ndarray, np.ndarray, float]]]]) -> Figure:
    """Per panel (title, {method: (false positive rates, true positive rates, AUROC)}): ROC curves and the diagonal."""
    fig, axes = _panels(len(panels), height=3.0)
    for ax, (title, curves) in zip(axes, panels):
        for method, (fpr, tpr, auroc) in curves.items():
            ax.plot(fpr, tpr, linewidth=1.2, label=f"{method} {auroc:.3f}")
        ax.plot([0, 1], [0, 1], color="grey", linestyle=":", linewidth=1)
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("false positive rate", fontsize=8)
        ax.set_ylabel("true positive rate", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.legend(fontsize=6, loc="lower right")
    return fig


def extremes_figure(
    rows: Sequence[tuple[str, np.ndarray, np.ndarray]],
    sample_shape: tuple[int, ...] = (28, 28),
    columns: Sequence[str] | None = None,
    value_label: str = "value",
) -> Figure:
    """Per normal class (label, most anomalous test samples, least anomalous ones), each (n, features), most
    anomalous first: two lines per class. `sample_shape` (H, W) or (C, H, W) draws images (in colour for C = 3);
    (L,) draws each sample as a line in its own panel (plots/signals.py), or, with `columns`, a table's row as
    bars. Images with values outside [0, 1]
    (your own data scaled for MSE) are drawn min–max scaled over the whole figure, so their contrast is kept."""
    lines, labels = [], []
    for label, most, least in rows:
        lines += [most, least]
        labels += [f"{label}: most", f"{label}: least"]
    if len(sample_shape) == 1:
        titles = [f"{label} {rank + 1}" for label in labels for rank in range(len(lines[0]))]
        if columns is not None:  # a table's rows: bars per named column (plots/tables.py), `value_label` their units
            return table_rows_figure([np.concatenate(lines)], ["row"], columns, titles, value_label, per_line=3)
        return signals_figure([np.concatenate(lines)], ["sample"], titles, max_per_line=len(lines[0]))
    every = np.concatenate(lines)
    low, high = float(every.min()), float(every.max())
    if low < 0 or high > 1:
        lines = [(line - low) / max(high - low, 1e-12) for line in lines]  # x' = (x − min) / (max − min)
    return image_rows(lines, labels, image_shape=sample_shape)
