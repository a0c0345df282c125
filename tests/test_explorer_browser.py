"""explorer.html in a real headless Chromium, used as a person would: strokes with the mouse and a finger,
thumbnails, sliders, the scatter, two picked images and the scrub, the noise slider, a hover on the weights.

After every action the page's own numbers (its input, code and decoded pixels) are compared with the
PyTorch model of the run folder to 1e-4, and the pixels it painted with those numbers; every visit
ends with no console message, no page error, no dialog and no request but the page itself.
Chromium is Debian's /usr/bin/chromium, driven by Playwright (its own browser download is not used).
"""

from __future__ import annotations

import dataclasses

import matplotlib
import numpy as np
import pytest
from browser_pages import (
    CHROMIUM,
    TOLERANCE,
    Visit,
    assert_bars_show,
    assert_drawing_matches_pytorch,
    assert_readout_shows,
    bar_axis,
    control_names,
    decoded,
    painted,
    readout,
    reconstruct,
)
from explorer_runs import page_data, trained_run

import aelab
from aelab.config import TrainConfig
from aelab.data.registry import REGISTRY
from aelab.explorer import explore
from aelab.runs.saved import read_run
from aelab.tasks.train import train_run

pytestmark = pytest.mark.skipif(
    not CHROMIUM.is_file(), reason="/usr/bin/chromium is missing (apt-get install chromium; CI installs it)"
)


@pytest.fixture(scope="module")
def deep(tmp_path_factory):
    run = trained_run(tmp_path_factory, "deep", model="deep")
    explore(run)
    return run


@pytest.fixture(scope="module")
def mnist_test(deep):
    from shared_runs import REAL_DATA_DIR

    return aelab.load_dataset("mnist", REAL_DATA_DIR, progress=False).test_images.reshape(-1, 784)


def test_strokes_with_the_mouse_reconstruct_as_pytorch_does_and_undo_and_clear_work(browser, deep, tmp_path):
    visit = Visit(browser, deep)
    visit.page.click("#clear")
    visit.stroke([(0.25, 0.2), (0.75, 0.2), (0.45, 0.85)])  # a 7
    first = assert_drawing_matches_pytorch(visit)
    assert (first["input"] > 0.5).sum() > 30 and first["input"].min() >= 0 and first["input"].max() <= 1
    assert np.array_equal(visit.red("#pad")[:, 0], painted(first["input"]))  # the canvas shows the drawing
    assert_bars_show(visit, first["code"])
    visit.stroke([(0.3, 0.5), (0.7, 0.5)])  # its bar
    second = assert_drawing_matches_pytorch(visit)
    assert (second["input"] >= first["input"]).all() and (second["input"] > first["input"]).sum() > 10
    visit.page.screenshot(path=str(tmp_path / "drawn.png"), full_page=True)
    assert (tmp_path / "drawn.png").stat().st_size > 50_000
    visit.page.click("#undo")
    assert np.array_equal(visit.state("draw")["input"], first["input"])
    assert_drawing_matches_pytorch(visit)
    visit.page.click("#clear")
    assert not visit.state("draw")["input"].any()
    assert_drawing_matches_pytorch(visit)
    visit.page.click("#undo")
    assert np.array_equal(visit.state("draw")["input"], first["input"])
    visit.assert_quiet()


def test_a_finger_draws_too_on_a_phone_wide_page(browser, deep):
    visit = Visit(browser, deep, width=390, has_touch=True, is_mobile=True)
    assert visit.page.evaluate("document.documentElement.scrollWidth") <= 390  # nothing wider than the phone
    visit.page.click("#clear")
    box = visit.page.locator("#pad").bounding_box()
    touch = visit.context.new_cdp_session(visit.page)
    points = [
        (box["x"] + box["width"] * (0.3 + 0.04 * i), box["y"] + box["height"] * (0.2 + 0.06 * i)) for i in range(11)
    ]
    touch.send(
        "Input.dispatchTouchEvent", {"type": "touchStart", "touchPoints": [{"x": points[0][0], "y": points[0][1]}]}
    )
    for x, y in points[1:]:
        touch.send("Input.dispatchTouchEvent", {"type": "touchMove", "touchPoints": [{"x": x, "y": y}]})
    touch.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})
    state = assert_drawing_matches_pytorch(visit)
    assert (state["input"] > 0.5).sum() > 15
    visit.assert_quiet()


