"""Every run figure keeps its words inside the picture, for every kind of data, and its numbers read cleanly.

Issue 28 ("the first hour"): row labels were cut at the figure's edge ("econstruction") and the 2-D
manifold's middle ticks read "−0.03 / 0.03". A figure is rendered as save_figure renders it (Agg, one
draw at FIGURE_DPI), and every text it draws must lie within the figure.
"""

from __future__ import annotations

import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from aelab.data.description import Description
from aelab.plots.anomaly import extremes_figure, histograms_figure, roc_figure
from aelab.plots.code_space import code_space_figure
from aelab.plots.curves import loss_figure
from aelab.plots.filters import feature_maps_figure, filters_figure
from aelab.plots.generative import grid_codes, interpolation_figure, manifold_figure
from aelab.plots.generative import samples_figure as prior_samples_figure
from aelab.plots.grid import grid_figure
from aelab.plots.probe import probe_figure
from aelab.plots.sweep import sweep_figure
from aelab.plots.ticks import MINUS, clean_labels, round_ticks
from aelab.runs.drawing import generated_figure, samples_figure, traversal_drawing, weights_drawing
from aelab.runs.family_figures import KERAS_EXTENT, MANIFOLD_N, TRAVERSAL_VALUES
from aelab.runs.folder import FIGURE_DPI

RNG = np.random.default_rng(0)
LONG_COLUMNS = tuple(f"a rather long column name {j}" for j in range(8))  # shortened on the axis to 14 characters
DESCRIPTIONS = {
    "grey images": Description("image", (1, 28, 28)),
    "colour images": Description("image", (3, 32, 32)),
    "signals": Description("signal", (50,)),
    "tables": Description("table", (8,), loss="mse", columns=LONG_COLUMNS),
}


def drawn_texts(fig: Figure) -> tuple[list, object]:
    """(the texts one draw of `fig` puts on the page, its renderer): recorded as the renderer draws them, so tick
    labels outside an axis's view and texts of hidden panels, which are never drawn, are not counted."""
    FigureCanvasAgg(fig)
    fig.set_dpi(FIGURE_DPI)
    renderer = fig.canvas.get_renderer()  # the one the draw below uses: same size, same dpi
    drawn, draw_text = [], renderer.draw_text

    def recording(gc, x, y, s, prop, angle, ismath=False, mtext=None):
        if mtext is not None and mtext not in drawn:
            drawn.append(mtext)
        return draw_text(gc, x, y, s, prop, angle, ismath, mtext)

    renderer.draw_text = recording
    fig.canvas.draw()
    return drawn, renderer


def texts_outside(fig: Figure) -> list[str]:
    """The texts that one draw of `fig` (savefig's) puts, wholly or in part, outside the figure."""
    texts, renderer = drawn_texts(fig)
    page = fig.bbox
    outside = []
    for text in texts:
        box = text.get_window_extent(renderer)
        if box.x0 < page.x0 - 0.5 or box.y0 < page.y0 - 0.5 or box.x1 > page.x1 + 0.5 or box.y1 > page.y1 + 0.5:
            outside.append(text.get_text())
    return outside


def rows_of(description: Description, n: int, noisy: bool) -> dict[str, np.ndarray]:
    keys = ("originals", "noisy", "reconstructions") if noisy else ("originals", "reconstructions")
    return {key: RNG.random((n, description.n_features), dtype=np.float32) for key in keys}


def test_the_check_finds_a_cut_label_and_ignores_what_is_not_drawn():
    fig = Figure(figsize=(3, 2), layout="constrained")
    left, hidden = fig.subplots(1, 2)
    left.set_ylabel("kept")
    fig.text(-0.08, 0.5, "reconstruction")  # starts left of the figure: drawn as "econstruction"
    hidden.set_title("never drawn")
    hidden.set_visible(False)
    left.set_xticks([-5.0, 0.5], ["beyond the view", "in view"])
    left.set_xlim(0, 1)  # a tick label outside the view is not drawn
    assert texts_outside(fig) == ["reconstruction"]
    assert "never drawn" not in [t.get_text() for t in drawn_texts(fig)[0]]
    assert "beyond the view" not in [t.get_text() for t in drawn_texts(fig)[0]]


