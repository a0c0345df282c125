"""TeX math as embedded images, drawn by matplotlib's mathtext: typeset formulas without any network.

MathJax or KaTeX would need a script and fonts from somewhere; mathtext is already installed and
covers the derivation's TeX after a few spellings are mapped (\\lVert → \\|, \\le → \\leq) and
`\\tag{…}` is set beside the equation instead. The image is sized in em from the formula's own
height and depth, so it sits on the text's baseline at any font size. Anything mathtext cannot
parse falls back to its TeX source as code, never to an error.
"""

from __future__ import annotations

import base64
import functools
import html
import io
import re

from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties
from matplotlib.mathtext import MathTextParser

SPELLINGS = [(r"\lVert", r"\Vert "), (r"\rVert", r"\Vert "), (r"\le ", r"\leq "), (r"\ge ", r"\geq ")]
SIZE_PT = {"inline": 12.5, "display": 13.5}
DPI = 200  # crisp on high-density screens; the images are a few kB each
TAG = re.compile(r"\\tag\{([^}]*)\}")


def tex_image(tex: str, mode: str) -> tuple[str, float, float] | None:
    """(PNG data URI, height in em, depth in em) of `tex`, or None if mathtext cannot set it."""
    return _tex_image(normalise(tex), mode)


def normalise(tex: str) -> str:
    tex = " ".join(tex.split()) + " "
    for old, new in SPELLINGS:
        tex = tex.replace(old, new)
    return tex.strip()


@functools.lru_cache(maxsize=1024)
def _tex_image(tex: str, mode: str) -> tuple[str, float, float] | None:
    size = SIZE_PT[mode]
    prop = FontProperties(size=size, math_fontfamily="cm")  # Computer Modern: reads as TeX
    if mode == "display":
        tex = tex.replace(r"\frac", r"\dfrac")  # display style, as TeX sets a displayed fraction
    try:
        width, height, depth, _, _ = MathTextParser("path").parse(f"${tex}$", dpi=72, prop=prop)
        fig = Figure(figsize=(width / 72.0, height / 72.0))
        fig.text(0, depth / height, f"${tex}$", fontproperties=prop)
        buffer = io.BytesIO()
        fig.savefig(buffer, dpi=DPI, format="png", transparent=True)
    except (ValueError, RuntimeError):  # mathtext's parse errors are ValueErrors
        return None
    uri = "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")
    return uri, height / size, depth / size


def math_html(tex: str, mode: str = "inline") -> str:
    """An <img> of the formula (its TeX as alt text), or the TeX as <code> if it cannot be drawn."""
    tag = TAG.search(tex)
    tex = TAG.sub("", tex)
    image = tex_image(tex, mode)
    if image is None:
        element = f'<code class="tex">{html.escape(tex.strip())}</code>'
    else:
        uri, height, depth = image
        element = (
            f'<img class="math" src="{uri}" alt="{html.escape(" ".join(tex.split()))}" '
            f'style="height:{height:.3f}em;vertical-align:{-depth:.3f}em">'
        )
    if mode == "inline":
        return element
    label = f'<span class="tag">({html.escape(tag.group(1))})</span>' if tag else ""
    return f'<div class="equation">{element}{label}</div>'
