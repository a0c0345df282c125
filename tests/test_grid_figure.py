"""A study grid's figure: arrays in, Figure out; the x scale follows the values."""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib.figure import Figure

from aelab.plots.grid import grid_figure, x_positions


@pytest.mark.parametrize(
    "values, scale",
    [
        ([4, 8, 16, 32], "linear"),
        ([1e-5, 1e-4, 1e-3], "log"),
        ([0.0, 1e-5, 1e-3], "category"),
        (["gaussian", "masking"], "category"),
        ([0.1, 0.3, 0.5], "linear"),
        ([True, False], "category"),
    ],
)
def test_the_x_scale_follows_the_values(values, scale):
    x, found = x_positions(values)
    assert found == scale and len(x) == len(values)
    if scale == "category":
        assert list(x) == list(range(len(values)))


def test_one_panel_per_metric_one_line_per_series_with_error_bars():
    mean, sd = np.array([0.3, 0.2, np.nan]), np.array([0.01, 0.02, 0.0])
    fig = grid_figure(
        "code_size",
        [4, 8, 16],
        [
            ("test BCE excess", {"model=shallow": (mean, sd), "model=deep": (mean / 2, None)}),
            ("test MSE", {"model=shallow": (mean / 3, sd)}),
        ],
        title="t",
    )
    assert isinstance(fig, Figure) and len(fig.axes) == 2
    first = fig.axes[0]
    assert [t.get_text() for t in first.get_xticklabels()] == ["4", "8", "16"]
    assert [text.get_text() for text in first.get_legend().get_texts()] == ["model=shallow", "model=deep"]
    assert len(first.lines) >= 2 and first.get_xlabel() == "code_size"
    np.testing.assert_allclose(first.lines[0].get_ydata()[:2], [0.3, 0.2])
