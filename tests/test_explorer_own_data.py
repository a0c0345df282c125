"""explorer.html for models trained on your own data (`--dataset PATH`), in headless Chromium: colour images
become an image picker drawn in colour (the noise slider still applies), 1-D samples a line plot of the input
and the reconstruction; values the page shows are in the data's own units (the scaling undone).

The page's numbers are compared with the PyTorch model of the run folder to 1e-4, each visit ends with no console
message and no request but the page itself, and the screenshots are saved in the test's tmp dir.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from browser_pages import TOLERANCE, Visit, painted
from custom_data_files import rgb_images, signals, write_png_folder
from explorer_runs import floats, page_data

from aelab.cli import main
from aelab.explorer import EXPLORER_HTML, explore
from aelab.objectives import output_of

TRAIN = ["--epochs", "2", "--batch-size", "16", "--quiet", "--n-images", "6"]


def page_matches_pytorch(visit: Visit, loss: str) -> dict:
    """The drawing panel's code and reconstruction equal the run's model's for the page's own input."""
    state = visit.state("draw")
    with torch.no_grad():
        code = visit.model.encode(torch.tensor(state["input"], dtype=torch.float32)[None])
        output = output_of(visit.model.decode(code), loss)[0].numpy()
    np.testing.assert_allclose(state["code"], code[0].numpy(), atol=TOLERANCE, rtol=0)
    np.testing.assert_allclose(state["output"], output, atol=TOLERANCE, rtol=0)
    return state


def channels(visit: Visit, selector: str, shape: tuple[int, int]) -> np.ndarray:
    """A canvas' RGB as (3, H, W), the layout of the model's (C, H, W) rows."""
    return visit.red(selector)[:, :3].reshape(*shape, 3).transpose(2, 0, 1)


@pytest.fixture(scope="module")
def rgb_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("rgb")
    images, labels = rgb_images(n=60, size=16)
    folder = write_png_folder(root / "squares", images, labels)
    out = root / "run"
    assert main(["train", "--model", "conv-denoising", "--dataset", str(folder), *TRAIN, "--out", str(out)]) == 0
    explore(out)
    return out


def test_rgb_images_are_picked_not_drawn_shown_in_colour_and_reconstructed_as_pytorch_does(browser, rgb_run, tmp_path):
    out = rgb_run
    data = page_data(out)
    assert data["sample_shape"] == [3, 16, 16] and (out / EXPLORER_HTML).stat().st_size < 5 * 2**20
    visit = Visit(browser, out)
    assert visit.page.text_content("#draw-title") == "Pick a test image" and not visit.page.is_visible("#clear")
    k = data["thumbnails"]["labels"].index(1)  # a green square
    visit.page.click(f'.thumb[data-index="{k}"]')
    visit.page.focus("#noise")
    visit.page.keyboard.press("Home")  # no noise: the model's input is the picked image
    state = page_matches_pytorch(visit, "bce")
    picked = floats(data["thumbnails"]["values"]).reshape(-1, 3 * 16 * 16)[k]
    assert np.array_equal(state["input"], picked)
    assert np.array_equal(channels(visit, "#pad", (16, 16)), painted(picked.reshape(3, 16, 16)))  # in colour
    assert np.array_equal(channels(visit, "#output", (16, 16)), painted(state["output"].reshape(3, 16, 16)))
    assert channels(visit, "#pad", (16, 16))[1].max() > 200 and channels(visit, "#pad", (16, 16))[0].max() < 60
    before = state["input"]
    box = visit.page.locator("#pad").bounding_box()
    visit.page.mouse.move(box["x"] + 10, box["y"] + 10)
    visit.page.mouse.down()
    visit.page.mouse.move(box["x"] + 100, box["y"] + 100, steps=5)
    visit.page.mouse.up()
    assert np.array_equal(visit.state("draw")["input"], before)  # a colour image is picked, not drawn on
    visit.page.keyboard.press("Tab")
    visit.page.focus("#noise")
    visit.page.keyboard.press("End")  # the noise slider still applies
    noisy = page_matches_pytorch(visit, "bce")
    assert np.abs(noisy["input"] - before).mean() > 0.1
    assert np.array_equal(channels(visit, "#input-view", (16, 16)), painted(noisy["input"].reshape(3, 16, 16)))
    visit.page.screenshot(path=str(tmp_path / "rgb.png"), full_page=True)
    visit.assert_quiet()


def test_the_title_and_header_name_your_own_data_by_its_folder_or_file(rgb_run, signal_run, table_run):
    for folder, title in (
        (rgb_run, "conv-denoising on squares"),  # a folder of PNGs
        (signal_run[0], "deep on beats.npz"),
        (table_run, "deep on plant.csv"),
    ):
        page = (folder / EXPLORER_HTML).read_text(encoding="utf-8")
        assert f"<title>aelab explorer: {title}</title>" in page and str(folder.parent) not in page.split("<body>")[0]
        assert page_data(folder)["meta"]["dataset"] == title.split(" on ")[1]  # the page's own header says it too


@pytest.fixture(scope="module")
def signal_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("signals")
    x, labels = signals()
    np.savez(root / "beats.npz", x_train=x[:100], y_train=labels[:100], x_test=x[100:], y_test=labels[100:])
    out = root / "run"
    assert main(["train", "--model", "deep", "--dataset", str(root / "beats.npz"), *TRAIN, "--out", str(out)]) == 0
    explore(out)
    return out, x[100:]


def test_1d_samples_are_line_plots_in_their_own_units_reconstructed_as_pytorch_does(browser, signal_run, tmp_path):
    out, raw_test = signal_run
    data = page_data(out)
    assert data["sample_shape"] == [50] and data["scaling"]["method"] == "standard" and data["meta"]["loss"] == "mse"
    visit = Visit(browser, out)
    assert "standard-scaled data, shown in its own units" in visit.page.text_content("#about")
    visit.page.click('.thumb[data-index="3"]')
    state = page_matches_pytorch(visit, "mse")  # MSE: the decoder's output itself, no sigmoid
    shown = np.asarray(
        visit.page.evaluate("values => window.aelabExplorer.shownValues(values)", state["input"].tolist())
    )
    np.testing.assert_allclose(
        shown, raw_test[data["thumbnails"]["indices"][3]], atol=TOLERANCE
    )  # the data's own values
    lo, hi = data["signal_range"]
    assert lo < -2 and hi > 2  # the plots' axis: the signals' amplitude ~3, not the scaled values
    plotted = visit.red("#output").reshape(120, 240, 4)[:, :, :3].astype(int)
    blue = plotted[:, :, 2] - plotted[:, :, 0] > 60  # the reconstruction's line (antialiased: any clearly blue pixel)
    assert blue[:, 3:-3].any(axis=0).all()  # it runs across the whole plot
    grey = (np.ptp(plotted, axis=2) < 30) & (plotted[:, :, 0] < 230)
    assert grey.any(axis=0).mean() > 0.5  # the input behind it, in grey
    visit.click_at('input[data-direction="0"]', 0.8)
    space = visit.state("space")
    with torch.no_grad():
        expected = visit.model.decode(torch.tensor(space["code"], dtype=torch.float32)[None])[0].numpy()
    np.testing.assert_allclose(space["output"], expected, atol=TOLERANCE, rtol=0)
    assert visit.page.locator(".weight").count() == visit.model.first_layer_weights().shape[0]
    visit.page.screenshot(path=str(tmp_path / "signal.png"), full_page=True)
    visit.assert_quiet()


@pytest.fixture(scope="module")
def table_run(tmp_path_factory):
    """A CSV with named columns on very different scales (one column ~1,000× the rest) and a label column."""
    root = tmp_path_factory.mktemp("table")
    x, labels = signals(100, 12)
    x[:, 3] *= 1000
    names = [f"sensor_{j}" for j in range(12)]
    rows = [",".join([*names, "target"])] + [",".join([*(f"{v:g}" for v in r), str(y)]) for r, y in zip(x, labels)]
    (root / "plant.csv").write_text("\n".join(rows) + "\n")
    out = root / "run"
    argv = ["train", "--model", "deep", "--dataset", str(root / "plant.csv"), "--label-column", "target"]
    assert main([*argv, *TRAIN, "--out", str(out)]) == 0
    explore(out)
    return out


def test_table_rows_are_bars_per_named_column_in_the_models_units(browser, table_run, tmp_path):
    data = page_data(table_run)
    assert data["kind"] == "table" and data["columns"] == [f"sensor_{j}" for j in range(12)]
    assert data["scaling"] is None and data["weights"]["values"] is None  # model units; weights not embedded twice
    lo, hi = data["signal_range"]
    assert -10 < lo and hi < 10  # standardised: the 1,000× column does not flatten the rest
    visit = Visit(browser, table_run)
    assert visit.page.text_content("#thumbnails-title") == "Test rows"
    assert "standard-scaled units" in visit.page.text_content("#about")
    visit.page.click('.thumb[data-index="2"]')
    page_matches_pytorch(visit, "mse")
    box = visit.page.locator("#output").bounding_box()
    visit.page.mouse.move(box["x"] + box["width"] * (3.5 / 12), box["y"] + box["height"] / 2)
    assert visit.page.get_attribute("#output", "title").startswith("sensor_3: ")  # the column under the pointer
    assert "bars, one per column" in visit.page.text_content("#weights-hint")
    visit.page.screenshot(path=str(tmp_path / "table.png"), full_page=True)
    visit.assert_quiet()
