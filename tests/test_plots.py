"""Figures: arrays in, Figure out, with the panels the caller asked for."""

from __future__ import annotations

import numpy as np
import pytest

from aelab.plots.curves import loss_figure
from aelab.plots.images import reconstructions_figure
from aelab.plots.weights import weights_figure


def image_axes(fig):
    return [ax for ax in fig.axes if ax.images]


@pytest.mark.parametrize("n", [1, 10, 25])
def test_reconstruction_grid_has_one_panel_per_image_and_row(n):
    images = np.random.default_rng(0).random((n, 784), dtype=np.float32)
    assert len(image_axes(reconstructions_figure(images, images))) == 2 * n
    assert len(image_axes(reconstructions_figure(images, images, noisy=images))) == 3 * n


def test_weights_figure_symmetric_scale_with_colorbar():
    w = np.random.default_rng(0).normal(size=(7, 784))
    w[0, 0] = -5.0  # the largest magnitude sets both ends of the scale
    fig = weights_figure(w)
    panels = [ax for ax in image_axes(fig) if ax.get_label() != "<colorbar>"]
    assert len(panels) == 7
    lo, hi = panels[0].images[0].get_clim()
    assert lo == -5.0 and hi == 5.0
    assert any(ax.get_label() == "<colorbar>" for ax in fig.axes)


def test_loss_figure_draws_train_test_and_floor():
    fig = loss_figure([0.3, 0.29, 0.285], [0.295, 0.29, 0.288], floor=0.24)
    ax = fig.axes[0]
    assert len(ax.lines) == 3
    assert list(ax.lines[0].get_ydata()) == [0.3, 0.29, 0.285]


def test_bad_rows_are_refused():
    with pytest.raises(ValueError):
        reconstructions_figure(np.zeros((3, 784)), np.zeros((2, 784)))
