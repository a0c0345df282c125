"""Loss curves per epoch."""

from __future__ import annotations

from collections.abc import Sequence

from matplotlib.figure import Figure


def loss_figure(
    train_loss: Sequence[float],
    test_loss: Sequence[float | None],
    floor: float | None = None,
    ylabel: str = "binary cross-entropy",
) -> Figure:
    """Training and test loss against epoch; `floor` draws the data's entropy floor for BCE."""
    epochs = list(range(1, len(train_loss) + 1))
    fig = Figure(figsize=(6, 4), layout="constrained")
    ax = fig.subplots()
    ax.plot(epochs, train_loss, "o-", label="train (mean over the epoch's steps)")
    if any(v is not None for v in test_loss):
        ax.plot(epochs, [float("nan") if v is None else v for v in test_loss], "s-", label="test (end of epoch)")
    if floor is not None:
        ax.axhline(floor, color="grey", linestyle="--", label=f"entropy floor of the test images {floor:.4f}")
    ax.set_xlabel("epoch")
    ax.set_ylabel(ylabel)
    ax.set_xticks(epochs)
    ax.grid(alpha=0.3)
    ax.legend()
    return fig
