"""The code-space figures of a run: code scatter, decoded manifold, prior samples, interpolations, conv filters' maps.

Drawn for every family where they apply: the scatter (PCA beyond two dimensions) and interpolations for
all; the manifold for a two-dimensional code; prior samples for the variational families; feature maps
for the convolutional ones. Images are drawn in colour when the data has three channels (a feature map
beside the grey of its image). The model computes, plots/ lays out.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch

from aelab.models.variational import VariationalAutoencoder
from aelab.plots.code_space import code_space_figure, project_codes
from aelab.plots.filters import feature_maps_figure
from aelab.plots.generative import grid_codes, interpolation_figure, manifold_figure, samples_figure
from aelab.plots.images import displayable
from aelab.runs.folder import save_figure

FIGURE_SEED = 0  # the prior samples' and the t-SNE's seed: a figure redrawn from the same model is the same figure
MANIFOLD_N = 30  # the Keras VAE example's 30 × 30 grid
KERAS_EXTENT = (-1.0, 1.0, -1.0, 1.0)  # ... over [−1, 1]² (its plot_latent_space, scale 1.0)
N_PAIRS, N_STEPS, N_SAMPLES, N_MAPS_IMAGES = 3, 9, 30, 3


def image_shape(model: torch.nn.Module) -> tuple[int, ...]:
    """The model's sample shape: a conv model's own (C, H, W); a dense model's square grey (784 → 28×28)."""
    if getattr(model, "sample_shape", None) is not None:
        return tuple(model.sample_shape)
    side = math.isqrt(model.n_features)
    return side, side


@torch.no_grad()
def decoded(model: torch.nn.Module, codes: np.ndarray | torch.Tensor) -> np.ndarray:
    """Pixels in [0, 1] of decoded codes (n, H·W)."""
    return torch.sigmoid(model.decode(torch.as_tensor(codes, dtype=torch.float32))).numpy()


def occupied_extent(points: np.ndarray) -> tuple[float, float, float, float]:
    """The region the codes occupy: the 1st to 99th percentile of each coordinate (outliers left out)."""
    low, high = np.percentile(points, [1, 99], axis=0)
    return float(low[0]), float(high[0]), float(low[1]), float(high[1])


@torch.no_grad()
def interpolations(model: torch.nn.Module, images: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """(code path, pixel path), (pairs, steps, H·W) each, between images 0–1, 2–3, … of `images`."""
    t = torch.linspace(0, 1, N_STEPS).view(1, N_STEPS, 1)
    a, b = images[0 : 2 * N_PAIRS : 2].unsqueeze(1), images[1 : 2 * N_PAIRS : 2].unsqueeze(1)  # (pairs, 1, D)
    codes_a, codes_b = model.encode(a[:, 0]).unsqueeze(1), model.encode(b[:, 0]).unsqueeze(1)  # (pairs, 1, k)
    code_line = (1 - t) * codes_a + t * codes_b  # (pairs, steps, k)
    code_path = decoded(model, code_line.reshape(-1, code_line.shape[-1])).reshape(len(a), N_STEPS, -1)
    return code_path, ((1 - t) * a + t * b).numpy()


def draw_family_figures(
    out: Path,
    model: torch.nn.Module,
    test_x: torch.Tensor,
    labels: np.ndarray | None,
    class_names: tuple[str, ...] | None,
    projection: str = "pca",
) -> list[str]:
    """Write the code-space figures that apply to `model` into `out`; return their names.

    `projection` ("pca" or "tsne") draws codes of more than two dimensions (plots.code_space.project_codes)."""
    model.eval()
    shape = image_shape(model)
    codes = torch.cat([model.encode(test_x[i : i + 2_000]) for i in range(0, len(test_x), 2_000)]).detach().numpy()
    points, axes = project_codes(codes, projection, FIGURE_SEED)
    what = "posterior means" if isinstance(model, VariationalAutoencoder) else "codes"
    title = f"test {what}" + ("" if codes.shape[1] == 2 else f" ({codes.shape[1]} dimensions, {projection.upper()})")
    save_figure(code_space_figure(points, axes, labels, class_names, title), out / "codes.png")
    names = ["codes.png"]
    if codes.shape[1] == 2:
        for name, extent in (("manifold.png", KERAS_EXTENT), ("manifold_codes.png", occupied_extent(codes))):
            images = displayable(decoded(model, grid_codes(MANIFOLD_N, extent)), shape)  # (n, H, W) or (n, H, W, 3)
            save_figure(
                manifold_figure(images, MANIFOLD_N, extent, f"decoded {MANIFOLD_N}×{MANIFOLD_N} grid"), out / name
            )
            names.append(name)
    if isinstance(model, VariationalAutoencoder):
        prior = torch.randn(N_SAMPLES, model.code_size, generator=torch.Generator().manual_seed(FIGURE_SEED))
        save_figure(samples_figure(decoded(model, prior), shape), out / "samples.png")
        names.append("samples.png")
    if len(test_x) >= 2 * N_PAIRS:
        save_figure(
            interpolation_figure(*interpolations(model, test_x[: 2 * N_PAIRS]), shape), out / "interpolation.png"
        )
        names.append("interpolation.png")
    if model.first_layer_weights().ndim == 4:  # a convolutional first layer
        shown = test_x[:N_MAPS_IMAGES]
        maps = model.first_layer_maps(shown).numpy()
        images = displayable(shown.numpy(), shape)
        grey = images.mean(axis=3) if images.ndim == 4 else images  # colour images shown in grey beside their maps
        save_figure(feature_maps_figure(grey, maps), out / "feature_maps.png")
        names.append("feature_maps.png")
    return names
