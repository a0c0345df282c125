"""Every family with a decoder in explorer.html, in headless Chromium: conv, conv-denoising (the page's convolution,
pooling and transposed convolution in JavaScript), vae and beta-vae (the page decodes the posterior mean), conv-vae.

Tiny models (one epoch on 500 MNIST images) are trained in the test; the page's numbers for a test image, a
stroke, the code space and the interpolation are compared with the PyTorch model of the run folder to 1e-4,
and each visit ends with no console message and no request but the page itself (test_explorer_browser.Visit).
"""

from __future__ import annotations

import matplotlib
import numpy as np
import pytest
import torch
from browser_pages import (
    TOLERANCE,
    Visit,
    assert_bars_show,
    assert_drawing_matches_pytorch,
    assert_readout_shows,
    bar_axis,
    control_names,
    decoded,
    painted,
)
from explorer_runs import floats, page_data, trained_run
from shared_runs import REAL_DATA_DIR

from aelab import load_dataset
from aelab.explorer import EXPLORER_HTML, explore

TINY = {"train_size": 500, "test_size": 300, "epochs": 1}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """One explored run folder per family and settings, made on first use."""
    made = {}

    def run(family: str, **settings):
        key = (family, *sorted(settings.items()))
        if key not in made:
            made[key] = trained_run(tmp_path_factory, f"{family}-{len(made)}", model=family, **{**TINY, **settings})
            explore(made[key])
        return made[key]

    return run


@pytest.mark.parametrize("family", ["conv", "conv-denoising", "vae", "beta-vae", "conv-vae"])
def test_a_test_image_and_a_stroke_reconstruct_as_the_pytorch_model_does(browser, runs, family, tmp_path):
    folder = runs(family)
    assert (folder / EXPLORER_HTML).stat().st_size < 5 * 2**20  # a conv model's page still fits in a mail
    visit = Visit(browser, folder)
    visit.page.click('.thumb[data-index="5"]')
    first = assert_drawing_matches_pytorch(visit)  # code (a VAE's: the mean) and decoded pixels, to 1e-4
    assert first["code"].shape == (visit.model.code_size,)
    visit.stroke([(0.3, 0.3), (0.7, 0.7)])
    stroked = assert_drawing_matches_pytorch(visit)
    assert (stroked["input"] != first["input"]).sum() > 10
    visit.page.screenshot(path=str(tmp_path / f"{family}.png"), full_page=True)
    unit = page_data(folder)["unit_sliders"][1]  # a conv code's: one of the units that vary most
    visit.click_at(f'input[data-unit="{unit}"]', 0.8)  # the code space: one unit moved, decoded
    space = visit.state("space")
    np.testing.assert_allclose(space["output"], decoded(visit.model, space["code"]), atol=TOLERANCE, rtol=0)
    assert np.array_equal(visit.red("#space-output")[:, 0], painted(space["output"]))
    visit.page.click('.thumb[data-index="2"]')
    visit.page.click("#pick-a")
    visit.click_at("#interp-t", 0.3)
    interp = visit.state("interp")
    np.testing.assert_allclose(interp["output"], decoded(visit.model, interp["code"]), atol=TOLERANCE, rtol=0)
    visit.assert_quiet()


def test_a_conv_denoisers_noise_slider_feeds_the_corrupted_image(browser, runs):
    visit = Visit(browser, runs("conv-denoising"))
    visit.page.click('.thumb[data-index="7"]')
    noisy = assert_drawing_matches_pytorch(visit)
    visit.page.focus("#noise")
    visit.page.keyboard.press("Home")
    clean = assert_drawing_matches_pytorch(visit)
    assert np.abs(noisy["input"] - clean["input"]).mean() > 0.05  # trained on Gaussian noise 0.4: it starts corrupted
    visit.assert_quiet()


def test_a_conv_models_weights_are_its_first_kernels_on_the_colour_scale(browser, runs):
    folder = runs("conv")
    visit = Visit(browser, folder)
    kernels = visit.model.first_layer_weights().numpy().astype(np.float64)  # (32, 1, 3, 3)
    assert visit.page.locator(".weight").count() == 32
    visit.page.hover('.weight[data-unit="9"]')
    limit = float(np.float32(np.abs(kernels).max()))
    level = np.clip(np.floor((kernels[9, 0].ravel() + limit) / (2 * limit) * 256), 0, 255).astype(int)
    colours = np.rint(matplotlib.colormaps["RdBu_r"](np.linspace(0, 1, 256))[:, :3] * 255)  # weights.png's map
    assert np.array_equal(visit.red("#weights-enlarged")[:, :3], colours[level])
    visit.assert_quiet()