def test_a_thumbnail_loads_its_test_image(browser, deep, mnist_test):
    visit = Visit(browser, deep)
    indices = page_data(deep)["thumbnails"]["indices"]
    visit.page.click('.thumb[data-index="13"]')
    state = assert_drawing_matches_pytorch(visit)
    np.testing.assert_allclose(state["input"], mnist_test[indices[13]], atol=1e-7, rtol=0)
    visit.assert_quiet()


def test_sliders_move_the_code_along_a_principal_direction_or_one_unit(browser, deep):
    visit = Visit(browser, deep)
    directions = page_data(deep)["directions"]
    mean, components = np.array(directions["mean"]), np.array(directions["components"])
    start = visit.state("space")
    np.testing.assert_allclose(start["code"], mean, atol=1e-6)  # the page starts at the mean code
    visit.click_at('input[data-direction="0"]', 0.8)
    value = float(visit.page.locator('input[data-direction="0"]').input_value())
    state = visit.state("space")
    projections = components @ (state["code"] - mean)
    assert value > 0.5 * directions["ranges"][0]
    np.testing.assert_allclose(projections, [value, 0, 0, 0], atol=TOLERANCE)  # along direction 1 only
    np.testing.assert_allclose(state["output"], decoded(visit.model, state["code"]), atol=TOLERANCE, rtol=0)
    assert np.array_equal(visit.red("#space-output")[:, 0], painted(state["output"]))
    before = state["code"]
    visit.click_at('input[data-unit="3"]', 0.9)
    state = visit.state("space")
    unit = float(visit.page.locator('input[data-unit="3"]').input_value())
    assert state["code"][3] == pytest.approx(unit, abs=1e-6) and np.array_equal(
        np.delete(state["code"], 3), np.delete(before, 3)
    )
    np.testing.assert_allclose(state["output"], decoded(visit.model, state["code"]), atol=TOLERANCE, rtol=0)
    assert float(visit.page.locator('input[data-direction="0"]').input_value()) == pytest.approx(
        components[0] @ (state["code"] - mean), abs=(2 * directions["ranges"][0]) / 400
    )  # the other sliders follow
    visit.page.click("#space-from-drawing")
    state = visit.state("space")
    assert np.array_equal(state["code"], visit.state("draw")["code"])
    np.testing.assert_allclose(state["output"], visit.state("draw")["output"], atol=1e-7, rtol=0)
    visit.assert_quiet()


def test_the_code_bars_stand_on_a_printed_axis_and_read_out_each_bars_value(browser, deep):
    visit = Visit(browser, deep)
    data = page_data(deep)
    values, rows = bar_axis(visit)
    step = values[1] - values[0]
    assert len(values) >= 3 and np.allclose(np.diff(values), step) and np.all(np.diff(rows) < 0)  # evenly, upwards
    assert round(step / 10 ** np.floor(np.log10(step)), 9) in (1, 2, 5)  # steps of 1, 2 or 5 × 10^k
    assert values[0] == 0 and values[-1] >= max(data["unit_max"]) > values[-1] - step  # 0 … the test codes' largest
    visit.page.click('.thumb[data-index="9"]')
    code = assert_drawing_matches_pytorch(visit)["code"]
    assert_bars_show(visit, code)  # ReLU codes: every bar up from the zero line at the bottom
    box = visit.page.locator("#bars").bounding_box()
    visit.page.mouse.move(box["x"] + 1 + (box["width"] - 2) * (5.5 / len(code)), box["y"] + box["height"] / 2)
    title = visit.page.get_attribute("#bars", "title")
    assert title == visit.page.text_content("#bars-value") and title.startswith("unit 5: ")
    assert float(title.split(": ")[1]) == pytest.approx(code[5], rel=1e-3, abs=1e-6)  # its value, hovered
    visit.page.focus("#bars")
    visit.page.keyboard.press("ArrowRight")  # the keyboard steps from the last read bar to the next
    assert visit.page.text_content("#bars-value").startswith("unit 6: ")
    visit.page.keyboard.press("End")
    last = visit.page.text_content("#bars-value")
    assert last.startswith(f"unit {len(code) - 1}: ")
    assert float(last.split(": ")[1]) == pytest.approx(code[-1], rel=1e-3, abs=1e-6)
    visit.assert_quiet()


