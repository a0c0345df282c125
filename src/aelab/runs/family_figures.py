"""The code-space figures of a run: code scatter, decoded manifold, prior samples, latent traversals, interpolations,
conv filters' maps.

Drawn for every family where they apply: the scatter (PCA beyond two dimensions) and interpolations for
all; the manifold for a two-dimensional code; prior samples and traversals for the variational families
(vae, beta-vae, conv-vae); feature maps for the convolutional ones. Images are drawn in colour when the
data has three channels (a feature map beside the grey of its image). The model computes, plots/ lays out.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from aelab.data.description import Description
from aelab.models.variational import VariationalAutoencoder
from aelab.objectives import gaussian_kl, output_of
from aelab.plots.code_space import code_space_figure, project_codes
from aelab.plots.filters import feature_maps_figure
from aelab.plots.generative import (
    grid_codes,
    interpolation_figure,
    manifold_figure,
    samples_figure,
    traversal_codes,
)
from aelab.plots.images import displayable
from aelab.runs.drawing import generated_figure, on_screen, traversal_drawing
from aelab.runs.folder import save_figure

FIGURE_SEED = 0  # the prior samples' and the t-SNE's seed: a figure redrawn from the same model is the same figure
MANIFOLD_N = 30  # the Keras VAE example's 30 × 30 grid
KERAS_EXTENT = (-1.0, 1.0, -1.0, 1.0)  # ... over [−1, 1]² (its plot_latent_space, scale 1.0)
N_PAIRS, N_STEPS, N_SAMPLES, N_MAPS_IMAGES = 3, 9, 30, 3
TRAVERSAL_VALUES = np.linspace(-3.0, 3.0, 7)  # in prior standard deviations: N(0, I) puts 99.7 % of a code within ±3
MAX_TRAVERSED = 10  # code dimensions drawn; a larger code shows the ones with the largest KL


@torch.no_grad()
def decoded(model: torch.nn.Module, codes: np.ndarray | torch.Tensor, loss: str = "bce") -> np.ndarray:
    """Decoded codes as rows (n, features) in the model's space: sigmoid outputs for BCE, linear for MSE."""
    return output_of(model.decode(torch.as_tensor(codes, dtype=torch.float32)), loss).numpy()


def occupied_extent(points: np.ndarray) -> tuple[float, float, float, float]:
    """The region the codes occupy: the 1st to 99th percentile of each coordinate (outliers left out)."""
    low, high = np.percentile(points, [1, 99], axis=0)
    return float(low[0]), float(high[0]), float(low[1]), float(high[1])


@torch.no_grad()
def interpolations(model: torch.nn.Module, images: torch.Tensor, loss: str = "bce") -> tuple[np.ndarray, np.ndarray]:
    """(code path, pixel path), (pairs, steps, H·W) each, between images 0–1, 2–3, … of `images`."""
    t = torch.linspace(0, 1, N_STEPS).view(1, N_STEPS, 1)
    a, b = images[0 : 2 * N_PAIRS : 2].unsqueeze(1), images[1 : 2 * N_PAIRS : 2].unsqueeze(1)  # (pairs, 1, D)
    codes_a, codes_b = model.encode(a[:, 0]).unsqueeze(1), model.encode(b[:, 0]).unsqueeze(1)  # (pairs, 1, k)
    code_line = (1 - t) * codes_a + t * codes_b  # (pairs, steps, k)
    code_path = decoded(model, code_line.reshape(-1, code_line.shape[-1]), loss).reshape(len(a), N_STEPS, -1)
    return code_path, ((1 - t) * a + t * b).numpy()


def draw_family_figures(
    out: Path,
    model: torch.nn.Module,
    test_x: torch.Tensor,
    labels: np.ndarray | None,
    description: Description,
    projection: str = "pca",
) -> tuple[list[str], dict[str, str]]:
    """Write the code-space figures that apply to `model` and its data into `out`.

    Returns (their names, {a figure left out: why}). `projection` ("pca" or "tsne") draws codes of more
    than two dimensions (plots.code_space.project_codes)."""
    model.eval()
    codes = torch.cat([model.encode(test_x[i : i + 2_000]) for i in range(0, len(test_x), 2_000)]).detach().numpy()
    points, axes = project_codes(codes, projection, FIGURE_SEED)
    what = "posterior means" if isinstance(model, VariationalAutoencoder) else "codes"
    title = f"test {what}" + ("" if codes.shape[1] == 2 else f" ({codes.shape[1]} dimensions, {projection.upper()})")
    save_figure(code_space_figure(points, axes, labels, description.class_names, title), out / "codes.png")
    names, omitted = ["codes.png"], {}
    if codes.shape[1] == 2:
        names += draw_manifold(out, model, codes, description, omitted)
    if isinstance(model, VariationalAutoencoder):
        names += draw_prior_samples(out, model, description, omitted)
        names += draw_traversals(out, model, test_x, description)
    if len(test_x) >= 2 * N_PAIRS and description.kind == "image":
        paths = interpolations(model, test_x[: 2 * N_PAIRS], description.loss)
        shown = [on_screen(description, p.reshape(-1, p.shape[-1])).reshape(p.shape) for p in paths]
        save_figure(interpolation_figure(*shown, description.sample_shape), out / "interpolation.png")
        names.append("interpolation.png")
    elif description.kind != "image":
        omitted["interpolation.png"] = (
            f"a cross-fade between two {description.sample_word}s is drawn for images only: codes.png shows the "
            "code space"
        )
    if model.first_layer_weights().ndim == 4:  # a convolutional first layer
        shown = test_x[:N_MAPS_IMAGES]
        maps = model.first_layer_maps(shown).numpy()
        images = displayable(on_screen(description, shown.numpy()), description.sample_shape)
        grey = images.mean(axis=3) if images.ndim == 4 else images  # colour images shown in grey beside their maps
        save_figure(feature_maps_figure(grey, maps), out / "feature_maps.png")
        names.append("feature_maps.png")
    return names, omitted


