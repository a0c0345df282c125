"""The explorer's page, without a browser: the exported layers, the page's data and escaping, its policy,
`aelab explore`'s refusals and the report's link. tests/test_explorer_browser.py runs the page in Chromium."""

from __future__ import annotations

import base64
import functools
import hashlib
import json
import re
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from explorer_runs import page_data, trained_run
from hypothesis import given
from hypothesis import strategies as st
from torch import nn

import aelab
from aelab.cli import main
from aelab.config import TrainConfig
from aelab.errors import ConfigError
from aelab.explorer import EXPLORER_HTML, explore
from aelab.explorer.command import page_title
from aelab.explorer.content import (
    MAX_UNIT_SLIDERS,
    SLIDER_SIGMAS,
    THUMBNAILS_PER_CLASS,
    principal_directions,
    slider_units,
    thumbnail_indices,
)
from aelab.explorer.export import export_model
from aelab.explorer.page import data_block, explorer_page
from aelab.models.dense import DenseAutoencoder
from aelab.models.registry import get_family
from aelab.report.collect import collect
from aelab.report.html import report_html
from aelab.report.markdown import report_markdown
from aelab.report.mdhtml import sibling_page
from aelab.runs.lock import RunLock
from aelab.runs.saved import read_run


def floats(text: str) -> np.ndarray:
    return np.frombuffer(base64.b64decode(text), dtype="<f4")


def spatial(layer: dict, x: np.ndarray) -> tuple[torch.Tensor, dict]:
    """A flat row as the layer's (1, C, H, W) input, and its stride and padding, for torch.nn.functional."""
    return torch.tensor(x).reshape(1, *layer["in_shape"]), {"stride": layer["stride"], "padding": layer["padding"]}


def convolution(layer: dict, x: np.ndarray, op, weight_shape: tuple[int, ...]) -> np.ndarray:
    inputs, options = spatial(layer, x)
    weight = torch.tensor(floats(layer["weight"]).astype(np.float64)).reshape(weight_shape)
    y = op(inputs, weight, torch.tensor(floats(layer["bias"]).astype(np.float64)), **options)
    return (
        y[..., : layer["out_shape"][1], : layer["out_shape"][2]].numpy().ravel()
    )  # output padding: nothing lands there but the bias


def run_layers(layers: list[dict], x: np.ndarray) -> np.ndarray:
    """A reading of the exported format from its own fields (shapes, kernels, float64), independent of the model's
    modules: what explorer.js computes. Rows stay flat between layers, as in the page."""
    for layer in layers:
        if layer["type"] == "dense":
            x = floats(layer["weight"]).reshape(layer["out"], layer["in"]) @ x + floats(layer["bias"])
        elif layer["type"] == "relu":
            x = np.maximum(x, 0)
        elif layer["type"] == "conv2d":
            c, o = layer["in_shape"][0], layer["out_shape"][0]
            x = convolution(layer, x, torch.nn.functional.conv2d, (o, c, *layer["kernel"]))
        elif layer["type"] == "conv_transpose2d":
            c, o = layer["in_shape"][0], layer["out_shape"][0]
            grown = [
                n - ((h - 1) * s - 2 * p + k)
                for n, h, s, p, k in zip(
                    layer["out_shape"][1:], layer["in_shape"][1:], layer["stride"], layer["padding"], layer["kernel"]
                )
            ]
            op = functools.partial(torch.nn.functional.conv_transpose2d, output_padding=grown)
            x = convolution(layer, x, op, (c, o, *layer["kernel"]))
        elif layer["type"] == "max_pool2d":
            inputs, options = spatial(layer, x)
            x = torch.nn.functional.max_pool2d(inputs, layer["kernel"], **options).numpy().ravel()
        else:
            assert layer["type"] == "sigmoid"
            x = 1 / (1 + np.exp(-x))
    return x


@pytest.fixture(scope="module")
def deep_run(tmp_path_factory):
    run = trained_run(tmp_path_factory, "deep", model="deep")
    explore(run)
    return run