@pytest.mark.parametrize("kind", sorted(DESCRIPTIONS))
@pytest.mark.parametrize("n", [1, 2, 5, 12])
def test_reconstructions_and_worst_keep_their_row_labels(kind, n):
    description = DESCRIPTIONS[kind]
    for noisy in (False, True):
        titles = [f"#{1000 + i} {0.1234 * i:.3f}" for i in range(n)]  # worst.png's titles, the longest
        fig = samples_figure(description, rows_of(description, n, noisy), titles)
        assert texts_outside(fig) == [], (kind, n, noisy)


@pytest.mark.parametrize("kind", sorted(DESCRIPTIONS))
@pytest.mark.parametrize("n_dims", [1, 3, 10])
def test_traversals_keep_their_row_labels(kind, n_dims):
    description = DESCRIPTIONS[kind]
    rows = RNG.random((n_dims, len(TRAVERSAL_VALUES), description.n_features), dtype=np.float32)
    labels = [f"code {d + 1} (KL {10 * RNG.random():.2f})" for d in range(n_dims)]
    title = f"test {description.sample_word} #0's code, {n_dims} of 64 by KL;\none dimension set to each value"
    assert texts_outside(traversal_drawing(description, rows, labels, TRAVERSAL_VALUES, title)) == []


@pytest.mark.parametrize("kind", sorted(DESCRIPTIONS))
def test_first_layer_and_generated_figures_keep_their_labels(kind):
    description = DESCRIPTIONS[kind]
    for units in (3, 16):
        assert texts_outside(weights_drawing(description, RNG.normal(size=(units, description.n_features)))) == []
    if description.kind != "image":
        rows = RNG.random((6, description.n_features))
        assert texts_outside(generated_figure(description, rows, "decoded from the prior")) == []


def test_the_family_figures_keep_their_labels():
    images = RNG.random((MANIFOLD_N**2, 28, 28))
    figures = {
        "interpolation": interpolation_figure(RNG.random((3, 9, 784)), RNG.random((3, 9, 784)), (28, 28)),
        "feature maps": feature_maps_figure(images[:3], RNG.normal(size=(3, 32, 14, 14))),
        "manifold": manifold_figure(images, MANIFOLD_N, KERAS_EXTENT, "decoded 30×30 grid"),
        "manifold of the codes": manifold_figure(images, MANIFOLD_N, (-2.137, 1.871, -0.004, 0.031), "decoded"),
        "samples": prior_samples_figure(images[:30].reshape(30, -1), (28, 28)),
        "filters": filters_figure(RNG.normal(size=(32, 1, 3, 3))),
        "codes": code_space_figure(RNG.normal(size=(200, 2)), ("PC 1 (54% of the variance)", "PC 2 (12%)")),
        "loss": loss_figure([0.3, 0.2], [0.31, 0.21], floor=0.1),
    }
    assert {name: texts_outside(fig) for name, fig in figures.items()} == {name: [] for name in figures}


def tick_values(labels: list[str]) -> np.ndarray:
    return np.array([float(label.replace(MINUS, "-")) for label in labels])


def test_the_keras_manifold_reads_minus_one_to_one_with_zero_between_the_middle_cells():
    fig = manifold_figure(RNG.random((MANIFOLD_N**2, 28, 28)), MANIFOLD_N, KERAS_EXTENT)
    ax = fig.axes[0]
    for axis in (ax.xaxis, ax.yaxis):
        assert [t.get_text() for t in axis.get_ticklabels()] == ["−1.0", "−0.5", "0", "0.5", "1.0"]
    cell = 28
    middle = (14 * cell + 15 * cell) / 2 + (cell - 1) / 2  # halfway between the centres of cells 14 and 15
    assert ax.get_xticks()[2] == pytest.approx(middle) and ax.get_yticks()[2] == pytest.approx(middle)


