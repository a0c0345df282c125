"""A study grid's figure: final losses against the one setting that varies along the x axis.

One panel per metric; one line per combination of the grid's other settings, each point the mean
over seeds with a ± one standard deviation error bar (none with a single seed).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter


def x_positions(values: Sequence) -> tuple[np.ndarray, str]:
    """Where to put each x value and on which scale: "log" for positive numbers spanning a decade or
    more, "linear" for other numbers, "category" (evenly spaced, labelled) for text or numbers that
    include 0 beside a wide span (L1 weights 0, 1e-5, …, which neither scale shows)."""
    numeric = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)
    if not numeric:
        return np.arange(len(values), dtype=float), "category"
    x = np.asarray(values, dtype=float)
    positive = x[x > 0]
    wide = len(positive) > 1 and positive.max() / positive.min() >= 10
    if wide and (x > 0).all():
        return x, "log"
    if wide:
        return np.arange(len(values), dtype=float), "category"
    return x, "linear"


def grid_figure(
    setting: str,
    values: Sequence,
    panels: Sequence[tuple[str, dict[str, tuple[np.ndarray, np.ndarray | None]]]],
    title: str | None = None,
) -> Figure:
    """Metrics against `setting`.

    Args:
        setting: the name of the varying setting (the x axis label).
        values: (n,) its values, in the grid's order (numbers or text).
        panels: per panel (y label, {line label: (mean (n,), sd (n,) or None)}); NaN where a
            combination has no finished cell.
    """
    x, scale = x_positions(values)
    fig = Figure(figsize=(6 * len(panels), 4.6), layout="constrained")
    axes = np.atleast_1d(fig.subplots(1, len(panels)))
    for ax, (ylabel, lines) in zip(axes, panels):
        for label, (mean, sd) in lines.items():
            ax.errorbar(
                x,
                np.asarray(mean, dtype=float),
                yerr=None if sd is None else np.asarray(sd, dtype=float),
                marker="o",
                capsize=3,
                label=label or None,
            )
        if scale == "log":
            ax.set_xscale("log")
        ax.set_xticks(x)
        ax.set_xticklabels([repr(v) if isinstance(v, float) else str(v) for v in values])
        ax.xaxis.set_minor_formatter(FuncFormatter(lambda *_: ""))
        ax.set_xlabel(setting)
        ax.set_ylabel(ylabel)
        ax.grid(alpha=0.3)
        if any(lines):
            ax.legend(fontsize="small")
    if title:
        fig.suptitle(title)
    return fig
