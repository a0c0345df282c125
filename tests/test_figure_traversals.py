"""traversals.png: what each code dimension of a VAE does (Higgins et al. 2017's latent traversal), for every kind of
data, in every VAE run folder.

Issue 28 ("the first hour"): β-VAE users expected one and found none.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from matplotlib.image import imread

import aelab.runs.family_figures as family_figures
from aelab.cli import main
from aelab.data.description import Description
from aelab.models.variational import DenseVAE
from aelab.plots.generative import traversal_codes
from aelab.runs.family_figures import (
    MAX_TRAVERSED,
    TRAVERSAL_VALUES,
    decoded,
    draw_traversals,
    traversals,
    traversed_dimensions,
)
from aelab.train.vae_metrics import variational_metrics

COLUMNS = ("age", "height", "weight", "pulse", "glucose", "sleep")


def vae(n_features: int, code_size: int, seed: int = 0) -> DenseVAE:
    return DenseVAE(n_features, code_size, (16,), torch.Generator().manual_seed(seed)).eval()


def test_traversal_codes_change_one_dimension_per_row_to_each_value():
    base = np.random.default_rng(0).normal(size=5).astype(np.float32)
    codes = traversal_codes(base, [0, 3], TRAVERSAL_VALUES)
    assert codes.shape == (2, len(TRAVERSAL_VALUES), 5)
    for row, dimension in enumerate([0, 3]):
        assert np.array_equal(codes[row, :, dimension], TRAVERSAL_VALUES.astype(np.float32))
        others = np.delete(codes[row], dimension, axis=1)
        assert np.array_equal(others, np.tile(np.delete(base, dimension), (len(TRAVERSAL_VALUES), 1)))


def test_all_dimensions_up_to_ten_else_the_ten_with_the_largest_kl_in_index_order():
    assert list(traversed_dimensions(np.array([0.0, 3.0, 1.0]))) == [0, 1, 2]
    kl = np.random.default_rng(1).random(32)
    chosen = traversed_dimensions(kl)
    assert len(chosen) == MAX_TRAVERSED and list(chosen) == sorted(chosen)
    assert kl[chosen].min() >= np.delete(kl, chosen).max()


def test_traversals_decode_test_sample_zeros_code_with_one_dimension_swept_and_its_test_kl():
    model, x = vae(20, 3), torch.rand(40, 20)
    rows, dimensions, kl_per_dim = traversals(model, x)
    assert rows.shape == (3, len(TRAVERSAL_VALUES), 20) and list(dimensions) == [0, 1, 2]
    assert np.allclose(kl_per_dim, variational_metrics(model, x)["kl_per_dim"], rtol=1e-5)  # the run's test KL
    base = model.encode(x[:1]).detach().numpy()[0]
    code = base.copy()
    code[1] = TRAVERSAL_VALUES[2]
    assert np.allclose(rows[1, 2], decoded(model, code[None])[0], atol=1e-6)
    assert not np.allclose(rows[1, 0], rows[1, -1])  # the swept dimension changes what is decoded


@pytest.fixture
def drawn(monkeypatch) -> list:
    """The figures draw_traversals draws, kept as they are saved."""
    figures, original = [], family_figures.traversal_drawing
    monkeypatch.setattr(family_figures, "traversal_drawing", lambda *a: figures.append(original(*a)) or figures[-1])
    return figures


def test_a_large_code_draws_the_ten_dimensions_with_the_largest_kl(tmp_path, drawn):
    model, x = vae(784, 16), torch.rand(30, 784)
    _, dimensions, kl_per_dim = traversals(model, x)
    assert list(dimensions) == sorted(np.argsort(-kl_per_dim)[:MAX_TRAVERSED])
    draw_traversals(tmp_path, model, x, Description("image", (1, 28, 28)))
    (ax,) = drawn[0].axes
    assert [t.get_text() for t in ax.get_yticklabels()] == [
        f"code {d + 1} (KL {kl_per_dim[d]:.2f})" for d in dimensions
    ]
    assert "10 of 16 by KL" in drawn[0].get_suptitle()


@pytest.mark.parametrize(
    "description",
    [Description("image", (1, 28, 28)), Description("signal", (40,)), Description("table", (6,), columns=COLUMNS)],
    ids=lambda d: d.kind,
)
def test_each_kind_of_data_gets_its_traversal_drawn(tmp_path, drawn, description):
    model, x = vae(description.n_features, 3), torch.rand(12, description.n_features)
    assert draw_traversals(tmp_path, model, x, description) == ["traversals.png"]
    assert imread(tmp_path / "traversals.png").ndim == 3
    _, _, kl_per_dim = traversals(model, x)
    expected = [f"code {d + 1} (KL {kl_per_dim[d]:.2f})" for d in range(3)]
    panels = [ax for ax in drawn[0].axes if ax.get_visible()]
    if description.kind == "image":  # a line of images per dimension, a column per value
        assert [t.get_text() for t in panels[0].get_yticklabels()] == expected
        assert [t.get_text() for t in panels[0].texts] == ["−3", "−2", "−1", "0", "1", "2", "3"]
    elif description.kind == "signal":  # a panel per dimension, a line per value
        assert [ax.get_title() for ax in panels] == expected
        assert all(len(ax.lines) == len(TRAVERSAL_VALUES) for ax in panels)
    else:  # a panel per dimension, a bar per value for each named column
        assert [ax.get_title() for ax in panels] == expected
        assert all(len(ax.patches) == len(TRAVERSAL_VALUES) * len(COLUMNS) for ax in panels)
        assert [t.get_text() for t in panels[-1].get_xticklabels()] == list(COLUMNS)


def test_a_vae_on_a_table_writes_its_traversal_as_bars_and_lists_it(tmp_path):
    rng = np.random.default_rng(0)
    table = tmp_path / "vitals.csv"
    rows = rng.random((80, len(COLUMNS)))
    table.write_text(",".join(COLUMNS) + "\n" + "\n".join(",".join(f"{v:.4f}" for v in row) for row in rows) + "\n")
    out = tmp_path / "run"
    args = ["train", "--model", "beta-vae", "--dataset", str(table), "--code-size", "2", "--hidden-sizes", "8"]
    assert main([*args, "--epochs", "1", "--batch-size", "16", "--loss", "bce", "--quiet", "--out", str(out)]) == 0
    assert (out / "traversals.png").is_file()
    assert "![traversals](traversals.png)" in (out / "summary.md").read_text()
