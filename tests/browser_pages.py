"""The explorer page in headless Chromium, for the browser tests: one Visit per page, and PyTorch's own numbers
to compare the page's with (test_explorer_browser.py, test_explorer_families.py, test_explorer_own_data.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from explorer_runs import page_data

from aelab.explorer import EXPLORER_HTML
from aelab.runs.saved import read_run

CHROMIUM = Path("/usr/bin/chromium")
TOLERANCE = 1e-4


class Visit:
    """One page opened in its own browser context, with everything it said and asked for recorded."""

    def __init__(self, browser, folder: Path, width: int = 1400, **options):
        self.folder, self.url = folder, (folder / EXPLORER_HTML).as_uri()
        self.context = browser.new_context(viewport={"width": width, "height": 1100}, **options)
        self.page = self.context.new_page()
        self.console, self.requests, self.dialogs = [], [], []
        self.page.on("console", lambda message: self.console.append(f"{message.type}: {message.text}"))
        self.page.on("pageerror", lambda error: self.console.append(f"page error: {error}"))
        self.page.on("request", lambda request: self.requests.append(request.url))
        self.page.on("dialog", lambda dialog: (self.dialogs.append(dialog.message), dialog.dismiss()))
        self.page.goto(self.url)
        self.page.wait_for_selector("body[data-ready=true]", timeout=15_000)
        self.model = read_run(folder).model

    def state(self, panel: str) -> dict:
        """The page's last numbers for a panel (draw, space, interp), as float64 arrays."""
        values = self.page.evaluate(
            """panel => Object.fromEntries(Object.entries(window.aelabExplorer.state[panel])
            .map(([key, value]) => [key, typeof value === "number" ? value : Array.from(value)]))""",
            panel,
        )
        return {key: np.asarray(value, dtype=np.float64) for key, value in values.items()}

    def red(self, selector: str) -> np.ndarray:
        """The red channel of a canvas' pixels (its own resolution, not the enlarged view)."""
        # copied onto a canvas of the test's own, made for reading, so the page's canvases stay as the page uses them
        return np.asarray(
            self.page.evaluate(
                """selector => {
            const shown = document.querySelector(selector), copy = document.createElement("canvas");
            [copy.width, copy.height] = [shown.width, shown.height];
            const ctx = copy.getContext("2d", { willReadFrequently: true });
            ctx.drawImage(shown, 0, 0);
            return Array.from(ctx.getImageData(0, 0, copy.width, copy.height).data); }""",
                selector,
            )
        ).reshape(-1, 4)

    def click_at(self, selector: str, fx: float, fy: float = 0.5) -> tuple[float, float]:
        """Click at a fraction of an element's box, as a person would; returns where, in the element's CSS pixels."""
        box = self.page.locator(selector).bounding_box()
        self.page.mouse.click(box["x"] + fx * box["width"], box["y"] + fy * box["height"])
        return fx * box["width"], fy * box["height"]

    def stroke(self, points: list[tuple[float, float]]) -> None:
        """A mouse stroke through `points`, given as fractions of the drawing canvas."""
        box = self.page.locator("#pad").bounding_box()
        at = [(box["x"] + fx * box["width"], box["y"] + fy * box["height"]) for fx, fy in points]
        self.page.mouse.move(*at[0])
        self.page.mouse.down()
        for point in at[1:]:
            self.page.mouse.move(*point, steps=4)
        self.page.mouse.up()

    def assert_quiet(self) -> None:
        assert self.console == [] and self.dialogs == []
        assert self.requests == [self.url]  # the page itself; nothing else was fetched
        self.context.close()


def reconstruct(model, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """PyTorch's code and pixels for one input."""
    with torch.no_grad():
        code = model.encode(torch.tensor(x, dtype=torch.float32)[None])
        return code[0].numpy(), torch.sigmoid(model.decode(code))[0].numpy()


def decoded(model, code: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        return torch.sigmoid(model.decode(torch.tensor(code, dtype=torch.float32)[None]))[0].numpy()


def painted(pixels: np.ndarray) -> np.ndarray:
    """The grey level the page paints for each pixel value: Math.round(255 · clamp(v, 0, 1))."""
    return np.floor(255 * np.clip(pixels, 0, 1) + 0.5)


def assert_drawing_matches_pytorch(visit: Visit) -> dict:
    state = visit.state("draw")
    code, pixels = reconstruct(visit.model, state["input"])
    np.testing.assert_allclose(state["code"], code, atol=TOLERANCE, rtol=0)
    np.testing.assert_allclose(state["output"], pixels, atol=TOLERANCE, rtol=0)
    assert np.array_equal(visit.red("#output")[:, 0], painted(state["output"]))
    return state


def assert_bars_show(visit: Visit, code: np.ndarray) -> None:
    """The code bars: unit j's bar, in the middle of its slot, is as tall as its value on the scale of the largest."""
    pixels = visit.red("#bars").reshape(90, 560, 4)[:, :, :3]  # the canvas' own size (page.py)
    scale = max(page_data(visit.folder)["unit_max"])
    slot = 560 / len(code)
    for j, value in enumerate(code):
        column = pixels[:, int(j * slot + slot / 2)]
        blue = (column == (31, 95, 191)).all(axis=1).sum()
        assert abs(blue - min(1, value / scale) * 88) <= 1.5, (j, value, blue)