def test_every_control_is_named_and_every_slider_reads_out_the_value_it_is_set_to(browser, deep):
    visit = Visit(browser, deep)
    names = control_names(visit)  # Chromium's own accessibility tree: what a screen reader says
    assert not [element for element, (role, name) in names.items() if not name.strip()]
    sliders = {name for role, name in names.values() if role == "slider"}
    assert {"unit 0", "unit 31", "t"} <= sliders and any(name.startswith("direction 1 (") for name in sliders)
    assert (
        [role for role, _ in names.values()].count("slider")
        == visit.page.locator("input[type=range]").count()
        == 32 + 4 + 1
    )  # units, directions, t
    assert {"clear", "undo", "use the drawing's code"} <= {name for role, name in names.values() if role == "button"}
    for selector in ('input[data-unit="3"]', 'input[data-direction="0"]', "#interp-t"):
        assert_readout_shows(visit, selector)  # from the start
    unit, direction = readout(visit, 'input[data-unit="3"]'), readout(visit, 'input[data-direction="0"]')
    visit.click_at('input[data-unit="3"]', 0.95)
    assert readout(visit, 'input[data-unit="3"]') != unit and readout(visit, 'input[data-direction="0"]') != direction
    for selector in ('input[data-unit="3"]', 'input[data-direction="0"]'):
        assert_readout_shows(visit, selector)  # the moved slider, and one that followed the point
    code, text = visit.state("space")["code"], readout(visit, 'input[data-unit="4"]')  # one that did not move
    assert abs(float(text) - code[4]) <= 0.5 * 10 ** -len(text.partition(".")[2]) + 1e-9  # the code's own value
    visit.page.focus("#interp-t")
    visit.page.keyboard.press("End")
    assert assert_readout_shows(visit, "#interp-t") == "1.00"
    visit.page.keyboard.press("Home")
    assert assert_readout_shows(visit, "#interp-t") == "0.00"
    visit.assert_quiet()


def test_two_picked_images_interpolate_through_their_codes(browser, deep, mnist_test):
    visit = Visit(browser, deep)
    indices = page_data(deep)["thumbnails"]["indices"]
    visit.page.click('.thumb[data-index="2"]')
    visit.page.click("#pick-a")
    visit.page.click('.thumb[data-index="30"]')
    visit.page.click("#pick-b")
    visit.click_at("#interp-t", 0.37)
    state = visit.state("interp")
    a, _ = reconstruct(visit.model, mnist_test[indices[2]])
    b, _ = reconstruct(visit.model, mnist_test[indices[30]])
    t = float(visit.page.locator("#interp-t").input_value())
    assert 0.3 < t < 0.45 and state["t"] == t
    np.testing.assert_allclose(state["a"], a, atol=TOLERANCE, rtol=0)
    np.testing.assert_allclose(state["b"], b, atol=TOLERANCE, rtol=0)
    np.testing.assert_allclose(state["code"], (1 - t) * a + t * b, atol=TOLERANCE, rtol=0)
    np.testing.assert_allclose(state["output"], decoded(visit.model, (1 - t) * a + t * b), atol=TOLERANCE, rtol=0)
    assert np.array_equal(visit.red("#interp-output")[:, 0], painted(state["output"]))
    visit.click_at("#interp-t", 0.9)
    later = visit.state("interp")
    assert later["t"] > 0.85
    np.testing.assert_allclose(later["output"], decoded(visit.model, later["code"]), atol=TOLERANCE, rtol=0)
    visit.assert_quiet()


def test_hovering_a_unit_enlarges_its_weights_on_the_colour_scale_of_weights_png(browser, deep):
    visit = Visit(browser, deep)
    visit.page.hover('.weight[data-unit="5"]')
    assert visit.page.text_content("#weights-unit") == "unit 5"
    weights = read_run(deep).model.first_layer_weights().numpy().astype(np.float64)
    limit = float(np.float32(np.abs(weights).max()))
    level = np.clip(np.floor((weights[5] + limit) / (2 * limit) * 256), 0, 255).astype(int)
    colours = np.rint(matplotlib.colormaps["RdBu_r"](np.linspace(0, 1, 256))[:, :3] * 255)
    assert np.array_equal(visit.red("#weights-enlarged")[:, :3], colours[level])
    assert visit.page.locator(".weight").count() == weights.shape[0]  # every first-layer unit
    visit.assert_quiet()


