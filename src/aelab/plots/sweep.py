"""The bottleneck sweep's figure: loss against code size, autoencoders (mean ± sd over seeds) and PCA."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

PANELS = (  # (key stem, y-axis label, title)
    ("bce_excess", "BCE − entropy floor (nats per pixel)", "binary cross-entropy above the data's floor"),
    ("mse", "MSE per pixel", "mean squared error"),
)
SPLITS = {"train": ("--", "o"), "test": ("-", "s")}  # line style and marker: train dashed, test solid
COLORS = {"autoencoder": "tab:blue", "PCA": "tab:green"}


def sweep_figure(
    code_sizes: Sequence[int],
    autoencoder: dict[str, np.ndarray],
    pca: dict[str, np.ndarray] | None = None,
    title: str | None = None,
) -> Figure:
    """Two panels (BCE excess, MSE) against code size, one tick per size, log loss axis.

    Args:
        code_sizes: (S,) the sizes, increasing.
        autoencoder: "{train,test}_{bce_excess,mse}" → (n_seeds, S) final losses of each model;
            drawn as the mean over seeds with a ± one standard deviation band and error bars
            (none with a single seed).
        pca: the same keys → (S,) PCA's losses; optional.
    """
    sizes = np.asarray(code_sizes)
    fig = Figure(figsize=(12, 5.2), layout="constrained")
    axes = fig.subplots(1, 2)
    for ax, (stem, ylabel, panel_title) in zip(axes, PANELS):
        for split, (linestyle, marker) in SPLITS.items():
            draw_seeds(ax, sizes, np.asarray(autoencoder[f"{split}_{stem}"], dtype=float), split, linestyle, marker)
            if pca is not None:
                ax.plot(
                    sizes,
                    pca[f"{split}_{stem}"],
                    color=COLORS["PCA"],
                    linestyle=linestyle,
                    marker=marker,
                    markerfacecolor="none",
                    label=f"PCA, {split}",
                )
        ax.set_yscale("log")  # the losses fall by an order of magnitude over a typical sweep
        ax.yaxis.set_major_formatter(FuncFormatter(decimal_label))
        ax.yaxis.set_minor_formatter(
            FuncFormatter(lambda v, _: decimal_label(v) if leading_digit(v) in (2, 3, 5) else "")
        )
        ax.set_xticks(sizes, [str(k) for k in sizes], rotation=90 if len(sizes) > 15 else 0)
        ax.set(xlabel="code size", ylabel=ylabel, title=panel_title)
        ax.grid(alpha=0.3, which="both")
    handles, labels = axes[0].get_legend_handles_labels()
    order = sorted(range(len(labels)), key=lambda i: not labels[i].startswith("autoencoder"))  # autoencoders first
    fig.legend(
        [handles[i] for i in order], [labels[i] for i in order], loc="outside lower center", ncols=4, fontsize="small"
    )
    if title:
        fig.suptitle(title)
    return fig


def leading_digit(value: float) -> int:
    return int(round(value / 10 ** np.floor(np.log10(value)))) if value > 0 else 0


def decimal_label(value: float, _position=None) -> str:
    """A log axis tick as a plain decimal (0.05, not 5×10⁻²)."""
    return f"{value:.3g}"


def draw_seeds(ax, sizes: np.ndarray, values: np.ndarray, split: str, linestyle: str, marker: str) -> None:
    """Mean over seeds of `values` (n_seeds, S), with a ± one sd band and error bars when n_seeds > 1."""
    values = values.reshape(-1, len(sizes))
    mean = values.mean(axis=0)
    std = values.std(axis=0, ddof=1) if len(values) > 1 else None
    label = f"autoencoder, {split}" + (f" (mean ± sd, {len(values)} seeds)" if std is not None else "")
    color = COLORS["autoencoder"]
    ax.errorbar(sizes, mean, yerr=std, color=color, linestyle=linestyle, marker=marker, capsize=3, label=label)
    if std is not None:
        ax.fill_between(sizes, mean - std, mean + std, color=color, alpha=0.15, linewidth=0)


def curves_from_result(result: dict) -> tuple[list[int], dict[str, np.ndarray], dict[str, np.ndarray]]:
    """`sweep_figure`'s arrays from a sweep.json dict: (code sizes, autoencoder, pca)."""
    keys = [f"{split}_{stem}" for split in SPLITS for stem, _, _ in PANELS]
    sizes = result["sizes"]
    autoencoder = {key: np.array([[run["final"][key] for run in size["runs"]] for size in sizes]).T for key in keys}
    pca = {key: np.array([size["pca"][key] for size in sizes]) for key in keys}
    return [size["code_size"] for size in sizes], autoencoder, pca