@settings(max_examples=60, deadline=None)
@given(
    low=st.floats(-50, 50),
    span=st.floats(1e-3, 100),
    n=st.sampled_from([5, 30]),
)
def test_manifold_ticks_sit_where_their_value_is_decoded(low, span, n):
    extent = (low, low + span, -span / 3, 2 * span / 3)
    fig = manifold_figure(RNG.random((n * n, 4, 4)), n, extent)
    ax = fig.axes[0]
    codes = grid_codes(n, extent)
    centres = 1.5 + 4 * np.arange(n)  # 4×4 cells, no gap
    for axis, ticks, along in ((ax.xaxis, ax.get_xticks(), codes[:n, 0]), (ax.yaxis, ax.get_yticks(), codes[::n, 1])):
        labels = [t.get_text() for t in axis.get_ticklabels()]
        decoded_there = np.interp(ticks, centres, along)  # the code value at the tick, between the cells' centres
        assert np.allclose(tick_values(labels), decoded_there, atol=span * 1e-5)
        assert not any(re.fullmatch(r"[−-]0(\.0*)?", label) for label in labels)


@settings(max_examples=200, deadline=None)
@given(low=st.floats(-1e3, 1e3), span=st.floats(1e-4, 1e3))
def test_round_ticks_read_cleanly(low, span):
    high = low + span
    values = round_ticks(low, high)
    labels = clean_labels(values)
    assert len(values) >= 2 and (values >= low - span * 1e-9).all() and (values <= high + span * 1e-9).all()
    assert np.allclose(tick_values(labels), values, rtol=0, atol=span * 1e-6)  # each label is its value
    assert not any(re.fullmatch(r"[−-]0(\.0*)?", label) for label in labels)  # never "−0.00"
    in_range = low - span * 1e-9 <= 0 <= high + span * 1e-9
    assert in_range == ("0" in labels)  # a round step's multiples: 0 is a tick wherever it is in range
    decimals = {len(label.split(".")[1]) if "." in label else 0 for label in labels if label != "0"}
    assert len(decimals) <= 1 and max(decimals, default=0) <= 6  # one number of decimals along an axis


def test_clean_labels_print_zero_as_zero_and_no_more_decimals_than_needed():
    assert clean_labels([-0.0, 1e-17, 0.1 + 0.2]) == ["0", "0", "0.3"]
    assert clean_labels(np.linspace(-3, 3, 7)) == ["−3", "−2", "−1", "0", "1", "2", "3"]
    assert clean_labels([-1.0, -0.5, 0.0, 0.5, 1.0]) == ["−1.0", "−0.5", "0", "0.5", "1.0"]


def test_the_anomaly_and_study_figures_keep_their_labels():
    scores = {"normal": RNG.gamma(2.0, size=200), "anomalous": RNG.gamma(5.0, size=50)}
    curve = (np.linspace(0, 1, 20), np.sqrt(np.linspace(0, 1, 20)), 0.83)
    extremes = [(f"class {c}", RNG.random((5, 784)), RNG.random((5, 784))) for c in ("airplane", "9")]
    sweep = {
        f"{split}_{stem}": RNG.random((3, 4)) + 0.01 for split in ("train", "test") for stem in ("bce_excess", "mse")
    }
    figures = {
        "histograms": histograms_figure(
            [("normal class 0", scores["normal"], scores["anomalous"], {"99th percentile": 5.0})], "test BCE"
        ),
        "roc": roc_figure([("normal class 0", {"reconstruction error": curve})]),
        "extremes": extremes_figure(extremes),
        "extremes of a table": extremes_figure(
            [(name, RNG.random((3, 8)), RNG.random((3, 8))) for name, _, _ in extremes], (8,), LONG_COLUMNS
        ),
        "sweep": sweep_figure([2, 8, 32, 128], sweep, title="code size sweep"),
        "grid": grid_figure("noise_factor", [0.1, 0.2, 0.4], [("test BCE", {"code_size=8": (RNG.random(3), None)})]),
        "probe": probe_figure([2, 8], {"codes, logistic": [0.5, 0.8]}, {"logistic": 0.9}, [0.2, 0.1]),
    }
    assert {name: texts_outside(fig) for name, fig in figures.items()} == {name: [] for name in figures}