@pytest.mark.parametrize("family", ["vae", "conv-vae"])
def test_a_vaes_scatter_shows_the_mean_codes_and_decodes_the_point_under_the_pointer(browser, runs, family):
    folder = runs(family, code_size=2)
    data = page_data(folder)
    visit = Visit(browser, folder)
    test = load_dataset("mnist", REAL_DATA_DIR, progress=False).test_images.reshape(-1, 784)[:300]
    with torch.no_grad():
        means = visit.model.encode(torch.tensor(test)).numpy()
    np.testing.assert_allclose(
        floats(data["points"]["codes"]).reshape(-1, 2), means, atol=1e-6
    )  # the means, not samples
    assert min(data["unit_min"]) < 0  # a mean code is signed: sliders and bars reach below zero
    visit.click_at("#scatter", 0.35, 0.65)
    state = visit.state("space")
    np.testing.assert_allclose(state["output"], decoded(visit.model, state["code"]), atol=TOLERANCE, rtol=0)
    visit.page.click('.thumb[data-index="3"]')
    drawn = assert_drawing_matches_pytorch(visit)
    np.testing.assert_allclose(drawn["code"], means[data["thumbnails"]["indices"][3]], atol=TOLERANCE)
    visit.assert_quiet()


def test_a_wide_conv_code_gets_sliders_for_the_units_that_vary_most_and_says_so(browser, runs):
    folder = runs("conv")
    data = page_data(folder)
    visit = Visit(browser, folder)
    test = load_dataset("mnist", REAL_DATA_DIR, progress=False).test_images.reshape(-1, 784)[:300]
    with torch.no_grad():
        variance = visit.model.encode(torch.tensor(test)).numpy().astype(np.float64).var(axis=0)
    shown = data["unit_sliders"]
    assert visit.model.code_size == 1568 and len(shown) == 32 and shown == sorted(shown)
    assert variance[shown].min() >= np.delete(variance, shown).max() * (1 - 1e-6)  # the 32 that vary most
    assert [int(u) for u in visit.page.eval_on_selector_all("input[data-unit]", "s => s.map(e => e.dataset.unit)")] == (
        shown
    )
    note = visit.page.text_content("#units-note")
    assert "Sliders for the 32 of 1,568 code units that vary most over the test images" in note
    assert not [name for role, name in control_names(visit).values() if not name.strip()]
    visit.click_at(f'input[data-unit="{shown[-1]}"]', 0.9)
    assert_readout_shows(visit, f'input[data-unit="{shown[-1]}"]')
    moved = float(visit.page.locator(f'input[data-unit="{shown[-1]}"]').input_value())
    assert visit.state("space")["code"][shown[-1]] == pytest.approx(moved, abs=1e-6) and moved > 0.5 * max(
        data["unit_max"][shown[-1]], 0
    )
    visit.assert_quiet()


@pytest.mark.parametrize("family", ["vae", "beta-vae"])
def test_a_vaes_signed_code_has_bars_both_ways_from_a_zero_line_inside_its_axis(browser, runs, family):
    folder = runs(family)
    visit = Visit(browser, folder)
    values, _ = bar_axis(visit)
    assert values[0] < 0 < values[-1] and 0 in values  # the axis spans zero, and zero is a tick
    assert values[0] <= min(page_data(folder)["unit_min"]) and values[-1] >= max(page_data(folder)["unit_max"])
    visit.page.click('.thumb[data-index="4"]')
    code = assert_drawing_matches_pytorch(visit)["code"]
    assert (code < 0).any() and (code > 0).any()
    assert_bars_show(visit, code)  # down from the zero line for a negative unit, up for a positive one
    negative = int(np.flatnonzero(code < 0)[0])
    box = visit.page.locator("#bars").bounding_box()
    visit.page.mouse.move(box["x"] + 1 + (box["width"] - 2) * (negative + 0.5) / len(code), box["y"] + 20)
    value = visit.page.text_content("#bars-value")
    assert value.startswith(f"unit {negative}: -") and float(value.split(": ")[1]) == pytest.approx(
        code[negative], 1e-3
    )
    visit.assert_quiet()