def draw_manifold(
    out: Path, model: torch.nn.Module, codes: np.ndarray, description: Description, omitted: dict
) -> list[str]:
    """The decoded 30 × 30 grid of a 2-D code: over the region the test codes occupy, and for a VAE also over the
    Keras example's [−1, 1]² of its prior (a plain autoencoder's ReLU codes do not live there)."""
    if description.kind != "image":
        omitted["manifold.png"] = (
            f"a grid of decoded {description.sample_word}s is drawn for images only: codes.png shows the 2-D code"
        )
        return []
    extents = [
        ("manifold_codes.png" if isinstance(model, VariationalAutoencoder) else "manifold.png", occupied_extent(codes))
    ]
    if isinstance(model, VariationalAutoencoder):
        extents.insert(0, ("manifold.png", KERAS_EXTENT))
    for name, extent in extents:
        rows = on_screen(description, decoded(model, grid_codes(MANIFOLD_N, extent), description.loss))
        images = displayable(rows, description.sample_shape)  # (n, H, W) or (n, H, W, 3)
        save_figure(manifold_figure(images, MANIFOLD_N, extent, f"decoded {MANIFOLD_N}×{MANIFOLD_N} grid"), out / name)
    return [name for name, _ in extents]


def draw_prior_samples(out: Path, model: torch.nn.Module, description: Description, omitted: dict) -> list[str]:
    """samples.png: decodings of codes drawn from the VAE's prior N(0, I), drawn for the data's kind."""
    prior = torch.randn(N_SAMPLES, model.code_size, generator=torch.Generator().manual_seed(FIGURE_SEED))
    rows = decoded(model, prior, description.loss)
    if description.kind == "image":
        figure = samples_figure(on_screen(description, rows), description.sample_shape)
    else:
        figure = generated_figure(description, rows[: N_SAMPLES // 5], "decoded from the prior")
    save_figure(figure, out / "samples.png")
    return ["samples.png"]


def traversed_dimensions(kl_per_dim: np.ndarray, most: int = MAX_TRAVERSED) -> np.ndarray:
    """Which code dimensions a traversal shows, in index order: all of them up to `most`, else the `most` with the
    largest KL (the dimensions the model uses; a collapsed one, KL ≈ 0, decodes the same at every value)."""
    kl_per_dim = np.asarray(kl_per_dim)
    if len(kl_per_dim) <= most:
        return np.arange(len(kl_per_dim))
    return np.sort(np.argsort(-kl_per_dim, kind="stable")[:most])


@torch.no_grad()
def traversals(
    model: VariationalAutoencoder, test_x: torch.Tensor, loss: str = "bce"
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(decodings (dims, steps, features), the dimensions traversed, every dimension's test KL (k,) in nats).

    The code traversed is test sample 0's posterior mean, one dimension at a time set to each of
    TRAVERSAL_VALUES. The KL per dimension is the run's test_kl_per_dim (train/vae_metrics.py) on the
    clean test samples: the mean over them of KL(q(z_j|x) ‖ N(0, 1)).
    """
    posterior = [model.posterior(test_x[i : i + 2_000]) for i in range(0, len(test_x), 2_000)]
    mean, log_var = torch.cat([m for m, _ in posterior]), torch.cat([v for _, v in posterior])
    kl_per_dim = gaussian_kl(mean, log_var).mean(dim=0).double().numpy()
    dimensions = traversed_dimensions(kl_per_dim)
    codes = traversal_codes(mean[0].numpy(), dimensions, TRAVERSAL_VALUES)  # (dims, steps, k)
    rows = decoded(model, codes.reshape(-1, codes.shape[-1]), loss).reshape(*codes.shape[:2], -1)
    return rows, dimensions, kl_per_dim


def draw_traversals(
    out: Path, model: VariationalAutoencoder, test_x: torch.Tensor, description: Description
) -> list[str]:
    """traversals.png: what each code dimension does (Higgins et al. 2017's latent traversal), drawn for the data's
    kind; rows labelled with the dimension (from 1, as codes.png's axes) and its KL."""
    rows, dimensions, kl_per_dim = traversals(model, test_x, description.loss)
    labels = [f"code {d + 1} (KL {kl_per_dim[d]:.2f})" for d in dimensions]
    shown = "" if len(dimensions) == len(kl_per_dim) else f", {len(dimensions)} of {len(kl_per_dim)} by KL"
    title = f"test {description.sample_word} #0's code{shown};\none dimension set to each value (prior sd)"
    save_figure(traversal_drawing(description, rows, labels, TRAVERSAL_VALUES, title), out / "traversals.png")
    return ["traversals.png"]
