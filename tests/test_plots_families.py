"""The code-space figures: arrays in, Figure out; the arrays behind them checked against what they claim to show."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from matplotlib.figure import Figure

from aelab.models.conv import ConvAutoencoder
from aelab.models.variational import DenseVAE
from aelab.plots.code_space import code_space_figure, project_codes
from aelab.plots.filters import feature_maps_figure, filters_figure
from aelab.plots.generative import grid_codes, interpolation_figure, manifold_figure, samples_figure
from aelab.runs.family_figures import N_PAIRS, N_STEPS, decoded, interpolations, occupied_extent

RNG = np.random.default_rng(0)


def test_two_dimensional_codes_are_drawn_as_they_are():
    codes = RNG.normal(size=(50, 2))
    points, labels = project_codes(codes)
    assert np.array_equal(points, codes) and labels == ("code 1", "code 2")


def test_pca_projection_keeps_the_main_direction():
    direction = np.array([3.0, -1.0, 2.0, 0.5]) / np.linalg.norm([3.0, -1.0, 2.0, 0.5])
    codes = RNG.normal(size=(200, 1)) * 10 * direction + RNG.normal(size=(200, 4)) * 0.1
    points, labels = project_codes(codes, "pca")
    assert points.shape == (200, 2) and labels[0].startswith("PC 1")
    along = (codes - codes.mean(axis=0)) @ direction
    assert abs(np.corrcoef(points[:, 0], along)[0, 1]) > 0.99


def test_tsne_is_an_option_and_an_unknown_method_is_refused():
    codes = RNG.normal(size=(40, 5))
    points, _ = project_codes(codes, "tsne")
    assert points.shape == (40, 2) and np.isfinite(points).all()
    with pytest.raises(ValueError, match="expected one of pca, tsne"):
        project_codes(codes, "umap")


def test_grid_codes_cover_the_extent_row_by_row_from_the_top():
    codes = grid_codes(30, (-1.0, 1.0, -2.0, 2.0))
    assert codes.shape == (900, 2)
    assert tuple(codes[0]) == (-1.0, 2.0) and tuple(codes[29]) == (1.0, 2.0) and tuple(codes[-1]) == (1.0, -2.0)


def test_occupied_extent_leaves_outliers_out():
    points = np.concatenate([RNG.uniform(-1, 1, size=(1000, 2)), [[100.0, -100.0]]])
    x0, x1, y0, y1 = occupied_extent(points)
    assert -1 <= x0 < -0.9 and 0.9 < x1 <= 1 and -1 <= y0 < -0.9 and 0.9 < y1 <= 1


def test_interpolations_run_from_one_image_to_the_other():
    model = DenseVAE(784, 2, (16,), torch.Generator().manual_seed(0)).eval()
    images = torch.rand(2 * N_PAIRS, 784)
    code_path, pixel_path = interpolations(model, images)
    assert code_path.shape == pixel_path.shape == (N_PAIRS, N_STEPS, 784)
    assert np.allclose(pixel_path[:, 0], images[0::2].numpy()) and np.allclose(pixel_path[:, -1], images[1::2].numpy())
    assert np.allclose(code_path[:, 0], decoded(model, model.encode(images[0::2])), atol=1e-6)
    assert np.allclose(code_path[:, -1], decoded(model, model.encode(images[1::2])), atol=1e-6)


def test_every_figure_function_returns_a_figure():
    images = RNG.uniform(size=(900, 28, 28))
    labels = RNG.integers(0, 10, 100)
    figures = [
        code_space_figure(RNG.normal(size=(100, 2)), ("a", "b"), labels, [str(i) for i in range(10)]),
        code_space_figure(RNG.normal(size=(100, 2)), ("a", "b")),
        manifold_figure(images, 30, (-1, 1, -1, 1)),
        samples_figure(images[:30].reshape(30, -1), (28, 28)),
        interpolation_figure(RNG.uniform(size=(2, 5, 784)), RNG.uniform(size=(2, 5, 784)), (28, 28)),
        filters_figure(ConvAutoencoder((1, 28, 28)).first_layer_weights().numpy()),
        feature_maps_figure(images[:3], RNG.normal(size=(3, 32, 14, 14))),
    ]
    assert all(isinstance(f, Figure) for f in figures)


def test_feature_maps_are_the_first_layers_relu_output():
    model = ConvAutoencoder((1, 28, 28), torch.Generator().manual_seed(0))
    x = torch.rand(3, 784)
    maps = model.first_layer_maps(x)
    assert maps.shape == (3, 32, 28, 28) and maps.min() >= 0
    assert torch.allclose(maps, torch.relu(model.encoder[0](x.view(-1, 1, 28, 28))))
