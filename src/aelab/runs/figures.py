"""The figures of one run: which test images to show, and the PNGs drawn from them.

Kept apart from training so that figures can be redrawn from a saved model without retraining.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import torch

from aelab.config import DEFAULT_N_WEIGHTS, FigureConfig
from aelab.data.description import Description
from aelab.errors import ConfigError
from aelab.models.variational import VariationalAutoencoder
from aelab.objectives import output_of
from aelab.plots.curves import loss_figure
from aelab.plots.filters import filters_figure
from aelab.runs.drawing import samples_figure, weights_drawing
from aelab.runs.family_figures import draw_family_figures
from aelab.runs.folder import save_figure
from aelab.train.metrics import per_sample_loss


def chosen_indices(figures: FigureConfig, labels: np.ndarray) -> np.ndarray:
    """Indices of the test images to show: --indices, one per class (--per-class), or the first n."""
    n = len(labels)
    if figures.per_class:
        return np.array([int(np.flatnonzero(labels == c)[0]) for c in np.unique(labels)])
    if figures.indices is not None:
        bad = [i for i in figures.indices if i >= n]
        if bad:
            raise ConfigError(f"--indices {','.join(map(str, bad))}: expected indices below {n} (the test images)")
        return np.array(figures.indices)
    return np.arange(n)[interleaved(labels)][: min(figures.n_images, n)]


def interleaved(labels: np.ndarray) -> np.ndarray:
    """An order of the test samples to take the first n from: as they are, unless they come class after class (an
    image folder's subfolders, a sorted table), when the classes take turns, so the strip shows every class."""
    if len(labels) < 2 or not np.all(np.diff(labels) >= 0) or labels[0] == labels[-1]:
        return np.arange(len(labels))
    rank = np.empty(len(labels), dtype=np.int64)  # a sample's position within its class
    for c in np.unique(labels):
        members = np.flatnonzero(labels == c)
        rank[members] = np.arange(len(members))
    return np.lexsort((labels, rank))


def resolve_figures(figures: FigureConfig, n_units: int) -> FigureConfig:
    """`figures` with the default number of weight images filled in: 16, or all units of a smaller first layer.

    So `aelab train --code-size 8` draws its 8 units instead of refusing an --n-weights the user never gave.
    """
    n_weights = figures.n_weights if figures.n_weights is not None else min(DEFAULT_N_WEIGHTS, n_units)
    return dataclasses.replace(figures, n_weights=n_weights)


def check_figures(figures: FigureConfig, labels: np.ndarray | None, n_units: int, n_test: int | None = None) -> None:
    """Refuse figure options that cannot be honoured, before any training starts (`labels` None: unlabelled data)."""
    n_test = len(labels) if n_test is None else n_test
    if figures.n_images > n_test and figures.indices is None and not figures.per_class:
        raise ConfigError(f"--n-images {figures.n_images}: expected at most {n_test} (the test images)")
    if figures.n_weights is not None and figures.n_weights > n_units:
        raise ConfigError(f"--n-weights {figures.n_weights}: expected at most {n_units} (units in the first layer)")
    if labels is None:
        if figures.per_class:
            raise ConfigError(
                "--per-class: the data has no labels (no class subfolders or label column): expected labelled data"
            )
        chosen_indices(figures, np.zeros(n_test))
        return
    chosen_indices(figures, labels)


@torch.no_grad()
def image_rows(
    model: torch.nn.Module, clean: torch.Tensor, noisy: torch.Tensor | None, loss: str | None = None
) -> dict[str, np.ndarray]:
    """Originals, the model's outputs (sigmoid for BCE, linear for MSE), and (for a denoiser) its noisy inputs."""
    model.eval()
    outputs = output_of(
        model.decode(model.encode(clean if noisy is None else noisy)), loss
    )  # a VAE decodes its mean code
    rows = {"originals": clean.numpy(), "reconstructions": outputs.numpy()}
    if noisy is not None:
        rows["noisy"] = noisy.numpy()
    return rows


def draw_run_figures(
    out: Path,
    model: torch.nn.Module,
    figures: FigureConfig,
    test_x: torch.Tensor,
    test_inputs: torch.Tensor | None,
    labels: np.ndarray | None,
    description: Description,
    history: list[dict],
    floor: float | None,
) -> tuple[list[str], dict[str, str]]:
    """Write reconstructions.png, worst.png, the first layer's figure, loss.png and the code-space figures.

    Returns (the names written, {figure left out: why}). Each figure is drawn for the data's kind
    (runs/drawing.py); without labels the chosen test samples are titled by index.
    """
    shown, titles = shown_images(figures, len(test_x), labels, description.class_names)
    noisy = None if test_inputs is None else test_inputs[shown]
    rows = image_rows(model, test_x[shown], noisy, description.loss)
    save_figure(samples_figure(description, rows, titles), out / "reconstructions.png")
    losses = per_sample_loss(model, test_x, test_inputs, description.loss)
    worst = torch.argsort(losses, descending=True)[: len(shown)]
    worst_titles = [f"#{int(i)} {losses[i]:.3f}" for i in worst]
    noisy = None if test_inputs is None else test_inputs[worst]
    rows = image_rows(model, test_x[worst], noisy, description.loss)
    save_figure(samples_figure(description, rows, worst_titles), out / "worst.png")
    first_layer = draw_first_layer(out, model, figures, description)
    draw_loss_curves(out, model, history, floor, description.loss)
    names, omitted = ["reconstructions.png", "worst.png", first_layer, "loss.png"], {}
    if draws_code_space(model):
        family, omitted = draw_family_figures(out, model, test_x, labels, description, figures.projection)
        names += family
    return names, omitted


def shown_images(figures: FigureConfig, n_test: int, labels, class_names) -> tuple[torch.Tensor, list[str]]:
    """(indices of the test images to show, their titles): chosen per class when labelled, else titled by index."""
    if labels is None or class_names is None:
        if figures.per_class:  # no classes to take them from: the first ones
            shown = torch.arange(min(figures.n_images, n_test))
        else:
            shown = torch.from_numpy(chosen_indices(figures, np.zeros(n_test)))
        return shown, [f"#{int(i)}" for i in shown]
    shown = torch.from_numpy(chosen_indices(figures, labels))
    return shown, [class_names[int(labels[i])] for i in shown]


def draw_first_layer(out: Path, model: torch.nn.Module, figures: FigureConfig, description: Description) -> str:
    """filters.png (a convolutional layer's kernels) or weights.png (dense units); returns the name written."""
    units = model.first_layer_weights()
    shown_units = resolve_figures(figures, units.shape[0]).n_weights
    if units.ndim == 4:
        save_figure(filters_figure(units[:shown_units].numpy()), out / "filters.png")
        return "filters.png"
    save_figure(weights_drawing(description, units[:shown_units].numpy()), out / "weights.png")
    return "weights.png"


def draw_loss_curves(out: Path, model: torch.nn.Module, history: list[dict], floor: float | None, loss: str | None):
    """loss.png; a VAE's loss is −ELBO in nats per image, with no pixel-entropy floor."""
    variational = isinstance(model, VariationalAutoencoder)
    if variational:
        ylabel = "−ELBO estimate (nats per image)"
    else:
        ylabel = "mean squared error" if loss == "mse" else "binary cross-entropy"
    train, test = [e["train_loss"] for e in history], [e["test_loss"] for e in history]
    save_figure(loss_figure(train, test, floor=None if variational else floor, ylabel=ylabel), out / "loss.png")


def draws_code_space(model: torch.nn.Module) -> bool:
    """The code-space figures belong to the new families (conv, VAEs) and to any model with a 2-D code; the
    classic study's run folders keep exactly their four figures."""
    return isinstance(model, VariationalAutoencoder) or model.first_layer_weights().ndim == 4 or model.code_size == 2
