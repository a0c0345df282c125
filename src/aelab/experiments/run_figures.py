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
from aelab.objectives import output_of
from aelab.train.metrics import per_sample_loss
from aelab.experiments.family_figures import draw_family_figures
from aelab.models.variational import VariationalAutoencoder
from aelab.plots.filters import filters_figure


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


def check_figures(figures: FigureConfig, labels: np.ndarray | None, n_units: int, n_test: int | None = None) -> None:
    """Refuse figure options that cannot be honoured, before any training starts (`labels` None: unlabelled data)."""
    n_test = len(labels) if n_test is None else n_test
    if figures.n_images > n_test and figures.indices is None and not figures.per_class:
        raise ConfigError(f"--n-images {figures.n_images}: expected at most {n_test} (the test images)")
    if figures.n_weights is not None and figures.n_weights > n_units:
        raise ConfigError(f"--n-weights {figures.n_weights}: expected at most {n_units} (units in the first layer)")
    if labels is None:
        if figures.per_class:
            raise ConfigError("--per-class: the data has no labels (no class subfolders or label column): expected labelled data")
        chosen_indices(figures, np.zeros(n_test))
        return
    chosen_indices(figures, labels)


@torch.no_grad()
def image_rows(model: torch.nn.Module, clean: torch.Tensor, noisy: torch.Tensor | None, loss: str | None = None) -> dict[str, np.ndarray]:
    """Originals, the model's outputs (sigmoid for BCE, linear for MSE), and (for a denoiser) its noisy inputs."""
    model.eval()
    outputs = output_of(model.decode(model.encode(clean if noisy is None else noisy)), loss)  # a VAE decodes its mean code
    rows = {"originals": clean.numpy(), "reconstructions": outputs.numpy()}
    if noisy is not None:
        rows["noisy"] = noisy.numpy()
    return rows


def draw_run_figures(out: Path, model: torch.nn.Module, figures: FigureConfig, test_x: torch.Tensor,
                     test_inputs: torch.Tensor | None, labels: np.ndarray | None, class_names: tuple[str, ...] | None,
                     history: list[dict], floor: float | None, sample_shape: tuple[int, ...] = (1, 28, 28),
                     loss: str | None = None) -> list[str]:
    """Write reconstructions.png, worst.png, weights.png and loss.png; return their names.

    Without labels (images from the Python API, unlabelled data) the chosen test images are titled by index.
    Colour images are drawn in colour, 1-D samples as line plots (`sample_shape` (C, H, W) or (L,)).
    """
    if labels is None or class_names is None:
        shown = torch.from_numpy(chosen_indices(figures, np.zeros(len(test_x)))) if not figures.per_class else \
            torch.arange(min(figures.n_images, len(test_x)))
        titles = [f"#{int(i)}" for i in shown]
    else:
        shown = torch.from_numpy(chosen_indices(figures, labels))
        titles = [class_names[int(labels[i])] for i in shown]
    noisy = None if test_inputs is None else test_inputs[shown]
    save_figure(reconstructions_figure(**image_rows(model, test_x[shown], noisy, loss), titles=titles,
                                       sample_shape=sample_shape), out / "reconstructions.png")
    losses = per_sample_loss(model, test_x, test_inputs, loss)
    worst = torch.argsort(losses, descending=True)[:len(shown)]
    worst_titles = [f"#{int(i)} {losses[i]:.3f}" for i in worst]
    noisy = None if test_inputs is None else test_inputs[worst]
    save_figure(reconstructions_figure(**image_rows(model, test_x[worst], noisy, loss), titles=worst_titles,
                                       sample_shape=sample_shape), out / "worst.png")
    units = model.first_layer_weights()
    shown_units = resolve_figures(figures, units.shape[0]).n_weights
    first_layer = "filters.png" if units.ndim == 4 else "weights.png"  # a convolutional layer's kernels, or dense units
    if units.ndim == 4:
        save_figure(filters_figure(units[:shown_units].numpy()), out / first_layer)
    else:
        save_figure(weights_figure(units[:shown_units].numpy(), image_shape=sample_shape), out / first_layer)
    variational = isinstance(model, VariationalAutoencoder)  # its loss is −ELBO in nats per image: no pixel-entropy floor
    ylabel = ("−ELBO estimate (nats per image)" if variational else "mean squared error" if loss == "mse"
              else "binary cross-entropy")
    save_figure(loss_figure([e["train_loss"] for e in history], [e["test_loss"] for e in history],
                            floor=None if variational else floor, ylabel=ylabel), out / "loss.png")
    family = draw_family_figures(out, model, test_x, labels, class_names, figures.projection) if draws_code_space(model) else []
    return ["reconstructions.png", "worst.png", first_layer, "loss.png", *family]


def draws_code_space(model: torch.nn.Module) -> bool:
    """The code-space figures belong to the new families (conv, VAEs) and to any model with a 2-D code; the
    classic study's run folders keep exactly their four figures."""
    return isinstance(model, VariationalAutoencoder) or model.first_layer_weights().ndim == 4 or model.code_size == 2
