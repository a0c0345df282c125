"""The explorer page in headless Chromium, for the browser tests: one Visit per page, and PyTorch's own numbers
to compare the page's with (test_explorer_browser.py, test_explorer_families.py, test_explorer_own_data.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

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
        self.page.locator(selector).scroll_into_view_if_needed()  # a unit's slider may be scrolled out of its list
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


BARS = (90, 560)  # the code bars' canvas: its own rows and columns (page.py)
BAR_BLUE, ZERO_LINE, GRID_LINE = (31, 95, 191), (31, 36, 48), (223, 227, 234)
CONTROLS = "input, select, textarea, button, [role=button], [tabindex]"  # whatever a person can operate or focus


def bar_axis(visit: Visit) -> tuple[np.ndarray, np.ndarray]:
    """The code bars' tick values as the page prints them beside the canvas, and the canvas row each label is
    centred on (its CSS pixels are the canvas' rows: 90 rows in 90 pixels, under a 1-pixel border)."""
    labels = visit.page.evaluate(
        """() => { const canvas = document.querySelector("#bars").getBoundingClientRect();
        return Array.from(document.querySelectorAll("#bars-axis .tick"), tick => {
            const box = tick.getBoundingClientRect();
            return [tick.textContent, box.top + box.height / 2 - canvas.top - 1]; }); }"""
    )
    return np.array([float(text) for text, _ in labels]), np.floor([y for _, y in labels]).astype(int)


def assert_bars_show(visit: Visit, code: np.ndarray) -> None:
    """The code bars on their printed axis: each tick's grid line at its label's row, the zero line across the canvas,
    and unit j's bar, in the middle of its slot, running from the zero line to its value's row (clamped to the axis)."""
    pixels = visit.red("#bars").reshape(*BARS, 4)[:, :, :3]
    values, rows = bar_axis(visit)

    def row(v: float) -> float:
        return float(np.interp(np.clip(v, values[0], values[-1]), values, rows))

    zero = round(row(0.0))
    assert (pixels[zero] == ZERO_LINE).all(axis=1).mean() > 0.99  # a line at zero, over the bars
    for r in rows[rows != zero]:
        assert (pixels[r, 0] == GRID_LINE).all(), r  # column 0: before the first bar
    slot = BARS[1] / len(code)
    for j, value in enumerate(code):
        blue = np.flatnonzero((pixels[:, int((j + 0.5) * slot)] == BAR_BLUE).all(axis=1))
        end = round(row(value))
        expected = np.arange(end, zero) if end < zero else np.arange(zero + 1, end + 1)
        assert abs(len(blue) - len(expected)) <= 1, (j, value, blue, expected)
        assert len(blue) < 2 or abs(blue.mean() - expected.mean()) <= 1, (j, value)  # on the side of zero it is on


def control_names(visit: Visit) -> dict[str, tuple[str, str]]:
    """Every control the page shows (CONTROLS, less those hidden), as Chromium's accessibility tree names it:
    a description of the element → (role, accessible name)."""
    session = visit.context.new_cdp_session(visit.page)
    root = session.send("DOM.getDocument", {"depth": 0})["root"]["nodeId"]
    found = {}
    for node in session.send("DOM.querySelectorAll", {"nodeId": root, "selector": CONTROLS})["nodeIds"]:
        (ax, *_) = session.send("Accessibility.getPartialAXTree", {"nodeId": node, "fetchRelatives": False})["nodes"]
        if ax.get("ignored"):  # hidden (a colour image's clear button, a 2-D code's directions)
            continue
        element = session.send("DOM.describeNode", {"nodeId": node})["node"]
        attributes = dict(zip(element["attributes"][::2], element["attributes"][1::2]))
        label = " ".join(
            f"{k}={v}" for k, v in attributes.items() if k in ("id", "type", "class") or k.startswith("data-")
        )
        found[f"<{element['localName']} {label}> #{node}"] = (ax["role"]["value"], ax.get("name", {}).get("value", ""))
    session.detach()
    return found


def readout(visit: Visit, selector: str) -> str:
    """The value a slider's readout shows beside it."""
    return visit.page.evaluate(
        "s => document.querySelector(s).parentElement.querySelector('.readout').textContent", selector
    )


def assert_readout_shows(visit: Visit, selector: str) -> str:
    """The slider's readout is the value it is set to, to the readout's digits (and the half step the input rounds a
    value it follows to), and it is what a screen reader says of it."""
    text, value = readout(visit, selector), float(visit.page.locator(selector).input_value())
    digits, step = len(text.partition(".")[2]), float(visit.page.get_attribute(selector, "step"))
    assert abs(float(text) - value) <= 0.5 * 10**-digits + 0.5 * step + 1e-12, (selector, text, value)
    assert visit.page.get_attribute(selector, "aria-valuetext") == text
    return text