def test_a_denoisers_noise_slider_corrupts_the_drawing_it_feeds_the_model(browser, tmp_path_factory):
    run = trained_run(tmp_path_factory, "denoising", model="denoising")
    explore(run)
    visit = Visit(browser, run)
    assert not [name for role, name in control_names(visit).values() if not name.strip()]  # "new noise" too
    visit.page.click('.thumb[data-index="7"]')
    noisy = assert_drawing_matches_pytorch(visit)
    drawing = visit.red("#pad")[:, 0]
    assert not np.array_equal(painted(noisy["input"]), drawing)  # trained on noise 0.2: it starts corrupted
    visit.page.focus("#noise")
    visit.page.keyboard.press("Home")  # level 0: the clean drawing
    clean = assert_drawing_matches_pytorch(visit)
    assert np.array_equal(painted(clean["input"]), drawing)
    visit.page.keyboard.press("End")  # level 1
    assert assert_readout_shows(visit, "#noise") == "1.00"
    heavy = assert_drawing_matches_pytorch(visit)
    assert np.abs(heavy["input"] - clean["input"]).mean() > np.abs(noisy["input"] - clean["input"]).mean() > 0.01
    visit.page.click("#new-noise")
    again = assert_drawing_matches_pytorch(visit)
    assert not np.array_equal(again["input"], heavy["input"])
    visit.assert_quiet()


def test_a_2d_code_is_a_scatter_by_class_that_decodes_the_point_under_the_pointer(browser, tmp_path_factory, tmp_path):
    run = trained_run(tmp_path_factory, "code-2", model="shallow", code_size=2)
    explore(run)
    visit = Visit(browser, run)
    assert visit.page.is_visible("#scatter") and not visit.page.is_visible("#directions-block")
    x, y = visit.click_at("#scatter", 0.3, 0.6)
    (lo0, hi0), (lo1, hi1) = visit.page.evaluate("window.aelabExplorer.scatterBounds")
    size = visit.page.locator("#scatter").bounding_box()
    state = visit.state("space")
    expected = [lo0 + x / size["width"] * (hi0 - lo0), hi1 - y / size["height"] * (hi1 - lo1)]
    np.testing.assert_allclose(state["code"], expected, atol=(hi0 - lo0) / size["width"] + (hi1 - lo1) / size["height"])
    np.testing.assert_allclose(state["output"], decoded(visit.model, state["code"]), atol=TOLERANCE, rtol=0)
    box = visit.page.locator("#scatter").bounding_box()
    visit.page.mouse.move(box["x"] + 0.7 * box["width"], box["y"] + 0.2 * box["height"])  # hovering decodes too
    hovered = visit.state("space")
    assert hovered["code"][0] > state["code"][0] and hovered["code"][1] > state["code"][1]
    np.testing.assert_allclose(hovered["output"], decoded(visit.model, hovered["code"]), atol=TOLERANCE, rtol=0)
    palette = {tuple(int(h[i : i + 2], 16) for i in (1, 3, 5)) for h in page_data(run)["palette"]}
    drawn = {tuple(p[:3]) for p in visit.red("#scatter")}
    assert len(drawn & palette) >= 8 and drawn <= palette | {(255, 255, 255), (0, 0, 0)}  # coloured by class
    visit.page.screenshot(path=str(tmp_path / "scatter.png"), full_page=True)
    visit.assert_quiet()


def test_text_from_the_run_folder_is_shown_as_text_never_run(browser, tiny_dataset, tmp_path, monkeypatch):
    root, spec, _ = tiny_dataset
    evil = ("<script>alert(1)</script>", '<img src=x onerror="alert(2)">', *spec.class_names[2:])
    monkeypatch.setitem(REGISTRY, "tiny", dataclasses.replace(spec, class_names=evil))
    folder = tmp_path / "<script>alert(3)</script>"  # a path with a script tag in it
    train_run(
        TrainConfig(dataset="tiny", code_size=2, epochs=1), folder, data_dir=root, quiet=True, log=lambda line: None
    )
    explore(folder, data_dir=root)
    visit = Visit(browser, folder)
    page = visit.page
    assert page.evaluate("document.scripts.length") == 2 and page.evaluate("document.images.length") == 0
    assert page.title() == "aelab explorer: shallow on tiny"
    assert str(folder) in page.text_content("#about")
    legend = page.text_content("#legend")
    assert evil[0] in legend and evil[1] in legend
    titles = page.evaluate("Array.from(document.querySelectorAll('.thumb'), t => t.title).join(' ')")
    assert "<script>alert(1)</script>" in titles or '<img src=x onerror="alert(2)">' in titles
    visit.assert_quiet()  # no alert ran (no dialog), and no policy violation was logged