def test_the_exported_layers_hold_the_models_weights_and_compute_its_output():
    model = DenseAutoencoder(784, 8, (16,), torch.Generator().manual_seed(0))
    exported = export_model(model)
    assert [layer["type"] for layer in exported["encoder"]] == ["dense", "relu", "dense", "relu"]
    assert [layer["type"] for layer in exported["decoder"]] == ["dense", "relu", "dense", "sigmoid"]
    dense = [layer for part in ("encoder", "decoder") for layer in exported[part] if layer["type"] == "dense"]
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    for layer, linear in zip(dense, linears, strict=True):
        assert np.array_equal(floats(layer["weight"]), linear.weight.detach().numpy().ravel())
        assert np.array_equal(floats(layer["bias"]), linear.bias.detach().numpy())
    x = torch.rand(784, generator=torch.Generator().manual_seed(1))
    code = run_layers(exported["encoder"], x.numpy().astype(np.float64))
    np.testing.assert_allclose(code, model.encode(x[None])[0].detach().numpy(), atol=1e-5)
    np.testing.assert_allclose(run_layers(exported["decoder"], code), model.reconstruct(x[None])[0].numpy(), atol=1e-5)


@pytest.mark.parametrize(
    "family, hidden, types",
    [
        (
            "conv",
            (),
            (
                ["conv2d", "relu", "max_pool2d", "conv2d", "relu", "max_pool2d"],
                ["conv_transpose2d", "relu", "conv_transpose2d", "relu", "conv2d", "sigmoid"],
            ),
        ),
        (
            "vae",
            (),
            (["dense"], ["dense", "sigmoid"]),
        ),  # the encoder is only the mean head; log_var is not on the code's path
        ("vae", (16,), (["dense", "relu", "dense"], ["dense", "relu", "dense", "sigmoid"])),
        (
            "conv-vae",
            (),
            (
                ["conv2d", "relu", "conv2d", "relu", "dense", "relu", "dense"],
                [
                    "dense",
                    "relu",
                    "conv_transpose2d",
                    "relu",
                    "conv_transpose2d",
                    "relu",
                    "conv_transpose2d",
                    "sigmoid",
                ],
            ),
        ),
    ],
)
@pytest.mark.parametrize("sample_shape", [(1, 28, 28), (3, 12, 8)])
def test_conv_and_vae_models_export_the_layers_of_their_mean_code_and_compute_their_output(
    family, hidden, types, sample_shape
):
    model = get_family(family).build(sample_shape, 3, hidden, torch.Generator().manual_seed(0)).eval()
    exported = export_model(model)
    assert ([layer["type"] for layer in exported["encoder"]], [layer["type"] for layer in exported["decoder"]]) == types
    assert exported["sample_shape"] == list(getattr(model, "sample_shape", (model.n_features,)))
    x = torch.rand(3, model.n_features, generator=torch.Generator().manual_seed(1))
    for row in x:
        code = run_layers(exported["encoder"], row.numpy().astype(np.float64))
        np.testing.assert_allclose(
            code, model.encode(row[None])[0].detach().numpy(), atol=1e-5
        )  # a VAE's code: the posterior mean
        np.testing.assert_allclose(
            run_layers(exported["decoder"], code), model.reconstruct(row[None])[0].numpy(), atol=1e-5
        )
    assert (
        export_model(model, "mse")["decoder"] == exported["decoder"][:-1]
    )  # MSE: the decoder's output is the reconstruction


@pytest.mark.parametrize("layer, name", [(nn.Tanh(), "Tanh"), (nn.Dropout(0.5), "Dropout")])
def test_a_layer_the_page_cannot_run_is_refused_by_name(layer, name):
    model = DenseAutoencoder(784, 8, (), torch.Generator().manual_seed(0))
    model.encoder = nn.Sequential(layer, *model.encoder)
    with pytest.raises(
        ConfigError,
        match=f"encoder layer encoder.0 \\({name}\\): the explorer runs Linear, ReLU, Sigmoid, "
        "Conv2d, ConvTranspose2d, MaxPool2d, Flatten, Identity layers only",
    ):
        export_model(model)
    with pytest.raises(ConfigError, match="expected an autoencoder with encode and decode"):
        export_model(nn.Linear(3, 3))


