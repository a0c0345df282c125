"""The figures of one run: which test images to show, and the PNGs drawn from them.

Kept apart from training so that figures can be redrawn from a saved model without retraining.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import torch

from aelab.config import DEFAULT_N_WEIGHTS, FigureConfig
from aelab.errors import ConfigError
from aelab.experiments.runs import save_figure
from aelab.plots.curves import loss_figure
from aelab.plots.images import reconstructions_figure
from aelab.plots.weights import weights_figure
from aelab.experiments.family_figures import draw_family_figures
from aelab.models.variational import VariationalAutoencoder
from aelab.plots.filters import filters_figure
from aelab.train.metrics import per_image_bce


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
    return np.arange(min(figures.n_images, n))


def resolve_figures(figures: FigureConfig, n_units: int) -> FigureConfig:
    """`figures` with the default number of weight images filled in: 16, or all units of a smaller first layer.

    So `aelab train --code-size 8` draws its 8 units instead of refusing an --n-weights the user never gave.
    """
    n_weights = figures.n_weights if figures.n_weights is not None else min(DEFAULT_N_WEIGHTS, n_units)
    return dataclasses.replace(figures, n_weights=n_weights)


def check_figures(figures: FigureConfig, labels: np.ndarray, n_units: int) -> None:
    """Refuse figure options that cannot be honoured, before any training starts."""
    if figures.n_images > len(labels) and figures.indices is None and not figures.per_class:
        raise ConfigError(f"--n-images {figures.n_images}: expected at most {len(labels)} (the test images)")
    if figures.n_weights is not None and figures.n_weights > n_units:
        raise ConfigError(f"--n-weights {figures.n_weights}: expected at most {n_units} (units in the first layer)")
    chosen_indices(figures, labels)


def image_rows(model: torch.nn.Module, clean: torch.Tensor, noisy: torch.Tensor | None) -> dict[str, np.ndarray]:
    """Originals, the model's outputs, and (for a denoiser) the noisy inputs it was given."""
    rows = {"originals": clean.numpy(), "reconstructions": model.reconstruct(clean if noisy is None else noisy).numpy()}
    if noisy is not None:
        rows["noisy"] = noisy.numpy()
    return rows


def draw_run_figures(out: Path, model: torch.nn.Module, figures: FigureConfig, test_x: torch.Tensor,
                     test_inputs: torch.Tensor | None, labels: np.ndarray | None, class_names: tuple[str, ...] | None,
                     history: list[dict], floor: float) -> list[str]:
    """Write reconstructions.png, worst.png, weights.png and loss.png; return their names.

    Without labels (images from the Python API) the first --n-images are shown, titled by index.
    """
    if labels is None or class_names is None:
        shown = torch.arange(min(figures.n_images, len(test_x)))
        titles = [f"#{int(i)}" for i in shown]
    else:
        shown = torch.from_numpy(chosen_indices(figures, labels))
        titles = [class_names[int(labels[i])] for i in shown]
    noisy = None if test_inputs is None else test_inputs[shown]
    save_figure(reconstructions_figure(**image_rows(model, test_x[shown], noisy), titles=titles), out / "reconstructions.png")
    losses = per_image_bce(model, test_x, test_inputs)
    worst = torch.argsort(losses, descending=True)[:len(shown)]
    worst_titles = [f"#{int(i)} {losses[i]:.3f}" for i in worst]
    noisy = None if test_inputs is None else test_inputs[worst]
    save_figure(reconstructions_figure(**image_rows(model, test_x[worst], noisy), titles=worst_titles), out / "worst.png")
    units = model.first_layer_weights()
    shown_units = resolve_figures(figures, units.shape[0]).n_weights
    first_layer = "filters.png" if units.ndim == 4 else "weights.png"  # a convolutional layer's kernels, or dense units
    drawn = filters_figure if units.ndim == 4 else weights_figure
    save_figure(drawn(units[:shown_units].numpy()), out / first_layer)
    variational = isinstance(model, VariationalAutoencoder)  # its loss is −ELBO in nats per image: no pixel-entropy floor
    save_figure(loss_figure([e["train_loss"] for e in history], [e["test_loss"] for e in history],
                            floor=None if variational else floor,
                            ylabel="−ELBO estimate (nats per image)" if variational else "binary cross-entropy"), out / "loss.png")
    family = draw_family_figures(out, model, test_x, labels, class_names, figures.projection) if draws_code_space(model) else []
    return ["reconstructions.png", "worst.png", first_layer, "loss.png", *family]


def draws_code_space(model: torch.nn.Module) -> bool:
    """The code-space figures belong to the new families (conv, VAEs) and to any model with a 2-D code; the
    classic study's run folders keep exactly their four figures."""
    return isinstance(model, VariationalAutoencoder) or model.first_layer_weights().ndim == 4 or model.code_size == 2
