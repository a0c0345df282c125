"""Figures: arrays in, Figure out, with the panels the caller asked for."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aelab.plots.curves import loss_figure
from aelab.plots.images import reconstructions_figure
from aelab.plots.mosaic import tile
from aelab.plots.weights import weights_figure


def image_axes(fig):
    return [ax for ax in fig.axes if ax.images and ax.get_label() != "<colorbar>"]


def drawn_cells(fig) -> list[np.ndarray]:
    """Every 28×28 cell of the figure's one tiled image that holds an image, line by line."""
    (ax,) = image_axes(fig)
    pixels = np.ma.filled(ax.images[0].get_array().astype(float), np.nan)
    cells = []
    for top in range(0, pixels.shape[0] - 27):
        for left in range(0, pixels.shape[1] - 27):
            block = pixels[top : top + 28, left : left + 28]
            edge_above = top == 0 or np.isnan(pixels[top - 1, left : left + 28]).all()
            edge_left = left == 0 or np.isnan(pixels[top : top + 28, left - 1]).all()
            if edge_above and edge_left and not np.isnan(block).any():
                cells.append((top, left, block))
    return [block for _, _, block in sorted(cells, key=lambda c: (c[0], c[1]))]


@pytest.mark.parametrize("n", [1, 10, 25])
def test_reconstruction_grid_shows_every_image_in_its_line(n):
    rng = np.random.default_rng(0)
    originals, outputs, noisy = (rng.random((n, 784), dtype=np.float32) for _ in range(3))
    for rows, fig in (
        ([originals, outputs], reconstructions_figure(originals, outputs)),
        ([originals, noisy, outputs], reconstructions_figure(originals, outputs, noisy=noisy)),
    ):
        per_line = min(n, 20)
        expected = [
            rows[r][i].reshape(28, 28)
            for b in range(-(-n // per_line))
            for r in range(len(rows))
            for i in range(b * per_line, min(n, (b + 1) * per_line))
        ]
        cells = drawn_cells(fig)
        assert len(cells) == len(rows) * n
        assert all(np.allclose(c, e) for c, e in zip(cells, expected))
        labels = [t.get_text() for t in image_axes(fig)[0].get_yticklabels()]
        assert labels[: len(rows)] == (
            ["original", "reconstruction"] if len(rows) == 2 else ["original", "noisy input", "output"]
        )


def test_titles_are_drawn_above_their_images():
    images = np.random.default_rng(0).random((3, 784), dtype=np.float32)
    fig = reconstructions_figure(images, images, titles=["a", "b", "c"])
    assert [t.get_text() for t in image_axes(fig)[0].texts] == ["a", "b", "c"]


@settings(max_examples=30, deadline=None)
@given(lines=st.integers(1, 4), cols=st.integers(1, 5), gap=st.integers(0, 4), data=st.data())
def test_tile_puts_each_cell_at_its_offsets_and_nothing_elsewhere(lines, cols, gap, data):
    shape = (data.draw(st.integers(1, 5)), data.draw(st.integers(1, 5)))
    present = data.draw(st.lists(st.lists(st.booleans(), min_size=cols, max_size=cols), min_size=lines, max_size=lines))
    present[0][0] = True
    cells = [
        [np.full(shape, 10.0 * r + c) if here else None for c, here in enumerate(line)]
        for r, line in enumerate(present)
    ]
    mosaic = tile(cells, gap=gap)
    covered = np.zeros(mosaic.pixels.shape, dtype=bool)
    for r, line in enumerate(cells):
        for c, image in enumerate(line):
            block = (
                slice(mosaic.tops[r], mosaic.tops[r] + shape[0]),
                slice(mosaic.lefts[c], mosaic.lefts[c] + shape[1]),
            )
            if image is not None:
                assert np.array_equal(mosaic.pixels[block], image)
                covered[block] = True
    assert np.isnan(mosaic.pixels[~covered]).all()


def test_weights_figure_symmetric_scale_with_colorbar():
    w = np.random.default_rng(0).normal(size=(7, 784))
    w[0, 0] = -5.0  # the largest magnitude sets both ends of the scale
    fig = weights_figure(w)
    cells = drawn_cells(fig)
    assert len(cells) == 7 and all(np.allclose(c, wi.reshape(28, 28)) for c, wi in zip(cells, w))
    lo, hi = image_axes(fig)[0].images[0].get_clim()
    assert lo == -5.0 and hi == 5.0
    assert any(ax.get_label() == "<colorbar>" for ax in fig.axes)
    assert [t.get_text() for t in image_axes(fig)[0].texts] == [f"unit {i}" for i in range(7)]


def test_loss_figure_draws_train_test_and_floor():
    fig = loss_figure([0.3, 0.29, 0.285], [0.295, 0.29, 0.288], floor=0.24)
    ax = fig.axes[0]
    assert len(ax.lines) == 3
    assert list(ax.lines[0].get_ydata()) == [0.3, 0.29, 0.285]


def test_bad_rows_are_refused():
    with pytest.raises(ValueError):
        reconstructions_figure(np.zeros((3, 784)), np.zeros((2, 784)))