def test_a_code_computed_off_the_chain_of_layers_is_refused():
    model = DenseAutoencoder(784, 8, (), torch.Generator().manual_seed(0))
    model.encode = lambda x: model.encoder(x) + x[:, :8]  # a skip connection: not a chain the page runs
    with pytest.raises(ConfigError, match="its encoder is not a chain of layers from input to output"):
        export_model(model)


@given(st.text())
def test_no_text_can_close_the_data_block_and_every_text_reads_back(text):
    block = data_block({"name": text, "list": [text]})
    assert not set("<>&") & set(block)
    assert json.loads(block) == {"name": text, "list": [text]}


def test_the_policy_allows_the_pages_own_script_and_style_by_hash_and_nothing_else():
    data = {"view_size": [28, 28], "evil": "</script><script>alert(1)</script>"}
    page = explorer_page(data, "<script>alert(2)</script>")
    csp = re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', page)[1]
    script = re.search(r"<script>(.*?)</script>", page, re.S)[1]
    style = re.search(r"<style>(.*?)</style>", page, re.S)[1]

    def digest(text: str) -> str:
        return base64.b64encode(hashlib.sha256(text.encode()).digest()).decode()

    assert csp == (
        f"default-src 'none'; script-src 'sha256-{digest(script)}'; style-src 'sha256-{digest(style)}'; "
        "img-src data:; base-uri 'none'; form-action 'none'"
    )
    assert page.count("<script") == 2 and page.count('<script type="application/json"') == 1
    assert "<title>&lt;script&gt;alert(2)&lt;/script&gt;</title>" in page
    assert ".innerHTML" not in script and "insertAdjacentHTML" not in script and "document.write" not in script


def test_thumbnails_are_the_first_images_of_each_class_or_the_first_forty():
    labels = np.array([3, 1, 3, 3, 1, 0, 3, 3, 1, 1, 1])
    shown = thumbnail_indices(labels, len(labels))
    assert THUMBNAILS_PER_CLASS == 4 and shown.tolist() == [5, 1, 4, 8, 9, 0, 2, 3, 6]  # class 0, then 1, then 3
    assert thumbnail_indices(None, 100).tolist() == list(range(40))


def test_principal_directions_are_orthonormal_and_span_three_deviations():
    codes = np.random.default_rng(0).gamma(2.0, size=(300, 6)) * np.array([5, 1, 3, 0.1, 2, 0.5])
    directions = principal_directions(codes)
    v = np.array(directions["components"])
    assert v.shape == (4, 6)
    np.testing.assert_allclose(v @ v.T, np.eye(4), atol=1e-10)
    np.testing.assert_allclose(directions["mean"], codes.mean(axis=0))
    projections = (codes - codes.mean(axis=0)) @ v.T
    np.testing.assert_allclose(directions["ranges"], SLIDER_SIGMAS * projections.std(axis=0, ddof=1), rtol=1e-9)
    assert np.all(np.diff(projections.var(axis=0)) <= 0)  # strongest direction first
    still = principal_directions(np.ones((10, 3)))  # no spread: the slider still moves, and nothing is NaN
    assert still["ranges"][0] == 1.0 and still["explained"][0] == 0.0


def test_a_wide_code_gets_sliders_for_the_units_that_vary_most_a_narrow_one_for_every_unit():
    rng = np.random.default_rng(0)
    wide = rng.normal(size=(300, 2048)) * rng.gamma(1.0, size=2048)  # each unit its own spread
    wide[:, rng.choice(2048, 500, replace=False)] = 0.0  # dead units, as a ReLU conv code has
    shown = slider_units(wide.astype(np.float32))
    variance = wide.var(axis=0)
    assert MAX_UNIT_SLIDERS == 32 and len(shown) == 32 and shown == sorted(shown)
    assert variance[shown].min() > np.delete(variance, shown).max()  # the 32 that vary most, in unit order
    assert slider_units(rng.normal(size=(50, 32))) == list(range(32))  # up to 32 units: every one
    assert slider_units(np.zeros((10, 40))) == list(range(32))  # all alike (dead): the first ones


