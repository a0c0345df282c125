"""Probe accuracy against code size, beside the reconstruction error: what a sweep's codes keep."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from matplotlib.figure import Figure


def probe_figure(
    code_sizes: Sequence[int],
    accuracy: dict[str, Sequence[float]],
    pixels: dict[str, float],
    test_bce: Sequence[float | None],
    raw_label: str = "pixels",
) -> Figure:
    """Left: test accuracy per probe against code size (`accuracy`: label → one value per size; `pixels`:
    probe → the raw features' accuracy, drawn flat and named `raw_label`: pixels, or inputs for signals and tables);
    right: the models' test BCE against code size."""
    fig = Figure(figsize=(10, 4), layout="constrained")
    left, right = fig.subplots(1, 2)
    for (label, values), marker in zip(accuracy.items(), "osD^v<>"):
        left.plot(code_sizes, values, marker=marker, linestyle="-" if label.startswith("codes") else "--", label=label)
    for (label, value), style in zip(pixels.items(), (":", "-.")):
        left.axhline(value, color="grey", linestyle=style, linewidth=1, label=f"{raw_label}, {label} {value:.3f}")
    left.set_xlabel("code size")
    left.set_ylabel("test accuracy")
    left.grid(alpha=0.3)
    left.legend(fontsize=7)
    right.plot(code_sizes, [np.nan if v is None else v for v in test_bce], "o-")
    right.set_xlabel("code size")
    right.set_ylabel("test BCE (nats per pixel)")
    right.grid(alpha=0.3)
    return fig