@pytest.mark.parametrize(
    "dataset, record, shown, title",
    [
        ("mnist", None, None, "deep on mnist"),
        ("fashion-mnist", None, None, "deep on fashion-mnist"),
        ("fashion-mnist", None, "fashion-mnist", "deep on fashion-mnist"),  # its own test images, named once
        ("/data/beats.npz", {"identity": {"path": "/data/beats.npz"}}, None, "deep on beats.npz"),
        ("shapes/", {"identity": {"path": "/home/me/shapes"}}, None, "deep on shapes"),  # the folder's name
        ("arrays", {"identity": {"path": "arrays"}}, None, "deep on arrays"),
        ("arrays", {"identity": {"path": "arrays"}}, "mnist", "deep on arrays (test images of mnist)"),
    ],
)
def test_the_title_names_the_data_a_built_in_set_by_name_your_own_by_file_or_folder(dataset, record, shown, title):
    run = SimpleNamespace(config=TrainConfig(dataset=dataset, model="deep"), data_record=record)
    assert page_title(run, shown) == f"aelab explorer: {title}"


def test_explore_writes_one_page_under_5_mb_with_the_runs_model_and_test_images(deep_run, real_data_dir):
    page = deep_run / EXPLORER_HTML
    assert "<title>aelab explorer: deep on mnist</title>" in page.read_text(encoding="utf-8")
    assert 500_000 < page.stat().st_size < 5 * 2**20  # the study's deep model (784 → 128 → 32 → 128 → 784)
    data = page_data(deep_run)
    model = read_run(deep_run).model
    assert data["meta"]["layers"] == "784 → 128 → 32 → 128 → 784" and data["meta"]["code_size"] == 32
    first = data["model"]["encoder"][0]
    assert np.array_equal(floats(first["weight"]), model.encoder[0].weight.detach().numpy().ravel())
    mnist = aelab.load_dataset("mnist", real_data_dir, progress=False)
    thumbs = floats(data["thumbnails"]["values"]).reshape(-1, 784)
    indices = data["thumbnails"]["indices"]
    assert len(indices) == 40 and data["thumbnails"]["labels"] == mnist.test_labels[indices].tolist()
    assert np.array_equal(thumbs, mnist.test_images.reshape(-1, 784)[indices])
    assert data["classes"] == list(mnist.spec.class_names) and data["points"] is None  # no scatter for a 32-wide code
    assert not [p for p in deep_run.iterdir() if p.name.startswith(".")]  # no temporaries, no lock left


def test_the_command_line_writes_the_page_and_refuses_what_is_not_a_finished_run(deep_run, tmp_path, capsys):
    assert main(["explore", str(deep_run)]) == 0
    assert capsys.readouterr().out == f"explorer: {deep_run / EXPLORER_HTML}\n"
    (tmp_path / "unfinished").mkdir()
    (tmp_path / "sweep").mkdir()
    (tmp_path / "sweep" / "sweep.json").write_text("{}")
    for folder, expected in (
        (tmp_path / "none", "no such folder"),
        (tmp_path / "unfinished", "not a finished run"),
        (tmp_path / "sweep", "a sweep's folder"),
    ):
        assert main(["explore", str(folder)]) == 5
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and expected in err
        assert not (folder / EXPLORER_HTML).exists()
    assert main(["explore", str(deep_run), "--dataset", "mnsit"]) == 2
    assert "unknown data set 'mnsit' (did you mean 'mnist'?)" in capsys.readouterr().err


def test_a_page_over_the_size_limit_is_refused_and_the_old_page_kept(deep_run, tmp_path, monkeypatch, capsys):
    run = tmp_path / "run"
    run.mkdir()
    for path in deep_run.iterdir():
        (run / path.name).write_bytes(path.read_bytes())
    (run / EXPLORER_HTML).write_text("the previous page")
    monkeypatch.setattr("aelab.explorer.command.MAX_PAGE_BYTES", 100_000)
    assert main(["explore", str(run)]) == 6
    assert "bytes: expected at most 100,000 bytes, a page small enough to mail" in capsys.readouterr().err
    assert (run / EXPLORER_HTML).read_text() == "the previous page"
    assert sorted(p.name for p in run.iterdir()) == sorted(p.name for p in deep_run.iterdir())


def test_a_run_folder_another_writer_holds_is_refused(deep_run, capsys):
    before = (deep_run / EXPLORER_HTML).stat().st_mtime_ns
    with RunLock(deep_run):
        assert main(["explore", str(deep_run)]) == 6
    assert "in use by another aelab run" in capsys.readouterr().err
    assert (deep_run / EXPLORER_HTML).stat().st_mtime_ns == before


def test_a_model_fitted_on_arrays_shows_the_samples_its_folder_keeps_or_a_data_set(real_data_dir, tmp_path, capsys):
    mnist = aelab.load_dataset("mnist", real_data_dir, progress=False)
    aelab.Autoencoder(code_size=2, epochs=1, verbose=0).fit(mnist.train_images[:300]).save(tmp_path / "fitted")
    kept = np.load(tmp_path / "fitted" / "test_samples.npy")  # the arrays cannot be read again: the folder keeps some
    assert main(["explore", str(tmp_path / "fitted")]) == 0
    assert len(floats(page_data(tmp_path / "fitted")["points"]["codes"])) == 2 * len(kept)
    assert "<title>aelab explorer: shallow on arrays</title>" in (tmp_path / "fitted" / EXPLORER_HTML).read_text()
    (tmp_path / "fitted" / "test_samples.npy").unlink()
    assert main(["explore", str(tmp_path / "fitted")]) == 2
    assert "fitted on arrays from Python and saved without test samples: expected --dataset NAME" in (
        capsys.readouterr().err
    )
    assert main(["explore", str(tmp_path / "fitted"), "--dataset", "mnist", "--data-dir", str(real_data_dir)]) == 0
    data = page_data(tmp_path / "fitted")
    assert (data["meta"]["dataset"], data["meta"]["shown_dataset"]) == ("arrays", "mnist")
    assert "<title>aelab explorer: shallow on arrays (test images of mnist)</title>" in (
        (tmp_path / "fitted" / EXPLORER_HTML).read_text()
    )
    codes = floats(data["points"]["codes"]).reshape(-1, 2)  # a 2-D code: the scatter's points are the test codes
    assert len(codes) == 2000 and data["points"]["labels"] == mnist.test_labels[:2000].tolist()


def test_the_report_links_a_runs_explorer_when_there_is_one(deep_run, tmp_path):
    study = tmp_path / "study"
    (study / "mnist").mkdir(parents=True)
    (study / "mnist" / "deep").symlink_to(deep_run, target_is_directory=True)
    link = '<a href="mnist/deep/explorer.html">Open this model in the explorer</a>'
    assert "(mnist/deep/explorer.html)" in report_markdown(collect(study)) and link in report_html(collect(study))
    (deep_run / EXPLORER_HTML).rename(tmp_path / "aside.html")
    try:
        assert "explorer" not in report_markdown(collect(study)) and "explorer.html" not in report_html(collect(study))
    finally:
        (tmp_path / "aside.html").rename(deep_run / EXPLORER_HTML)


@pytest.mark.parametrize(
    "href, kept",
    [
        ("explorer.html", True),
        ("mnist/deep/explorer.html", True),
        ("https://example.org/explorer.html", False),
        ("../explorer.html", False),
        ("/tmp/explorer.html", False),
        ("mnist/deep/other.html", False),
        ("javascript:alert(1)//explorer.html", False),
    ],
)
def test_only_relative_links_to_a_runs_explorer_stay_links(href, kept):
    assert sibling_page(href) is kept
